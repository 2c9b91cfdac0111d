"""Node parameters: each declared once, with its type, default, inheritance and help.

The parser, the JSON form, the docs test and ``docs/config.md`` all read this
table, so a parameter cannot exist in one place and be forgotten in another.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ci_bot.tree.containers import (
    BuildSpec,
    Service,
    read_build,
    read_pull,
    read_services,
    write_build,
    write_services,
)
from ci_bot.tree.durations import format_duration, parse_duration
from ci_bot.tree.filters import Filter, parse_filter
from ci_bot.tree.matrix import Matrix, read_matrix, write_matrix
from ci_bot.tree.paths import check_pattern
from ci_bot.tree.release import ReleaseSpec, read_release, write_release

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MEM = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?", re.IGNORECASE)
_MEM_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


class ItemError(ValueError):
    """A problem with one item inside a table or list; ``at`` leads from the key to it.

    The problem is then reported on the item's own line, which matters when a
    table such as ``[pipeline.ci.env]`` spans many lines.
    """

    def __init__(self, message: str, at: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.at = at


@dataclass(frozen=True)
class Reuse:
    """``reuse = {inputs = [globs], outputs = [paths]}``: skip an Exec already green on them."""

    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter: how to read it, how to write it back, and what it means."""

    name: str
    type: str
    help: str
    read: Callable[[Any], Any]
    write: Callable[[Any], Any] = lambda value: value
    default: Any = None
    inherited: bool = True
    takes_table: bool = False  # a TOML sub-table under its name is its value, not a child node


# --- readers: take a TOML/JSON value, return the typed value or raise ValueError ----------


def read_string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {_kind(value)}")
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def read_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {_kind(value)}")
    return value


def _read_int(minimum: int) -> Callable[[Any], int]:
    def read(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number, not {_kind(value)}")
        if value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value

    return read


def read_env(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError(f"must be a table of strings, not {_kind(value)}")
    env: dict[str, str] = {}
    for name, item in value.items():
        if not ENV_NAME.fullmatch(name):
            raise ItemError(f"{name!r} is not a valid environment variable name", (name,))
        if not isinstance(item, str):
            raise ItemError(f"{name} must be a string, not {_kind(item)} (quote it)", (name,))
        env[name] = item
    return env


def read_names(value: Any) -> tuple[str, ...]:
    items = _read_string_list(value)
    for index, name in enumerate(items):
        if not ENV_NAME.fullmatch(name):
            message = f"{name!r} is not a valid secret name (letters, digits, _)"
            raise ItemError(message, (index,))
    return items


LABEL = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
MAX_LABELS = 6


def read_labels(value: Any) -> tuple[str, ...]:
    items = _read_string_list(value)
    for index, label in enumerate(items):
        if not LABEL.fullmatch(label):
            message = f"{label!r} is not a worker label (a-z, 0-9, '_', '.', '-')"
            raise ItemError(message, (index,))
    if len(set(items)) > MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} labels")
    return tuple(sorted(set(items)))


def read_data_globs(value: Any) -> tuple[str, ...]:
    return _read_relative_globs(value, "$CI_DATA")


def read_source_globs(value: Any) -> tuple[str, ...]:
    return _read_relative_globs(value, "the repository")


def _read_relative_globs(value: Any, root: str) -> tuple[str, ...]:
    items = _read_string_list(value)
    for index, pattern in enumerate(items):
        if pattern.startswith("/") or ".." in pattern.split("/"):
            message = f"{pattern!r} must be relative to {root}, without '..'"
            raise ItemError(message, (index,))
    return items


def read_duration(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f'must be a duration such as "20m", not {_kind(value)}')
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("must be longer than zero")
        return value
    return parse_duration(value)


def read_filter(value: Any) -> Filter:
    return parse_filter(read_string(value))  # FilterSyntaxError is a ValueError with a column


def read_dir_glob(value: Any) -> str:
    return check_pattern(read_string(value))


def read_cpu(value: Any) -> float:
    valid = isinstance(value, int | float) and not isinstance(value, bool)
    if not valid or not 0 < value < math.inf:  # also refuses nan
        raise ValueError("must be a positive number of CPUs, such as 2 or 0.5")
    return float(value)


def read_mem(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _MEM.fullmatch(value.strip()) if isinstance(value, str) else None
    size = 0
    if match and len(match.group(1)) <= 30:  # whole numbers, not float: exact, no overflow
        whole, _, fraction = match.group(1).partition(".")
        unit = _MEM_UNITS[match.group(2).lower()]
        size = int(whole + fraction) * unit // 10 ** len(fraction)
    if size <= 0:
        raise ValueError('must be a size such as "512m" or "2g"')
    return size


def write_mem(value: int) -> str | int:
    for suffix in ("t", "g", "m", "k"):
        if value % _MEM_UNITS[suffix] == 0:
            return f"{value // _MEM_UNITS[suffix]}{suffix}"
    return value


def read_reuse(value: Any) -> Reuse:
    if not isinstance(value, Mapping):
        raise ValueError('must be a table such as {inputs = ["src/**"], outputs = ["dist"]}')
    unknown = sorted(set(value) - {"inputs", "outputs"})
    if unknown:
        message = f"unknown key {unknown[0]!r}; reuse takes 'inputs' and 'outputs'"
        raise ItemError(message, (unknown[0],))
    if "inputs" not in value:
        raise ValueError("needs 'inputs', the globs whose contents decide whether it may be reused")
    inputs = _read_item("inputs", read_source_globs, value["inputs"])
    outputs = _read_item("outputs", read_data_globs, value.get("outputs", []))
    return Reuse(inputs=inputs, outputs=outputs)


def write_reuse(value: Reuse) -> dict[str, list[str]]:
    return {"inputs": list(value.inputs), "outputs": list(value.outputs)}


def _read_string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"must be a list of strings, not {_kind(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item:
            message = f"must be a list of non-empty strings; found {_kind(item)}"
            raise ItemError(message, (index,))
    return tuple(value)


def _read_item(key: str, reader: Callable[[Any], tuple[str, ...]], value: Any) -> tuple[str, ...]:
    """``reader(value)`` for the item ``key`` of a table, its problems located inside it."""
    try:
        return reader(value)
    except ItemError as error:
        raise ItemError(str(error), (key, *error.at)) from None
    except ValueError as error:
        raise ItemError(str(error), (key,)) from None


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return names.get(type(value), type(value).__name__)


# --- the table ---------------------------------------------------------------------------

PARAMS: dict[str, ParamSpec] = {
    spec.name: spec
    for spec in (
        ParamSpec(
            "image",
            "string",
            "Container image the Execs below run in; pulled when the engine lacks it.",
            read_string,
        ),
        ParamSpec(
            "pull",
            '"missing", "always" or "never"',
            "When the engine pulls `image`: only when it lacks it (default), before every "
            "run, or never. Registry credentials are the operator's (CI_BOT_REGISTRY_AUTH_FILE) "
            "and never reach pull requests from forks.",
            read_pull,
            default="missing",
        ),
        ParamSpec(
            "build",
            "table {dockerfile, context, args, target}",
            "Build the image from the repository's own Dockerfile at the commit instead of "
            "naming one; cached by a hash of the Dockerfile, the context and the args. "
            "Exclusive with `image` on one node; the nearer of the two is inherited.",
            read_build,
            write=write_build,
            takes_table=True,
        ),
        ParamSpec(
            "services",
            "tables services.NAME {image or build, run, env, ready, ready_timeout}",
            "Sidecar containers started before each Exec below, on a network of its own, "
            "reachable by NAME; the Exec waits until each `ready` command succeeds inside "
            "its service (within `ready_timeout`, default 60s); removed when the Exec ends.",
            read_services,
            write=write_services,
            takes_table=True,
        ),
        ParamSpec(
            "env",
            "table of strings",
            "Environment variables; merged down the path, the nearer node wins.",
            read_env,
            write=dict,
            default={},
            takes_table=True,
        ),
        ParamSpec(
            "secrets",
            "list of names",
            "Secrets injected as environment variables from the bot's secret store; "
            "masked in logs and withheld from pull requests from forks.",
            read_names,
            write=list,
            default=(),
        ),
        ParamSpec(
            "timeout",
            'duration ("90s", "20m", "4h")',
            "Each Exec below is killed when it runs longer than this.",
            read_duration,
            write=format_duration,
            default=3600,
        ),
        ParamSpec(
            "skip",
            "bool",
            "Start skipped; a person can unskip it (a release gate).",
            read_bool,
            inherited=False,
        ),
        ParamSpec(
            "stop_on_error",
            "bool",
            "In a Serial, a failed child leaves the later siblings pending.",
            read_bool,
            default=True,
        ),
        ParamSpec(
            "suppress_errors",
            "bool",
            "The node ends done even when its children failed.",
            read_bool,
            default=False,
            inherited=False,
        ),
        ParamSpec(
            "max_concurrent",
            "int",
            "At most this many Execs below this node run at once.",
            _read_int(1),
            inherited=False,
        ),
        ParamSpec(
            "retry",
            "int",
            "Extra attempts an Exec gets after a failure.",
            _read_int(0),
            default=0,
        ),
        ParamSpec(
            "when",
            "filter string",
            "When the filter is false for this event, the node is skipped for this run.",
            read_filter,
            write=lambda value: value.source,
            inherited=False,
        ),
        ParamSpec(
            "concurrency",
            "string",
            "A group name: one Exec of the group runs at a time, across all pipelines.",
            read_string,
        ),
        ParamSpec(
            "reuse",
            "table {inputs = [globs], outputs = [paths]}",
            "Skip the Exec when the same image, command, env and input files ran green "
            "before; restore its outputs into $CI_DATA.",
            read_reuse,
            write=write_reuse,
            takes_table=True,
        ),
        ParamSpec(
            "sign",
            "list of globs",
            "After success, sign the matching files in $CI_DATA and write provenance.",
            read_data_globs,
            write=list,
            default=(),
        ),
        ParamSpec(
            "requires_docker",
            "bool",
            "Mount the Docker socket; refused unless the bot allows it.",
            read_bool,
            default=False,
        ),
        ParamSpec(
            "runs_on",
            "list of labels",
            "Scaled out: only a worker started with all these labels (`ci-bot worker "
            "--labels gpu,big`) runs the Execs below; ignored on one host.",
            read_labels,
            write=list,
            default=(),
        ),
        ParamSpec("cpu", "number", "CPU limit, in CPUs (2, 0.5).", read_cpu),
        ParamSpec(
            "mem",
            'size ("512m", "2g")',
            "Memory limit (default the bot's CI_BOT_DEFAULT_MEM, at most its CI_BOT_MAX_MEM).",
            read_mem,
            write=write_mem,
        ),
        ParamSpec(
            "pids",
            "int",
            "How many processes an Exec may have at once (default the bot's "
            "CI_BOT_DEFAULT_PIDS, at most its CI_BOT_MAX_PIDS); a fork bomb stops there.",
            _read_int(16),
        ),
        ParamSpec(
            "doc",
            "string (markdown)",
            "Documentation shown with the node in the web UI.",
            read_string,
            inherited=False,
        ),
        ParamSpec(
            "matrix",
            "table of lists, with exclude/include",
            "The node becomes a Parallel of one copy per combination of the values, named "
            "after them, each with MATRIX_NAME in its env and {matrix.NAME} filled in its "
            "`run`, `image` and `when`.",
            read_matrix,
            write=write_matrix,
            inherited=False,
            takes_table=True,
        ),
        ParamSpec(
            "for_each",
            "glob of directories",
            "The node becomes a Parallel of one copy per directory of the commit matching "
            "the glob, named after it, with CI_SERVICE_DIR in its env and {service.dir} and "
            "{service.name} filled in.",
            read_dir_glob,
            inherited=False,
        ),
        ParamSpec(
            "git_depth",
            "int, 0 = full history",
            "How many commits of history /workspace/.git carries.",
            _read_int(0),
            default=50,
        ),
        ParamSpec(
            "release",
            'list of globs, or {files = [globs], notes = "FILE"}',
            "On a create-tag pipeline, after success, publish the matching $CI_DATA files "
            "with their signatures and provenance to the tag's GitHub Release; never for forks.",
            read_release,
            write=write_release,
            inherited=False,
            takes_table=True,
        ),
    )
}

# Keys that shape the tree rather than parametrise it.
STRUCTURE_KEYS: dict[str, str] = {
    "run": "Shell command (run with `sh -c` in /workspace); a table with `run` is an Exec.",
    "parallel": "true: the children run at once (a Parallel); otherwise a Serial.",
}


@dataclass(frozen=True)
class Params:
    """The parameters a node sets itself; ``None`` means "not set here"."""

    image: str | None = None
    pull: str | None = None
    build: BuildSpec | None = None
    services: tuple[Service, ...] | None = None
    env: Mapping[str, str] | None = None
    secrets: tuple[str, ...] | None = None
    timeout: int | None = None
    skip: bool | None = None
    stop_on_error: bool | None = None
    suppress_errors: bool | None = None
    max_concurrent: int | None = None
    retry: int | None = None
    when: Filter | None = None
    concurrency: str | None = None
    reuse: Reuse | None = None
    sign: tuple[str, ...] | None = None
    requires_docker: bool | None = None
    cpu: float | None = None
    mem: int | None = None
    pids: int | None = None
    runs_on: tuple[str, ...] | None = None
    doc: str | None = None
    matrix: Matrix | None = None
    for_each: str | None = None
    git_depth: int | None = None
    release: ReleaseSpec | None = None

    def items(self) -> list[tuple[str, Any]]:
        """The parameters set on this node, in table order."""
        return [(name, getattr(self, name)) for name in PARAMS if getattr(self, name) is not None]
