"""One trust decision per pipeline, and every privilege granted from it, here and only here.

A pipeline is the owner's (a push, a tag, a pull request from a branch of the
repository itself, a cron run, a local ``ci-bot run``) or a fork's: a pull request
from a fork, which runs only once someone with write access said ``/ok-to-test``
on its exact head commit ("approved") and is still never owner-trusted. Its code
is a stranger's, so nothing of the operator's may reach it:

| privilege                          | owner | fork (approved) |
|------------------------------------|-------|-----------------|
| secrets                            | yes   | no              |
| the Docker socket (requires_docker)| if the operator allows it | never |
| registry credentials               | yes   | no (anonymous pulls) |
| the repository's shared $CI_CACHE  | read and write | a cache of its own, per pull request |
| signing with the bot's key         | yes   | no              |
| reuse (taking or offering outputs) | yes   | no              |
| passing a gate (unskip)            | yes   | no              |
| publishing a release (`release`)   | yes   | no              |

The engine, the executor's spec, the artifacts step, the controls and the CLI
all ask :func:`privileges_of`; none decides on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ci_bot.store.records import Pipeline


class Trust(StrEnum):
    OWNER = "owner"
    FORK = "fork"


@dataclass(frozen=True)
class Privileges:
    trust: Trust
    secrets: bool
    docker_socket: bool  # still only when the operator allows it (CI_BOT_ALLOW_DOCKER_SOCKET)
    registry_credentials: bool
    shared_cache: bool
    signing: bool
    reuse: bool
    gates: bool
    releases: bool


OWNER = Privileges(Trust.OWNER, True, True, True, True, True, True, True, True)
FORK = Privileges(Trust.FORK, False, False, False, False, False, False, False, False)

REFUSED = {
    "secrets": "secrets are never given to pull requests from forks",
    "docker_socket": "the Docker socket is never given to pull requests from forks",
    "signing": "not signed: a fork's pipeline never uses the bot's signing key",
    "gates": "a fork's pipeline never passes a gate: start an owner's pipeline to release",
    "releases": "release: not published: a fork's pipeline never publishes a release",
}


def privileges_of(pipeline: Pipeline) -> Privileges:
    """What ``pipeline`` may have: all of it for the owner's, none of it for a fork's."""
    return OWNER if pipeline.trusted else FORK


def trust_of(pipeline: Pipeline) -> Trust:
    return privileges_of(pipeline).trust
