"""``ci-bot run``, ``show``, ``reset``, ``skip``, ``unskip``, ``cancel`` and ``resume``.

``run`` and ``resume`` drive a pipeline in the foreground; the others write a
person's wish to the store, where whichever process runs the engine honours it.
"""

from __future__ import annotations

import getpass
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from ci_bot.console import LiveView, failure_report
from ci_bot.engine import control
from ci_bot.engine.launch import NoPipeline, launch_local
from ci_bot.errors import CiBotError, ConfigError
from ci_bot.progress import collecting_progress
from ci_bot.services import Services, open_services
from ci_bot.settings import Settings
from ci_bot.store.records import Pipeline
from ci_bot.store.store import NotFound, utcnow
from ci_bot.store.views import pipeline_json
from ci_bot.tree.durations import format_duration
from ci_bot.tree.select import Event
from ci_bot.tree.states import State

T = TypeVar("T")


def services() -> Services:
    try:
        return open_services(Settings.from_env())
    except CiBotError as error:
        raise click.ClickException(str(error)) from None


@click.command()
@click.argument("repo_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--event", "event_name", default="push", show_default=True)
@click.option("--branch", default="", help="Default: the checked-out branch.")
@click.option("--pr", default="")
@click.option("--tag", default="")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def run(repo_dir: Path, event_name: str, branch: str, pr: str, tag: str, as_json: bool) -> None:
    """Run a repository's pipeline now, here, with a live tree; exit 0 done, 1 error."""
    svc = services()
    event = Event(name=event_name, branch=branch or _current_branch(repo_dir), pr=pr, tag=tag)
    try:
        pipeline_id = launch_local(svc.store, svc.settings, svc.executor, repo_dir, event)
    except ConfigError as error:
        for problem in error.problems:
            click.echo(str(problem), err=True)
        sys.exit(2)
    except (NoPipeline, CiBotError) as error:
        raise click.ClickException(str(error)) from None
    _drive(svc, pipeline_id, as_json)


@click.command()
@click.argument("pipeline_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def resume(pipeline_id: int, as_json: bool) -> None:
    """Continue a pipeline in the foreground (after a reset, or when its engine died)."""
    svc = services()
    _pipeline_or_fail(svc, pipeline_id)
    _drive(svc, pipeline_id, as_json)


def _drive(svc: Services, pipeline_id: int, as_json: bool) -> None:
    tty = sys.stdout.isatty() and not as_json
    view = LiveView(svc.store, pipeline_id, sys.stderr if as_json else sys.stdout, tty=tty)
    result: list[Pipeline] = []
    worker = threading.Thread(
        target=lambda: result.append(svc.engine.run_until_settled(pipeline_id)), daemon=True
    )
    worker.start()
    try:
        with collecting_progress() as progress:
            while worker.is_alive():
                if not as_json:
                    view.show_progress(progress.take())
                    view.update()
                worker.join(0.2)
    except KeyboardInterrupt:
        svc.store.cancel(pipeline_id, actor="ctrl-c")
        click.echo("\ncancelling: killing the running containers…", err=True)
        worker.join()
    if not result:
        raise click.ClickException("the engine stopped unexpectedly; see the log above")
    _finish(svc, result[0], view, as_json)


def _finish(svc: Services, pipeline: Pipeline, view: LiveView, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(pipeline_json(svc.store, pipeline.id), indent=2))
    else:
        view.update()
        for line in failure_report(svc.store, pipeline.id):
            click.echo(line)
        took = format_duration(
            ((pipeline.finished_at or utcnow()) - pipeline.created_at).total_seconds()
        )
        click.echo(f"pipeline {pipeline.id} {pipeline.state.value} in {took}")
        if pipeline.state is not State.DONE:
            failed = control.failed_execs(svc.store, pipeline.id)
            path = failed[0] if len(failed) == 1 else "NODE_PATH"
            # The pipeline keeps the source it was launched with: a reset runs it again.
            click.echo(
                f"fix the cause, then `ci-bot reset {pipeline.id} {path}` and "
                f"`ci-bot resume {pipeline.id}`; a fix to the code needs a new `ci-bot run`"
            )
    sys.exit(0 if pipeline.state is State.DONE else 1)


@click.command()
@click.argument("pipeline_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def show(pipeline_id: int, as_json: bool) -> None:
    """Show a pipeline: its tree and states, or the JSON object."""
    svc = services()
    _pipeline_or_fail(svc, pipeline_id)
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
    """Run a node (and everything below it) again; the pipeline continues from there."""
    svc = services()
    old = None if command is None else _command_to_replace(svc, pipeline_id, node_path, command)
    paths = _control(lambda: svc.store.reset(pipeline_id, node_path, _actor(), command))
    click.echo(f"reset {node_path}: {len(paths)} Exec{'s' if len(paths) != 1 else ''} to run again")
    if command is not None and command != old:
        click.echo(f"{node_path} now runs: {command}  (was: {old})")
    _hint(svc, pipeline_id)


def _command_to_replace(svc: Services, pipeline_id: int, path: str, command: str) -> str:
    """The command ``path`` runs now; exit 1 saying why when ``command`` cannot replace it."""
    _refuse(lambda: control.command_refusal(svc.store, pipeline_id, path, command))
    node = svc.store.tree(pipeline_id).find(path)
    return (node.run if node is not None else None) or ""


@click.command()
@click.argument("pipeline_id", type=int)
@click.argument("node_path")
def skip(pipeline_id: int, node_path: str) -> None:
    """Skip a node that has not run (a gate)."""
    svc = services()
    _refuse(lambda: control.skip_refusal(svc.store, pipeline_id, node_path))
    _control(lambda: svc.store.set_skip(pipeline_id, node_path, True, actor=_actor()))
    click.echo(f"skipped {node_path}")


@click.command()
@click.argument("pipeline_id", type=int)
@click.argument("node_path")
def unskip(pipeline_id: int, node_path: str) -> None:
    """Let a skipped node run."""
    svc = services()
    _refuse(lambda: control.unskip_refusal(svc.store, pipeline_id, node_path))
    _control(lambda: svc.store.set_skip(pipeline_id, node_path, False, actor=_actor()))
    click.echo(f"unskipped {node_path}")
    _hint(svc, pipeline_id)


@click.command()
@click.argument("pipeline_id", type=int)
def cancel(pipeline_id: int) -> None:
    """Cancel a pipeline: pending nodes never run, running containers are killed."""
    svc = services()
    _refuse(lambda: control.cancel_refusal(svc.store, pipeline_id))
    _control(lambda: svc.store.cancel(pipeline_id, actor=_actor()))
    click.echo(f"cancelled pipeline {pipeline_id}")


def _refuse(refusal: Callable[[], str | None]) -> None:
    """Stop with the reason when the wish would change nothing (exit 1, store untouched)."""
    reason = _control(refusal)
    if reason is not None:
        raise click.ClickException(reason)


@click.command()
def archive() -> None:
    """Archive pipelines finished more than CI_BOT_RETENTION_DAYS ago (serve does it hourly)."""
    from ci_bot.retention import archive_old

    svc = services()
    archived = archive_old(svc.store, svc.settings)
    days = svc.settings.retention_days
    click.echo(f"archived {len(archived)} pipeline(s) finished more than {days} days ago")


def _control(action: Callable[[], T]) -> T:
    try:
        return action()
    except NotFound as error:
        raise click.ClickException(str(error)) from None


def _pipeline_or_fail(svc: Services, pipeline_id: int) -> Pipeline:
    try:
        return svc.store.pipeline(pipeline_id)
    except NotFound as error:
        raise click.ClickException(str(error)) from None


def _hint(svc: Services, pipeline_id: int) -> None:
    pipeline = svc.store.pipeline(pipeline_id)
    if pipeline.lease_until is None or pipeline.lease_until < utcnow():
        click.echo(f"no engine is driving it now: `ci-bot resume {pipeline_id}` continues it here")


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _current_branch(repo_dir: Path) -> str:
    head = repo_dir / ".git" / "HEAD"
    try:
        text = head.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return text.removeprefix("ref: refs/heads/") if text.startswith("ref: ") else ""
