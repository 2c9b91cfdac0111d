"""The ``ci-bot`` command line: validate and plan a conducto.cfg, run pipelines.

Each command lives in a ``cli_*`` module that is imported only when that command
runs: ``ci-bot --version`` or ``ci-bot validate`` must not pay for SQLAlchemy,
Docker's client or Flask, which the store, the engine and the web UI load.
``COMMANDS`` names every command's module and carries its short help, so that
``ci-bot --help`` lists them all without importing one (a test keeps each short
help equal to the command's own docstring).
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ci_bot import __version__

# Else a command's last act is the interpreter's final garbage collection over all that
# SQLAlchemy, Docker's client and the engine allocated: 150-200 ms per `ci-bot run`,
# `reset` or `resume`, for nothing.  Its writes are committed and its logs closed by
# then, and the process's end closes its files and sockets.
atexit.register(gc.freeze)


@dataclass(frozen=True)
class Lazy:
    """A command imported on use: where it is, and what ``--help`` says of it."""

    target: str  # "module:attribute"
    help: str  # the first sentence of its docstring: what `--help` shortens


COMMANDS: Mapping[str, Lazy] = {
    "api": Lazy(
        "ci_bot.cli_ui:api",
        "Call the bot's JSON API (docs/api.md): `ci-bot api GET /api/pipelines/3`.",
    ),
    "archive": Lazy(
        "ci_bot.cli_pipelines:archive",
        "Archive pipelines finished more than CI_BOT_RETENTION_DAYS ago (serve does it hourly).",
    ),
    "artifacts": Lazy(
        "ci_bot.cli_artifacts:artifacts",
        "The files the pipeline left in $CI_DATA, with sizes, and the signature and provenance "
        "of each one it signed (`sign` in conducto.cfg).",
    ),
    "cancel": Lazy(
        "ci_bot.cli_cancel:cancel",
        "Cancel a pipeline now: pending nodes never run, running containers are killed (by the "
        "engine driving it, or by this command when none does).",
    ),
    "db": Lazy("ci_bot.cli_db:db", "The store's schema."),
    "debug": Lazy(
        "ci_bot.cli_debug:debug",
        "Open a shell (or run COMMAND, after --) in a container of a node: its image, "
        "/workspace, $CI_DATA, $CI_CACHE, environment and services.",
    ),
    "list": Lazy(
        "ci_bot.cli_browse:list_pipelines",
        "The latest pipelines, newest first: state, repository, event, ref, commit (and whether "
        "the working tree was dirty), when and how long, nodes by state.",
    ),
    "log": Lazy(
        "ci_bot.cli_browse:log",
        "Print an Exec's log (masked as stored); -f follows a running one to its end.",
    ),
    "plan": Lazy(
        "ci_bot.cli_config:plan", "Show the tree an event would run, with skipped nodes and why."
    ),
    "rerun": Lazy(
        "ci_bot.cli_rerun:rerun",
        "Run a pipeline again as a new pipeline, on the same or a newer commit, here with a "
        "live tree (Ctrl-C cancels it).",
    ),
    "reset": Lazy(
        "ci_bot.cli_pipelines:reset",
        "Run a node (and everything below it) again, on the pipeline's own snapshot of the "
        "source; the pipeline continues from there.",
    ),
    "resume": Lazy(
        "ci_bot.cli_pipelines:resume",
        "Continue a pipeline in the foreground (after a reset, or when its engine died).",
    ),
    "run": Lazy(
        "ci_bot.cli_pipelines:run",
        "Run a repository's pipeline now, here, with a live tree; exit 0 done, 1 error.",
    ),
    "secrets": Lazy(
        "ci_bot.cli_secrets:secrets",
        "The secrets nodes ask for (`secrets = [...]`), per repository.",
    ),
    "serve": Lazy("ci_bot.cli_serve:serve", "Receive webhooks, run pipelines, serve the UI."),
    "show": Lazy(
        "ci_bot.cli_pipelines:show", "Show a pipeline: its tree and states, or the JSON object."
    ),
    "skip": Lazy("ci_bot.cli_pipelines:skip", "Skip a node that has not run (a gate)."),
    "trigger": Lazy(
        "ci_bot.cli_trigger:trigger",
        "Ask a running `ci-bot serve` to run REPO (owner/name, built from GitHub before) on a "
        "branch or commit: POST /api/pipelines.",
    ),
    "ui-token": Lazy("ci_bot.cli_ui:ui_token", "Sign-in tokens for the web UI and the JSON API."),
    "unskip": Lazy("ci_bot.cli_pipelines:unskip", "Let a skipped node run."),
    "validate": Lazy(
        "ci_bot.cli_config:validate",
        "Check a conducto.cfg (or the one in a directory) and report every problem.",
    ),
    "worker": Lazy(
        "ci_bot.cli_worker:worker",
        "Run Execs for `ci-bot serve` on this host (scaled out, over CI_BOT_BROKER_URL).",
    ),
}


class LazyGroup(click.Group):
    """A group whose commands (``lazy``: name → ``Lazy``) are imported when first run."""

    def __init__(self, *args: Any, lazy: Mapping[str, Lazy], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            self.add_command(load(self.lazy[cmd_name]), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As ``click.Group`` lists the commands, with a lazy one's short help from its
        ``Lazy`` entry instead of from the imported command."""
        commands = [(name, self._described(name)) for name in self.list_commands(ctx)]
        commands = [(name, command) for name, command in commands if not command.hidden]
        if not commands:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in commands)
        rows = [(name, command.get_short_help_str(limit)) for name, command in commands]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _described(self, name: str) -> click.Command:
        """The command itself once loaded; else a stand-in that click shortens the same way."""
        if name in self.commands:
            return self.commands[name]
        return click.Command(name, help=self.lazy[name].help)


def load(entry: Lazy) -> click.Command:
    module_name, _, attribute = entry.target.partition(":")
    # Importing a command (the store, SQLAlchemy) makes tens of thousands of objects
    # that live as long as the process: collecting as they come is wasted, and once
    # frozen no later collection walks them again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        command = getattr(importlib.import_module(module_name), attribute)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
    if not isinstance(command, click.Command):
        raise TypeError(f"{entry.target} is not a click command")
    return command


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# The version as ci_bot says it (a test keeps it the installed package's): asking
# importlib.metadata costs --version more than all the rest of its work.
@click.version_option(__version__, package_name="ci-bot")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The bot's data (database, logs, $CI_DATA, caches) for this command; sets "
    "CI_BOT_DATA_DIR. Default: CI_BOT_DATA_DIR, else ~/.local/share/ci-bot.",
)
def main(data_dir: Path | None) -> None:
    """ci-bot: Git-event-driven CI/CD, conducto.cfg trees run in Docker.

    A pipeline that failed: `ci-bot log ID PATH` reads a node's log, `ci-bot debug ID
    PATH` opens a shell in it, `ci-bot reset ID PATH` runs it again on the pipeline's
    own snapshot, and `ci-bot rerun ID --at HEAD` runs a committed fix."""
    if data_dir is not None:
        # Settings are read from the environment wherever a command needs them.
        os.environ["CI_BOT_DATA_DIR"] = str(data_dir.resolve())


if __name__ == "__main__":
    main()
