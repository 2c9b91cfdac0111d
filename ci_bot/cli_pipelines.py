"""``ci-bot run``, ``resume``, ``show``, ``reset``, ``skip``, ``unskip`` and ``archive``
(``cancel`` is ``cli_cancel.py``).

``run`` and ``resume`` drive a pipeline in the foreground (``cli_drive.py``); the
others write a person's wish to the store, where whichever process runs the
engine honours it.  What only ``run`` and ``show`` need (the engine's launch, the
live view) is imported in them: ``reset`` or ``skip`` should not pay for it.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ci_bot.cli_changes import base_option, changed_option, run_changes
from ci_bot.cli_common import (
    actor,
    control,
    driving_services,
    node_or_fail,
    pipeline_or_fail,
    services,
)
from ci_bot.cli_events import check_event, event_from, event_options
from ci_bot.engine import control as wishes
from ci_bot.errors import CiBotError, ConfigError
from ci_bot.text import KEEP_LINES, printable

if TYPE_CHECKING:
    from ci_bot.services import Services
    from ci_bot.tree.select import Event


@click.command()
@click.argument("repo_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--event",
    "event_name",
    callback=check_event,
    metavar="EVENT",
    default="push",
    show_default=True,
    help="The event to run for: pr, push, create-branch, create-tag, cron, …",
)
@event_options(
    sha_help="Run this commit of the repository (a sha, branch or tag) instead of its "
    "working tree as it is now.",
    defaults=" Default: the branch checked out; the repository: the directory's name.",
)
@click.option(
    "--at",
    "cron_minute",
    type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]),
    default=None,
    help="cron: the minute (UTC) a schedule fires; only entries that fire then match.",
)
@base_option
@changed_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def run(
    repo_dir: Path,
    event_name: str,
    cron_minute: datetime | None,
    as_json: bool,
    base: str,
    changed: tuple[str, ...],
    **values: str,
) -> None:
    """Run a repository's pipeline now, here, with a live tree; exit 0 done, 1 error.

    Its working tree is run as it is, uncommitted changes too (the pipeline is then
    marked dirty); --sha runs a commit instead. Ctrl-C cancels it (exit 130)."""
    svc = driving_services()
    values["branch"] = values["branch"] or _current_branch(repo_dir)
    # --sha names the commit to run; the event's sha is then that commit's full id
    sha = values.pop("sha")
    event = event_from(event_name, values, cron_minute)
    changes = run_changes(repo_dir, base, changed)
    if changes is not None:
        event = dataclasses.replace(event, changes=changes)
    pipeline_id = launch_or_fail(svc, repo_dir, event, at=sha)
    from ci_bot.cli_drive import drive

    drive(svc, pipeline_id, as_json)


def launch_or_fail(svc: Services, repo_dir: Path, event: Event, *, at: str = "") -> int:
    """Store the pipeline ``event`` selects in ``repo_dir`` (at commit ``at``); a broken
    config's problems exit 2, no pipeline or no such commit exit 1."""
    from ci_bot.engine.launch import NoPipeline, launch_local

    try:
        return launch_local(svc.store, svc.settings, svc.executor, repo_dir, event, at=at)
    except ConfigError as error:
        for problem in error.problems:  # a problem quotes the file, controls and all
            click.echo(printable(str(problem)), err=True)
        sys.exit(2)
    except (NoPipeline, CiBotError) as error:  # its lines stay lines
        raise click.ClickException(printable(str(error), keep=KEEP_LINES)) from None


@click.command()
@click.argument("pipeline_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def resume(pipeline_id: int, as_json: bool) -> None:
    """Continue a pipeline in the foreground (after a reset, or when its engine died).
    Ctrl-C cancels it (exit 130)."""
    from ci_bot.cli_drive import drive

    svc = driving_services()
    pipeline_or_fail(svc, pipeline_id)
    drive(svc, pipeline_id, as_json)


@click.command()
@click.argument("pipeline_id", type=int, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the pipeline as one JSON object.")
def show(pipeline_id: int | None, as_json: bool) -> None:
    """Show a pipeline: its tree and states, or the JSON object. Without an id: the
    latest pipelines, as `ci-bot list` shows them."""
    if pipeline_id is None:
        from ci_bot.cli_browse import list_pipelines

        click.get_current_context().invoke(list_pipelines, as_json=as_json)
        return
    from ci_bot.console import LiveView
    from ci_bot.store.views import pipeline_json

    svc = services()
    pipeline_or_fail(svc, pipeline_id)
    if as_json:
        click.echo(json.dumps(pipeline_json(svc.store, pipeline_id), indent=2))
        return
    for line in LiveView(svc.store, pipeline_id, sys.stdout, tty=False).render():
        click.echo(line)


@click.command()
@click.argument("pipeline_id", type=int)
@click.argument("node_path")
@click.option(
    "--run",
    "command",
    metavar="CMD",
    default=None,
    help="The Exec runs this command from now on (the change is kept on its next execution).",
)
def reset(pipeline_id: int, node_path: str, command: str | None) -> None:
    """Run a node (and everything below it) again, on the pipeline's own snapshot of the
    source; the pipeline continues from there. A fix committed since needs `ci-bot rerun`."""
    svc = services()
    node_or_fail(svc, pipeline_id, node_path)
    old = None if command is None else _command_to_replace(svc, pipeline_id, node_path, command)
    paths = control(lambda: svc.store.reset(pipeline_id, node_path, actor(), command))
    click.echo(f"reset {node_path}: {len(paths)} Exec{'s' if len(paths) != 1 else ''} to run again")
    if command is not None and command != old:
        click.echo(f"{node_path} now runs: {command}  (was: {old})")
    _hint(svc, pipeline_id)


def _command_to_replace(svc: Services, pipeline_id: int, path: str, command: str) -> str:
    """The command ``path`` runs now; exit 1 saying why when ``command`` cannot replace it."""
    _refuse(lambda: wishes.command_refusal(svc.store, pipeline_id, path, command))
    node = svc.store.tree(pipeline_id).find(path)
    return (node.run if node is not None else None) or ""


@click.command()
@click.argument("pipeline_id", type=int)
@click.argument("node_path")
def skip(pipeline_id: int, node_path: str) -> None:
    """Skip a node that has not run (a gate)."""
    svc = services()
    node_or_fail(svc, pipeline_id, node_path)
    _refuse(lambda: wishes.skip_refusal(svc.store, pipeline_id, node_path))
    control(lambda: svc.store.set_skip(pipeline_id, node_path, True, actor=actor()))
    click.echo(f"skipped {node_path}")


@click.command()
@click.argument("pipeline_id", type=int)
@click.argument("node_path")
def unskip(pipeline_id: int, node_path: str) -> None:
    """Let a skipped node run."""
    svc = services()
    node_or_fail(svc, pipeline_id, node_path)
    _refuse(lambda: wishes.unskip_refusal(svc.store, pipeline_id, node_path))
    control(lambda: svc.store.set_skip(pipeline_id, node_path, False, actor=actor()))
    click.echo(f"unskipped {node_path}")
    _hint(svc, pipeline_id)


def _refuse(refusal: Callable[[], str | None]) -> None:
    """Stop with the reason when the wish would change nothing (exit 1, store untouched)."""
    reason = control(refusal)
    if reason is not None:
        raise click.ClickException(reason)


@click.command()
def archive() -> None:
    """Archive pipelines finished more than CI_BOT_RETENTION_DAYS ago (serve does it hourly)."""
    from ci_bot.retention import archive_old

    svc = services()
    archived = archive_old(svc.store, svc.settings, executor=svc.executor)
    days = svc.settings.retention_days
    click.echo(f"archived {len(archived)} pipeline(s) finished more than {days} days ago")


def _hint(svc: Services, pipeline_id: int) -> None:
    from ci_bot.store.store import utcnow

    pipeline = svc.store.pipeline(pipeline_id)
    if pipeline.lease_until is None or pipeline.lease_until < utcnow():
        click.echo(f"no engine is driving it now: `ci-bot resume {pipeline_id}` continues it here")


def _current_branch(repo_dir: Path) -> str:
    head = repo_dir / ".git" / "HEAD"
    try:
        text = head.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return text.removeprefix("ref: refs/heads/") if text.startswith("ref: ") else ""
