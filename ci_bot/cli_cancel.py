"""``ci-bot cancel ID``: a pipeline cancelled now, whoever drives it.

The wish goes to the store (pending nodes are cancelled at once, running ones are
marked to be killed).  When a live engine holds the pipeline's lease, that engine
kills the containers within a tick, and this command only says so: it neither waits
for it nor loads the engine or Docker's client (it answers in well under a second).
When none does, this command takes the lease and drives the pipeline until it
settles, killing the containers itself.
"""

from __future__ import annotations

import click

from ci_bot.cli_common import actor, control, pipeline_or_fail, services
from ci_bot.engine import control as wishes
from ci_bot.engine.owners import owner_is_dead
from ci_bot.errors import CiBotError
from ci_bot.services import Services
from ci_bot.store.records import NodeRecord, Pipeline
from ci_bot.store.store import utcnow
from ci_bot.tree.states import State


@click.command()
@click.argument("pipeline_id", type=int)
def cancel(pipeline_id: int) -> None:
    """Cancel a pipeline now: pending nodes never run, running containers are killed (by
    the engine driving it, or by this command when none does)."""
    svc = services()
    pipeline_or_fail(svc, pipeline_id)
    reason = control(lambda: wishes.cancel_refusal(svc.store, pipeline_id))
    if reason is not None:
        raise click.ClickException(reason)
    nodes = svc.store.nodes(pipeline_id)
    running = _paths_in(nodes, State.QUEUED, State.RUNNING)
    waiting = _paths_in(nodes, State.PENDING)
    svc.store.cancel(pipeline_id, actor=actor())
    # A live engine holding it kills within a tick; the report says it is killing them.
    here = not driven_elsewhere(svc.store.pipeline(pipeline_id)) and _drive_here(svc, pipeline_id)
    left = _paths_in(svc.store.nodes(pipeline_id), State.QUEUED, State.RUNNING)
    owner = svc.store.pipeline(pipeline_id).lease_owner
    click.echo(cancel_report(pipeline_id, running, waiting, left, here, owner))


def driven_elsewhere(pipeline: Pipeline) -> bool:
    """Whether a live engine holds the pipeline's lease (then it honours the cancel).
    A no is checked again when this command claims the lease, so a race only costs
    loading the engine here for nothing."""
    owner, until = pipeline.lease_owner, pipeline.lease_until
    if not owner or until is None:
        return False
    return until >= utcnow() and not owner_is_dead(owner)


def _drive_here(svc: Services, pipeline_id: int) -> bool:
    """Drive the pipeline here until it settles (its containers killed) unless another
    engine took it meanwhile; whether this command did."""
    try:
        return svc.engine.drive_if_free(pipeline_id) is not None
    except CiBotError as error:
        raise click.ClickException(
            f"pipeline {pipeline_id} is marked cancelled, but its containers could not be "
            f"killed: {error}"
        ) from None


def cancel_report(
    pipeline_id: int,
    running: list[str],
    waiting: list[str],
    left: list[str],
    here: bool,
    owner: str | None,
) -> str:
    """``cancelled pipeline 8: killed /slow (no engine was driving it); /after will not run``."""
    parts = []
    killed = [path for path in running if path not in left]
    if killed:
        by = " (no engine was driving it)" if here else " (through the engine driving it)"
        parts.append(f"killed {', '.join(killed)}{by}")
    if left:
        parts.append(
            f"the engine driving it ({owner or 'another process'}) is killing {', '.join(left)}"
        )
    if waiting:
        parts.append(f"{', '.join(waiting)} will not run")
    return f"cancelled pipeline {pipeline_id}" + (f": {'; '.join(parts)}" if parts else "")


def _paths_in(nodes: list[NodeRecord], *states: State) -> list[str]:
    return [node.path for node in nodes if node.state in states]
