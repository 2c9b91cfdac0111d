"""``ci-bot validate`` and ``ci-bot plan``: a conducto.cfg read, checked and planned
without a store, an engine or Docker (they stay fast: nothing here imports them).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime
from pathlib import Path

import click

from ci_bot.cli_changes import changed_option, directories_near, given_changes
from ci_bot.cli_events import check_event, event_from, event_options
from ci_bot.errors import ConfigError
from ci_bot.text import printable
from ci_bot.tree.config import CONFIG_FILES, Config, parse_config
from ci_bot.tree.nodes import count_nodes
from ci_bot.tree.render import draw_tree, plan_annotation
from ci_bot.tree.select import NoMatch, select
from ci_bot.tree.treejson import to_json

EXIT_INVALID = 2


def find_config(path: Path) -> Path:
    """``path`` itself, or the config file inside the directory ``path``."""
    if not path.is_dir():
        return path
    for name in CONFIG_FILES:
        if (path / name).is_file():
            return path / name
    raise click.ClickException(f"no {' or '.join(CONFIG_FILES)} in {path}")


def load_config(path: Path) -> Config:
    """Parse the config at ``path``; on errors print them all and exit 2."""
    config_path = find_config(path)
    try:
        source = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise click.ClickException(f"cannot read {config_path}: {error}") from None
    try:
        return parse_config(source, file=str(config_path))
    except ConfigError as error:
        for problem in error.problems:  # a problem quotes the file, controls and all
            click.echo(printable(str(problem)), err=True)
        count = len(error.problems)
        click.echo(f"{config_path}: {count} problem{'s' if count > 1 else ''}", err=True)
        sys.exit(EXIT_INVALID)


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path), default=".")
def validate(path: Path) -> None:
    """Check a conducto.cfg (or the one in a directory) and report every problem."""
    config = load_config(path)
    click.echo(f"{config.file}: valid — {summarize(config)}")


def summarize(config: Config) -> str:
    counts: dict[str, int] = {}
    for entry in config.entries:
        counts[entry.event] = counts.get(entry.event, 0) + 1
    events = ", ".join(f"[{e}]" + (f" ×{n}" if n > 1 else "") for e, n in counts.items())
    trees = []
    for name, tree in config.pipelines.items():
        nodes, execs = count_nodes(tree)
        trees.append(f"{name} ({nodes} nodes, {execs} Exec{'s' if execs != 1 else ''})")
    return (
        f"{len(config.entries)} event entries ({events or 'none: nothing will launch'}); "
        f"pipelines: {', '.join(trees) or 'none'}"
    )


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path), default=".")
@click.option(
    "--event",
    "event_name",
    callback=check_event,
    metavar="EVENT",
    required=True,
    help="The event: pr, push, create-branch, create-tag, cron, …",
)
@event_options(sha_help="The commit ({sha}).")
@click.option(
    "--at",
    type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]),
    default=None,
    help="cron: the minute (UTC) a schedule fires; only entries that fire then match.",
)
@changed_option
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(
    path: Path,
    event_name: str,
    as_json: bool,
    at: datetime | None,
    changed: tuple[str, ...],
    **values: str,
) -> None:
    """Show the tree an event would run, with skipped nodes and why."""
    config = load_config(path)
    event = event_from(event_name, values, at)
    changes = given_changes(changed)
    if changes is not None:
        event = dataclasses.replace(event, changes=changes)
    chosen = select(config, event, directories_near(find_config(path)))
    if isinstance(chosen, NoMatch):
        click.echo(printable(chosen.explain()), err=True)
        sys.exit(1)
    entry = chosen.entry
    if as_json:
        payload = {
            "event": event.values(),
            "entry": {"event": entry.event, "index": entry.index, "line": entry.line},
            "pipeline": entry.pipeline,
            "command": entry.command,
            "tree": to_json(chosen.tree) if chosen.tree else None,
            "skipped": [{"path": p, "reason": r} for p, r in chosen.skipped.items()],
        }
        click.echo(json.dumps(payload, indent=2))
        return
    if chosen.tree is None:
        click.echo(
            printable(f"{entry.label} generates its tree: `{entry.command}` (run by the engine)")
        )
        return
    click.echo(printable(f"{entry.label} → pipeline {entry.pipeline!r}"))
    for line in draw_tree(chosen.tree, plan_annotation(chosen.skipped)):
        click.echo(printable(line))
