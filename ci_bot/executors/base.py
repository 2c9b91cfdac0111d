"""The seam between the engine and containers: one Exec in, one result out.

The engine only ever talks to an :class:`Executor`; ``DockerExecutor`` runs real
containers and ``FakeExecutor`` replays expected commands in the scheduler's tests.
``run`` and ``reattach`` never raise for a node's failure: every outcome, including
broken infrastructure, comes back as an :class:`ExecResult` with a sentence for people.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ci_bot.tree.containers import BuildSpec, Service

DONE = "done"
ERROR = "error"
WORKER_ERROR = "worker_error"
CANCELLED = "cancelled"

# Labels every Exec container carries; ``running()`` and cleanups find containers by them.
# Service containers and networks carry LABEL_SERVICE_OF (their execution) instead of
# LABEL_EXECUTION, so they are never taken for an Exec.
LABEL_PIPELINE = "ci-bot.pipeline"
LABEL_NODE = "ci-bot.node"
LABEL_EXECUTION = "ci-bot.execution"
# Pipeline and execution ids are unique per database only; the bot id (one per
# database) keeps two bots sharing one Docker engine out of each other's way.
LABEL_BOT = "ci-bot.bot"
LABEL_SERVICE_OF = "ci-bot.service-of"
LABEL_SERVICE = "ci-bot.service"


@dataclass(frozen=True)
class ExecSpec:
    """Everything needed to run one Exec node once."""

    pipeline_id: str
    node_path: str  # "/test/unit"
    execution_id: str
    image: str
    command: str  # run with `sh -c`
    source_dir: Path  # the repository at the commit; becomes a pristine /workspace
    data_dir: Path  # mounted at /ci/data ($CI_DATA), shared by the pipeline's nodes
    cache_dir: Path  # mounted at /ci/cache ($CI_CACHE), shared by the repository's pipelines
    log_path: Path  # the node's log, appended to as output arrives
    env: Mapping[str, str] = field(default_factory=dict)  # includes the CI_* context
    secrets: Mapping[str, str] = field(default_factory=dict)  # injected as env, masked in logs
    # Every other value the bot knows, masked in logs too: a secret one node wrote to
    # $CI_DATA must not appear in the log of another node that prints it.
    also_mask: tuple[str, ...] = ()
    timeout_seconds: int = 3600
    cpu: float | None = None
    mem_bytes: int | None = None
    requires_docker: bool = False
    bot_id: str = ""  # which bot's pipeline this is (see LABEL_BOT)
    pull: str = "missing"  # when ``image`` is pulled: "missing", "always", "never"
    build: BuildSpec | None = None  # when set, ``image`` is its tag (builds.build_tag)
    services: tuple[Service, ...] = ()  # sidecars started before, removed after
    trusted: bool = True  # the operator's registry credentials may be used for this run
    # More files for the workspace image, as (path here, path in the container): the
    # commit's history at /workspace/.git, the changed files at /ci/changed-files.
    workspace_extras: tuple[tuple[Path, str], ...] = ()
    pids_limit: int | None = None  # None: the executor's own default
    log_limit: int | None = None  # bytes of output kept in the log; None: all of it
    runs_on: tuple[str, ...] = ()  # scaled out: only a worker with these labels runs it


@dataclass(frozen=True)
class ExecResult:
    """How an execution ended: ``state`` is one of done, error, worker_error, cancelled."""

    state: str
    exit_code: int | None
    message: str = ""  # "exited with code 3", "timed out after 20m", "image X is missing: …"
    container_id: str | None = None
    lost: bool = False  # the machine running it went away: worth one more try elsewhere


@dataclass(frozen=True)
class RunningContainer:
    """A container of ours that still runs, found by its labels."""

    container_id: str
    pipeline_id: str
    node_path: str
    execution_id: str
    bot_id: str = ""


class Executor(Protocol):
    """Runs Execs. Methods other than ``run``/``reattach`` raise ExecutorError on failure."""

    def run(self, spec: ExecSpec, on_started: Callable[[str], None] | None = None) -> ExecResult:
        """Run ``spec`` to its end (blocking); ``on_started(container_id)`` once it started."""
        ...

    def reattach(self, container_id: str, spec: ExecSpec) -> ExecResult:
        """Follow an already running container (after an engine crash) to its end."""
        ...

    def kill(self, execution_id: str, bot_id: str = "") -> None:
        """Cancel that execution; its blocked ``run`` returns state "cancelled"."""
        ...

    def running(self) -> list[RunningContainer]:
        """Containers with ci-bot labels that are still there: running, or exited while
        nobody followed them (their result is still to be collected)."""
        ...

    def release_pipeline(self, pipeline_id: str, bot_id: str = "") -> None:
        """The pipeline settled: drop what only a running pipeline needs (services a dead
        engine left).  Its workspace images stay: a reset node and ``resume`` start on
        them at once instead of building them again; ``discard_pipeline`` removes them."""
        ...

    def discard_pipeline(self, pipeline_id: str, bot_id: str = "") -> None:
        """The pipeline is archived (or was a one-off run): drop everything it holds on
        the engine, its workspace images included."""
        ...

    def held_pipelines(self, bot_id: str = "") -> set[str]:
        """Ids of the bot's pipelines this executor still holds workspace images for, so
        a sweep can discard those of pipelines archived or deleted meanwhile."""
        ...

    def image_id(self, image: str) -> str | None:
        """The engine's id (``sha256:…``) of the image named ``image``; None when the engine
        does not have it.  ``reuse`` keys on it, so a rebuilt image is a new key."""
        ...
