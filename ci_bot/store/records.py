"""What the store hands out: plain frozen dataclasses, never live ORM rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from ci_bot.tree.states import State


@dataclass(frozen=True)
class NewPipeline:
    repo: str
    event: str
    tree_json: str
    branch: str = ""
    base_branch: str = ""
    tag: str = ""
    pr: str = ""
    sha: str = ""
    author: str = ""
    title: str = ""
    entry: str = ""
    config_file: str = ""
    source_dir: str = ""
    trusted: bool = True
    dirty: bool = False  # the source had uncommitted changes on top of ``sha``


@dataclass(frozen=True)
class HandledDelivery:
    """A delivery marked handled by the very write that creates the pipeline it launched
    (a process killed in between can then neither lose the pipeline nor launch it twice);
    ``outcome`` says so, given the new pipeline's id."""

    delivery_id: str
    outcome: Callable[[int], str]


@dataclass(frozen=True)
class Pipeline:
    id: int
    repo: str
    event: str
    branch: str
    base_branch: str
    tag: str
    pr: str
    sha: str
    author: str
    title: str
    entry: str
    config_file: str
    tree_json: str
    source_dir: str
    state: State
    cancel_requested: bool
    trusted: bool
    lease_owner: str | None
    lease_until: datetime | None
    created_at: datetime
    finished_at: datetime | None
    archived_at: datetime | None = None
    dirty: bool = False  # run from a working tree with uncommitted changes on top of ``sha``
    version: int = 0  # bumped by every change to its Execs' states, skips, kills or tree


@dataclass(frozen=True)
class NodeRecord:
    path: str
    type: str
    state: State | None  # Execs only; parents are derived
    skip: bool
    skip_reason: str
    message: str


@dataclass(frozen=True)
class CommandChange:
    """A person changed an Exec's command when resetting it (``reset --run``)."""

    by: str
    old: str
    new: str


@dataclass(frozen=True)
class Execution:
    id: int
    pipeline_id: int
    path: str
    attempt: int
    state: State
    exit_code: int | None
    message: str
    log_path: str
    container_id: str | None
    reused_from: int | None
    kill_requested: bool
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    # The reset before this execution changed the command (see ``command_change``).
    command_by: str | None = None
    command_old: str | None = None
    command_new: str | None = None
    worker: str | None = None  # scaled out: the worker that ran it

    @property
    def command_change(self) -> CommandChange | None:
        """Who changed the command this execution ran, and from what; None if no one did."""
        if self.command_new is None:
            return None
        return CommandChange(self.command_by or "", self.command_old or "", self.command_new)


@dataclass(frozen=True)
class Snapshot:
    """What an engine decides from: a pipeline's row, its Execs' states and the executions
    someone asked to kill, all of ``pipeline.version``."""

    pipeline: Pipeline
    exec_states: Mapping[str, State]
    kill_requests: tuple[Execution, ...]


@dataclass(frozen=True)
class Ended:
    """An execution just finished: whether its Exec goes back for another attempt, and
    the execution as stored."""

    retry: bool
    execution: Execution


@dataclass(frozen=True)
class ReuseResult:
    """An execution whose saved outputs a later run with the same key may take."""

    execution_id: int
    pipeline_id: int
    path: str
    created_at: datetime


@dataclass(frozen=True)
class RunEvent:
    id: int
    pipeline_id: int
    path: str
    kind: str
    state: str
    message: str
    actor: str
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    id: str
    source: str
    event: str
    payload: str
    status: str  # received | handled | failed
    outcome: str
    received_at: datetime
    handled_at: datetime | None
