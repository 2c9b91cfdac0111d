"""Comment commands and who may give them — pure, so Slack can share the model.

A command is a line that starts with it (up to three spaces of indent, as in
markdown); lines inside fenced or indented code blocks and quoted lines are
ignored, so pasting a log that mentions ``/rerun`` does nothing.

- ``/rerun``            reset the failed nodes of the latest pipeline for the head
- ``/rerun all``        start a new pipeline at the head
- ``/rerun NODE_PATH``  reset that node (and what is below it)
- ``/ok-to-test``       let a pull request from a fork run, pinned to its current head

Only people whose role on the repository is write, maintain or admin may command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COMMAND_ROLES = ("write", "maintain", "admin")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_COMMAND = re.compile(r"^ {0,3}(/rerun|/ok-to-test)(?:[ \t]+(\S+))?[ \t]*$")
_PATH = re.compile(r"/?[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*/?")


@dataclass(frozen=True)
class Command:
    name: str  # "rerun" | "rerun-all" | "rerun-node" | "ok-to-test"
    path: str = ""  # for rerun-node: "/test/unit"

    def __str__(self) -> str:
        return {
            "rerun": "/rerun",
            "rerun-all": "/rerun all",
            "rerun-node": f"/rerun {self.path}",
            "ok-to-test": "/ok-to-test",
        }[self.name]


def parse_commands(body: str) -> list[Command]:
    """The commands in a comment, in order, each at most once."""
    found: list[Command] = []
    fence: str | None = None
    for line in body.splitlines():
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1) == fence:
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        if line.startswith("    ") or line.startswith("\t") or line.lstrip().startswith(">"):
            continue  # indented code and quotes
        command = _command(line)
        if command is not None and command not in found:
            found.append(command)
    return found


def _command(line: str) -> Command | None:
    match = _COMMAND.match(line.rstrip("\r"))
    if match is None:
        return None
    word, argument = match.group(1), match.group(2)
    if word == "/ok-to-test":
        return Command("ok-to-test") if argument is None else None
    if argument is None:
        return Command("rerun")
    if argument == "all":
        return Command("rerun-all")
    if _PATH.fullmatch(argument):
        return Command("rerun-node", "/" + argument.strip("/"))
    return None


def may_command(role: str) -> bool:
    """Whether a person with this role on the repository may give commands."""
    return role in COMMAND_ROLES


def refusal(user: str, repo: str, command: Command) -> str:
    """The polite answer to someone who may not command."""
    return (
        f"@{user}, thanks — but only people with write, maintain or admin permission on "
        f"{repo} can use `{command}`. Please ask one of them to comment it for you."
    )
