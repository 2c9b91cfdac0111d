"""How an execution ended, as a state and a sentence a person can act on (pure)."""

from __future__ import annotations

from ci_bot.executors.base import CANCELLED, DONE, ERROR, WORKER_ERROR, ExecResult, ExecSpec
from ci_bot.tree.durations import format_duration

START_ENGINE = (
    "start it with `scripts/ensure-docker.sh` (as root) or `systemctl start docker`, "
    "or point DOCKER_HOST at a running engine"
)


def ended(
    spec: ExecSpec,
    container_id: str,
    exit_code: int,
    cancelled: bool,
    timed_out: bool,
    oom_killed: bool,
) -> ExecResult:
    """The result of a container that ran and stopped; a clean exit wins over a late kill."""
    if exit_code == 0:
        return ExecResult(DONE, 0, "", container_id)
    if cancelled:
        return ExecResult(CANCELLED, exit_code, "cancelled", container_id)
    if timed_out:
        message = f"timed out after {format_duration(spec.timeout_seconds)}"
        return ExecResult(ERROR, exit_code, message, container_id)
    if oom_killed:  # the node's own doing: it used more than it asked for
        return ExecResult(ERROR, exit_code, out_of_memory(spec.mem_bytes), container_id)
    return ExecResult(ERROR, exit_code, f"exited with code {exit_code}", container_id)


def out_of_memory(limit: int | None) -> str:
    if limit is None:
        return "ran out of memory (no limit was set, so the machine itself ran out)"
    return f"ran out of memory (limit {format_bytes(limit)}); raise `mem` for this node"


def socket_refused() -> ExecResult:
    return ExecResult(
        ERROR,
        None,
        "this node needs the Docker socket (`requires_docker`), which this ci-bot does not "
        "hand to containers; an administrator can allow it "
        "(DockerExecutor(allow_docker_socket=True)), or drop `requires_docker` from the node",
    )


def container_gone(container_id: str, spec: ExecSpec) -> ExecResult:
    message = (
        f"the container {container_id[:12]} of {spec.node_path} is gone, so its end is unknown"
    )
    return ExecResult(WORKER_ERROR, None, message, container_id)


def never_started(container_id: str, spec: ExecSpec) -> ExecResult:
    message = f"the container {container_id[:12]} of {spec.node_path} was created but never started"
    return ExecResult(WORKER_ERROR, None, message, container_id)


def unreachable(url: str, exc: BaseException) -> str:
    return f"the Docker engine at {url} could not be reached ({root_cause(exc)}); {START_ENGINE}"


def engine_failure(url: str, exc: BaseException) -> str:
    """A sentence for a failed Docker call: an unreachable engine, or what the engine said."""
    if _is_connection_failure(exc):
        return unreachable(url, exc)
    explanation = getattr(exc, "explanation", None) or str(exc)
    return f"the Docker engine at {url} failed: {explanation}"


def format_bytes(size: int) -> str:
    """Sizes as Docker writes them: 16m, 2g, 512k, 1000b."""
    for unit, suffix in ((2**30, "g"), (2**20, "m"), (2**10, "k")):
        if size % unit == 0:
            return f"{size // unit}{suffix}"
    return f"{size}b"


def root_cause(exc: BaseException) -> str:
    """The operating system's words for a failure buried in wrapped exceptions, if any."""
    stack: list[BaseException] = [exc]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return str(exc)


def _is_connection_failure(exc: BaseException) -> bool:
    from requests.exceptions import ConnectionError as RequestsConnectionError

    current: BaseException | None = exc
    while current is not None:
        if isinstance(
            current, RequestsConnectionError | ConnectionRefusedError | FileNotFoundError
        ):
            return True
        current = current.__cause__ or current.__context__
    return False
