"""``ci-bot rerun ID [--at REF]``: a pipeline run again as a new pipeline.

A reset runs a pipeline's own snapshot again; a fix committed since needs a new
pipeline, and ``rerun --at REF`` makes one: for a local run from REF of the
directory it was run from, for a GitHub pipeline through the webhooks' launch
path (mirror, config at the commit, duplicate policy, check runs), as the UI's
*Rerun* does.  Without ``--at`` it runs the same source again.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ci_bot.cli_common import actor, driving_services, pipeline_or_fail
from ci_bot.cli_drive import drive
from ci_bot.cli_pipelines import launch_or_fail
from ci_bot.engine.launch import LOCAL_DIR_META
from ci_bot.engine.relaunch import SnapshotGone, relaunch
from ci_bot.errors import CiBotError
from ci_bot.services import Services
from ci_bot.store.records import Pipeline
from ci_bot.tree.select import Event

if TYPE_CHECKING:
    from ci_bot.github.bot import GitHubBot


@click.command()
@click.argument("pipeline_id", type=int)
@click.option(
    "--at",
    "ref",
    default="",
    metavar="REF",
    help="The commit to run (a sha, branch, tag or HEAD): of the directory a local run "
    "came from; for a GitHub pipeline, HEAD is its branch's (or pull request's) newest "
    "commit. Default: the pipeline's own source again.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def rerun(pipeline_id: int, ref: str, as_json: bool) -> None:
    """Run a pipeline again as a new pipeline, on the same or a newer commit, here with a
    live tree (Ctrl-C cancels it). A reset reruns the old snapshot; this picks up a fix."""
    from ci_bot.github import manual  # GitHub's modules only when a command needs them

    svc = driving_services()
    old = pipeline_or_fail(svc, pipeline_id)
    if manual.rerun_of(svc.store, old, actor()) is not None:
        new_id = _rerun_from_github(svc, old, ref)
    else:
        new_id = _rerun_local(svc, old, ref)
    svc.store.set_meta(new_id, manual.RERUN_META, old.id)
    svc.store.set_meta(new_id, manual.BY_META, actor())
    new = svc.store.pipeline(new_id)
    click.echo(f"pipeline {new_id} reruns pipeline {old.id} at {_commit(new)}", err=as_json)
    drive(svc, new_id, as_json)


def _rerun_local(svc: Services, old: Pipeline, ref: str) -> int:
    """A local run again: ``ref`` of its directory, or (no ``ref``) its own snapshot."""
    directory = svc.store.meta(old.id).get(LOCAL_DIR_META)
    if not ref:
        try:
            new_id = relaunch(svc.store, svc.settings, svc.executor, old)
        except (SnapshotGone, CiBotError) as error:
            raise click.ClickException(str(error)) from None
        if directory:  # so that a rerun of the rerun finds it too
            svc.store.set_meta(new_id, LOCAL_DIR_META, directory)
        return new_id
    if not directory or not Path(directory).is_dir():
        raise click.ClickException(
            f"pipeline {old.id} does not say which directory it was run from (or it is gone); "
            f"`ci-bot run DIR --sha {ref}` runs that commit"
        )
    event = Event(
        old.event,
        branch=old.branch,
        base_branch=old.base_branch,
        tag=old.tag,
        pr=old.pr,
        repo=old.repo,
    )
    return launch_or_fail(svc, Path(directory), event, at=ref)


def _rerun_from_github(svc: Services, old: Pipeline, ref: str) -> int:
    """Through the launch path every GitHub pipeline takes, as the queue would run it."""
    from ci_bot.github import manual
    from ci_bot.github.dispatch import handle_delivery

    run = manual.rerun_of(svc.store, old, actor())
    assert run is not None
    if ref != "HEAD":  # HEAD: the branch's (or pull request's) newest commit
        run = dataclasses.replace(run, sha=ref or old.sha)
    delivery = f"{manual.SOURCE}:{uuid.uuid4().hex}"
    payload = json.dumps(run.payload(), separators=(",", ":"))
    svc.store.record_delivery(delivery, manual.SOURCE, run.event, payload)
    handle_delivery(_github_bot(svc), delivery)
    new_id = manual.launched_pipeline(svc.store, delivery)
    if new_id is None:
        outcome = svc.store.delivery(delivery)
        raise click.ClickException(f"no new pipeline: {outcome.outcome}")
    return new_id


def _github_bot(svc: Services) -> GitHubBot:
    """The bot ``ci-bot serve`` has (same mirrors, API and masking), for this one launch."""
    from ci_bot.git import Mirrors
    from ci_bot.github.bot import GitHubBot, make_mask
    from integrations.github.api import make_api

    mirrors = Mirrors(svc.settings.data_dir / "mirrors")
    return GitHubBot(svc, make_api(svc.settings), mirrors, make_mask(svc.secrets))


def _commit(pipeline: Pipeline) -> str:
    if not pipeline.sha:
        return "its own snapshot"
    return pipeline.sha[:12] + (" (with uncommitted changes)" if pipeline.dirty else "")
