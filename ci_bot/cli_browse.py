"""``ci-bot list`` and ``ci-bot log``: reading pipelines from a shell.

``list`` filters as the web UI's list does; ``log`` prints a node's log, and with
``-f`` follows a running one until it ends (a line is never printed half-written).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from ci_bot.cli_common import node_or_fail, services
from ci_bot.cli_events import check_event
from ci_bot.console import ICONS
from ci_bot.store.listing import PipelineFilter, PipelinePage
from ci_bot.store.listing import list_pipelines as page_of_pipelines
from ci_bot.store.records import Execution, Pipeline
from ci_bot.store.store import Store
from ci_bot.store.views import iso_time, pipeline_header
from ci_bot.text import printable
from ci_bot.tree.states import State
from ci_bot.web.ui.timing import PipelineTimes, pipeline_times

FOLLOW_SECONDS = 0.2


@click.command("list")
@click.option(
    "--repo", default="", help="Only this repository (owner/name, or a directory's name)."
)
@click.option("--branch", default="", help="Only pipelines of this branch.")
@click.option("--pr", default="", help="Only this pull request's pipelines (its number).")
@click.option(
    "--event",
    callback=check_event,
    metavar="EVENT",
    default=None,
    help="Only this event: push, pr, cron, …",
)
@click.option(
    "--state",
    type=click.Choice([state.value for state in State]),
    default=None,
    help="Only pipelines in this state.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 500),
    default=20,
    show_default=True,
    help="How many pipelines to show, newest first.",
)
@click.option(
    "--page",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Which page of --limit pipelines.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the page as one JSON object.")
def list_pipelines(
    repo: str,
    branch: str,
    pr: str,
    event: str | None,
    state: str | None,
    limit: int,
    page: int,
    as_json: bool,
) -> None:
    """The latest pipelines, newest first: state, repository, event, ref, commit (and
    whether the working tree was dirty), when and how long, nodes by state."""
    svc = services()
    wanted = PipelineFilter(
        repo=repo, branch=branch, pr=pr.lstrip("#"), event=event or "", state=state or ""
    )
    found = page_of_pipelines(svc.store, wanted, page, limit)
    if as_json:
        pipelines = [
            {
                **pipeline_header(p),
                **_times(p, found).json(),
                "exec_counts": found.exec_counts.get(p.id, {}),
            }
            for p in found.pipelines
        ]
        body = {"pipelines": pipelines, "page": page, "per_page": limit, "total": found.total}
        click.echo(json.dumps({**body, "state_totals": found.state_totals}, indent=2))
        return
    if not found.pipelines:
        filtered = wanted != PipelineFilter()
        click.echo("no pipelines match" if filtered else "no pipelines yet: `ci-bot run DIR`")
        return
    rows = [_row(p, found.exec_counts.get(p.id, {}), _times(p, found)) for p in found.pipelines]
    for line in _columns([LIST_HEADER, *rows]):
        click.echo(printable(line))
    shown_to = (page - 1) * limit + len(rows)
    if found.total > shown_to or page > 1:
        click.echo(f"({shown_to - len(rows) + 1}–{shown_to} of {found.total}; --page for more)")


LIST_HEADER = ["ID", "STATE", "REPO", "EVENT", "REF", "COMMIT", "STARTED", "TOOK", "NODES"]


def _times(pipeline: Pipeline, found: PipelinePage) -> PipelineTimes:
    """Run time and wall time, as the web UI's list reckons them."""
    first_start, last_end = found.run_spans.get(pipeline.id, (None, None))
    return pipeline_times(pipeline, first_start, last_end, found.run_intervals.get(pipeline.id, ()))


def _row(pipeline: Pipeline, counts: dict[str, int], times: PipelineTimes) -> list[str]:
    ref = pipeline.branch or pipeline.tag
    if pipeline.pr:
        ref = f"#{pipeline.pr} {ref}".strip()
    commit = pipeline.sha[:12] + (" (dirty)" if pipeline.dirty else "")
    ran, wall = times.shown()  # wall: "" when it reads the same
    took = f"{ran or '–'} ({wall} wall)" if wall else ran
    nodes = " ".join(f"{count}{ICONS[State(name)]}" for name, count in sorted(counts.items()))
    return [
        str(pipeline.id),
        f"{ICONS[pipeline.state]} {pipeline.state.value}",
        pipeline.repo,
        pipeline.event,
        ref,
        commit,
        _local_time(pipeline.created_at),
        took,
        nodes,
    ]


def _columns(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _local_time(moment: datetime) -> str:
    """The store's naive UTC time in this machine's zone."""
    return moment.replace(tzinfo=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


@click.command("log")
@click.argument("pipeline_id", type=int)
@click.argument("node_path")
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Keep printing what the node writes until its execution ends (waiting for it to "
    "start when it has not yet).",
)
@click.option(
    "--execution",
    "attempt",
    type=click.IntRange(min=1),
    default=None,
    help="The node's Nth execution (its attempt N, as `show --json` lists them); "
    "default: the latest.",
)
@click.option("--timestamps", is_flag=True, help="Keep each line's time (UTC) from the log.")
def log(
    pipeline_id: int, node_path: str, follow: bool, attempt: int | None, timestamps: bool
) -> None:
    """Print an Exec's log (masked as stored); -f follows a running one to its end."""
    svc = services()
    pipeline = node_or_fail(svc, pipeline_id, node_path)
    node = svc.store.tree(pipeline_id).find(node_path)
    if node is None or not node.is_exec:
        kind = node.type.value if node is not None else "node"
        raise click.ClickException(f"{node_path} is a {kind}: give one of its Execs")
    if pipeline.archived_at is not None:
        raise click.ClickException(
            f"pipeline {pipeline_id} was archived on {iso_time(pipeline.archived_at)}: "
            "its logs were removed"
        )
    execution = _execution(svc.store, pipeline_id, node_path, attempt, wait=follow)
    if not Path(execution.log_path).resolve().is_relative_to(svc.settings.data_dir.resolve()):
        raise click.ClickException(f"the log of {node_path} is not in this bot's data directory")
    printer = LogPrinter(timestamps)
    try:
        _print_log(svc.store, execution, printer, follow)
    except KeyboardInterrupt:
        sys.exit(130)
    if execution.ended_at is None and not follow:
        state = svc.store.execution(execution.id).state.value
        click.echo(f"({node_path} is {state}: -f follows it to its end)", err=True)


def _execution(
    store: Store, pipeline_id: int, path: str, attempt: int | None, wait: bool
) -> Execution:
    """The execution asked for; with ``wait``, once it is queued (while the pipeline runs)."""
    while True:
        executions = store.executions(pipeline_id, path)
        chosen = [e for e in executions if attempt is None or e.attempt == attempt]
        if chosen:
            return chosen[-1]
        if not wait or store.pipeline(pipeline_id).finished_at is not None:
            raise click.ClickException(_no_execution(store, pipeline_id, path, attempt, wait))
        time.sleep(FOLLOW_SECONDS)


def _no_execution(
    store: Store, pipeline_id: int, path: str, attempt: int | None, wait: bool
) -> str:
    count = len(store.executions(pipeline_id, path))
    if attempt is not None and count:
        return f"{path} has {count} execution{'s' if count != 1 else ''}, no {attempt}"
    state = store.exec_states(pipeline_id).get(path, State.PENDING).value
    return f"{path} has not run ({state})" + ("" if wait else "; -f waits for it")


class LogPrinter:
    """Log lines as a person reads them: without the time stamp (unless asked), the
    node's colours kept, every other control character shown rather than obeyed."""

    def __init__(self, timestamps: bool) -> None:
        self.timestamps = timestamps

    def __call__(self, line: str) -> None:
        if not self.timestamps:
            stamp, _, rest = line.partition(" ")
            if stamp.endswith("Z") and stamp[:4].isdigit():
                line = rest
        click.echo(printable(line, keep="\t", colours=True))


def _print_log(store: Store, execution: Execution, printer: LogPrinter, follow: bool) -> None:
    """The log from its start; with ``follow``, what is added until the execution ends.
    Only whole lines are printed until then: a line is never shown cut in two."""
    path = Path(execution.log_path)
    offset, pending = 0, b""
    while True:
        ended = store.execution(execution.id).ended_at is not None  # before the read: no loss
        chunk = _read_from(path, offset)
        offset += len(chunk)
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            printer(line.decode("utf-8", "replace"))
        if chunk:
            continue
        if not follow or ended:
            break
        time.sleep(FOLLOW_SECONDS)
    if pending:
        printer(pending.decode("utf-8", "replace"))


def _read_from(path: Path, offset: int, limit: int = 1 << 20) -> bytes:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read(limit)
    except FileNotFoundError:
        return b""  # not started yet
