"""Where an Exec's containers come from: ``pull``, ``build`` and ``services``, read and written.

These three parameters describe images and sidecars rather than the node's own
command, so their typed values and readers live here, beside (not inside) the
parameter table of ``params.py``.  Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ci_bot.tree.durations import format_duration, parse_duration

PULL_POLICIES = ("missing", "always", "never")
SERVICE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # a DNS label: the Exec reaches it by name
DEFAULT_READY_TIMEOUT = 60
SERVICE_KEYS = frozenset({"image", "build", "run", "env", "ready", "ready_timeout"})


class TableItemError(ValueError):
    """A problem with one item inside the table; ``at`` leads to it (see ``params.ItemError``)."""

    def __init__(self, message: str, at: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.at = at


@dataclass(frozen=True)
class BuildSpec:
    """``build = {dockerfile, context, args, target}``: an image built from the repository."""

    dockerfile: str = "Dockerfile"  # relative to the repository root
    context: str = "."  # relative to the repository root
    args: tuple[tuple[str, str], ...] = ()
    target: str | None = None

    def describe(self) -> str:
        return f"build: {self.dockerfile}"


@dataclass(frozen=True)
class Service:
    """``[… .services.NAME]``: a sidecar container the Exec reaches as ``NAME``."""

    name: str
    image: str | None = None
    build: BuildSpec | None = None
    run: str | None = None  # `sh -c` command; None keeps the image's own command
    env: tuple[tuple[str, str], ...] = ()
    ready: str | None = None  # run inside the service until it exits 0
    ready_timeout: int = DEFAULT_READY_TIMEOUT

    @property
    def source(self) -> str:
        return self.build.describe() if self.build else str(self.image)


def read_pull(value: Any) -> str:
    if value not in PULL_POLICIES:
        choices = ", ".join(f'"{policy}"' for policy in PULL_POLICIES)
        raise ValueError(f"must be one of {choices}, not {value!r}")
    return str(value)


def read_build(value: Any) -> BuildSpec:
    if isinstance(value, str):  # build = "ci/Dockerfile": the shorthand
        value = {"dockerfile": value}
    if not isinstance(value, Mapping):
        raise ValueError('must be a table such as {dockerfile = "ci/Dockerfile", context = "."}')
    _refuse_unknown(value, ("dockerfile", "context", "args", "target"), "build")
    args = value.get("args", {})
    if not isinstance(args, Mapping):
        raise TableItemError("must be a table of strings", ("args",))
    for name, item in args.items():
        if not isinstance(item, str):
            raise TableItemError(f"{name} must be a string (quote it)", ("args", name))
    return BuildSpec(
        dockerfile=_relative_path(value, "dockerfile", "Dockerfile"),
        context=_relative_path(value, "context", "."),
        args=tuple(sorted(args.items())),
        target=_optional_string(value, "target"),
    )


def write_build(value: BuildSpec) -> dict[str, Any]:
    written: dict[str, Any] = {"dockerfile": value.dockerfile, "context": value.context}
    if value.args:
        written["args"] = dict(value.args)
    if value.target:
        written["target"] = value.target
    return written


def read_services(value: Any) -> tuple[Service, ...]:
    if not isinstance(value, Mapping):
        raise ValueError('must be tables such as [pipeline.ci.test.services.db] image = "…"')
    services = []
    for name, table in value.items():
        if not SERVICE_NAME.fullmatch(name):
            message = f"service name {name!r} must be a DNS label: a-z, 0-9 and '-'"
            raise TableItemError(message, (name,))
        try:
            services.append(_read_service(name, table))
        except TableItemError as error:
            raise TableItemError(str(error), (name, *error.at)) from None
        except ValueError as error:
            raise TableItemError(str(error), (name,)) from None
    return tuple(services)


def write_services(value: tuple[Service, ...]) -> dict[str, Any]:
    return {service.name: _write_service(service) for service in value}


def _read_service(name: str, table: Any) -> Service:
    if not isinstance(table, Mapping):
        raise ValueError(f'must be a table such as {{image = "…", ready = "…"}}, not {table!r}')
    keys = ("image", "build", "run", "env", "ready", "ready_timeout")  # SERVICE_KEYS, in order
    _refuse_unknown(table, keys, "a service")
    image = _optional_string(table, "image")
    build = None
    if "build" in table:
        try:
            build = read_build(table["build"])
        except TableItemError as error:
            raise TableItemError(str(error), ("build", *error.at)) from None
        except ValueError as error:
            raise TableItemError(str(error), ("build",)) from None
    if (image is None) == (build is None):
        raise ValueError("needs exactly one of `image` and `build`")
    env = table.get("env", {})
    if not isinstance(env, Mapping) or not all(isinstance(v, str) for v in env.values()):
        raise TableItemError("must be a table of strings", ("env",))
    timeout = DEFAULT_READY_TIMEOUT
    if "ready_timeout" in table:
        try:
            timeout = _duration(table["ready_timeout"])
        except ValueError as error:
            raise TableItemError(str(error), ("ready_timeout",)) from None
    return Service(
        name=name,
        image=image,
        build=build,
        run=_optional_string(table, "run"),
        env=tuple(env.items()),
        ready=_optional_string(table, "ready"),
        ready_timeout=timeout,
    )


def _write_service(service: Service) -> dict[str, Any]:
    written: dict[str, Any] = {}
    if service.image:
        written["image"] = service.image
    if service.build:
        written["build"] = write_build(service.build)
    for key in ("run", "ready"):
        if getattr(service, key):
            written[key] = getattr(service, key)
    if service.env:
        written["env"] = dict(service.env)
    if service.ready_timeout != DEFAULT_READY_TIMEOUT:
        written["ready_timeout"] = format_duration(service.ready_timeout)
    return written


def _duration(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError('must be a duration such as "30s"')


def _refuse_unknown(table: Mapping[str, Any], known: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        takes = ", ".join(f"'{key}'" for key in known)
        raise TableItemError(f"unknown key {unknown[0]!r}; {what} takes {takes}", (unknown[0],))


def _optional_string(table: Mapping[str, Any], key: str) -> str | None:
    if key not in table:
        return None
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise TableItemError("must be a non-empty string", (key,))
    return value


def _relative_path(table: Mapping[str, Any], key: str, default: str) -> str:
    value = _optional_string(table, key) or default
    parts = value.split("/")
    if value.startswith("/") or ".." in parts:
        raise TableItemError(f"{value!r} must be relative to the repository, without '..'", (key,))
    return value
