"""``ci-bot debug PIPELINE PATH [-- COMMAND…]``: a shell in a node, as the pipeline saw it.

Conducto's answer to a failed node was to open a shell in it; this is that. The
container is the node's (image, /workspace, $CI_DATA, $CI_CACHE, env, services);
secrets only on request, and never for a pipeline from a fork.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import uuid
from pathlib import Path

import click

from ci_bot.engine.context import build_spec
from ci_bot.engine.trust import REFUSED, privileges_of
from ci_bot.errors import CiBotError
from ci_bot.executors.base import ExecSpec
from ci_bot.services import Services
from ci_bot.store.records import Execution, Pipeline
from ci_bot.store.store import NotFound, utcnow
from ci_bot.tree.nodes import Resolved, walk
from ci_bot.tree.states import State


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("pipeline_id", type=int)
@click.argument("node_path")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "--with-secrets",
    is_flag=True,
    help="Give the container the node's secrets too (never for a pipeline from a fork).",
)
@click.option(
    "--live",
    is_flag=True,
    help="Mount the current directory at /workspace instead of the pipeline's snapshot "
    "(edit here, run there).",
)
def debug(
    pipeline_id: int, node_path: str, command: tuple[str, ...], with_secrets: bool, live: bool
) -> None:
    """Open a shell (or run COMMAND, after --) in a container of a node: its image,
    /workspace, $CI_DATA, $CI_CACHE, environment and services. Exits with the command's code."""
    from ci_bot.cli_common import node_or_fail, services
    from ci_bot.executors.deferred import DeferredExecutor
    from ci_bot.executors.docker import DockerExecutor

    svc = services()
    node_or_fail(svc, pipeline_id, node_path)  # a typo gets the path meant
    executor = svc.executor
    if isinstance(executor, DeferredExecutor):
        executor = executor.resolve()
    if not isinstance(executor, DockerExecutor):
        raise click.ClickException("`ci-bot debug` needs the Docker executor")
    with tempfile.TemporaryDirectory(prefix="ci-bot-debug-") as scratch:
        spec = debug_spec(svc, pipeline_id, node_path, with_secrets, Path(scratch))
        if spec.secrets:
            click.echo(f"with secrets: {', '.join(sorted(spec.secrets))}", err=True)
        tty = sys.stdin.isatty() and sys.stdout.isatty()
        try:
            code = executor.debug(spec, list(command), tty=tty, live=Path.cwd() if live else None)
        except CiBotError as error:
            raise click.ClickException(str(error)) from None
        finally:
            _release_if_settled(svc, pipeline_id)
    sys.exit(code)


def debug_spec(
    svc: Services, pipeline_id: int, path: str, with_secrets: bool, scratch: Path
) -> ExecSpec:
    """The node's ExecSpec for a debug container; exit 1 with a sentence when there is none."""
    try:
        pipeline = svc.store.pipeline(pipeline_id)
    except NotFound as error:
        raise click.ClickException(str(error)) from None
    found = {p: (node, r) for p, node, r in walk(svc.store.tree(pipeline_id))}
    if path not in found:
        raise click.ClickException(f"pipeline {pipeline_id} has no node {path}")
    node, resolved = found[path]
    if not node.is_exec:
        raise click.ClickException(f"{path} is a {node.type.value}: debug an Exec below it")
    if with_secrets and not privileges_of(pipeline).secrets:
        raise click.ClickException(f"--with-secrets: {REFUSED['secrets']}")
    if not with_secrets and resolved.secrets:
        click.echo(
            f"secrets {', '.join(resolved.secrets)} withheld; --with-secrets gives them", err=True
        )
        resolved = Resolved({**resolved.values, "secrets": ()})
    spec = build_spec(
        svc.settings,
        pipeline,
        _execution(pipeline, path),
        node.run or "",
        resolved,
        svc.engine.secrets,
    )
    if isinstance(spec, str):
        raise click.ClickException(spec)
    return dataclasses.replace(
        spec,
        execution_id=f"debug-{uuid.uuid4().hex[:12]}",
        log_path=scratch / "debug.log",
        bot_id=svc.engine.bot_id,
    )


def _execution(pipeline: Pipeline, path: str) -> Execution:
    """A stand-in execution: a debug container is no execution of the node's."""
    return Execution(
        id=0,
        pipeline_id=pipeline.id,
        path=path,
        attempt=0,
        state=State.RUNNING,
        exit_code=None,
        message="",
        log_path="",
        container_id=None,
        reused_from=None,
        kill_requested=False,
        created_at=utcnow(),
        started_at=None,
        ended_at=None,
    )


def _release_if_settled(svc: Services, pipeline_id: int) -> None:
    """A finished pipeline's leftovers go again, as when its engine let it go."""
    if svc.store.pipeline(pipeline_id).finished_at is not None:
        svc.executor.release_pipeline(str(pipeline_id), bot_id=svc.engine.bot_id)
