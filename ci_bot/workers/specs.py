"""An ExecSpec as JSON for the broker, and the same spec on a worker's own disk.

The engine's spec names paths on the server's host; a worker keeps its own data
dir, so each path is mapped there: the source snapshot and $CI_DATA are fetched
into it (``datasync.py``), the cache is the worker's own copy of the repository's
cache (a cache: a miss costs time, never correctness), and the log is written
there and shipped (``logship.py``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ci_bot.executors.base import ExecSpec
from ci_bot.tree.containers import read_build, read_services, write_build, write_services

_PATHS = ("source_dir", "data_dir", "cache_dir", "log_path")
_EXTRAS = "workspace_extras"  # more files for /workspace (the commit's .git), when there are
_FIELDS = {field.name for field in dataclasses.fields(ExecSpec)}


def workspace_extras(spec: ExecSpec) -> tuple[tuple[Path, str], ...]:
    """(path on this host, path in the container) of files beside the workspace."""
    extras: tuple[tuple[Path, str], ...] = getattr(spec, _EXTRAS, ())
    return extras


def spec_to_json(spec: ExecSpec, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for field in dataclasses.fields(spec):
        value = getattr(spec, field.name)
        if field.name in _PATHS:
            value = str(value)
        elif field.name == "build":
            value = write_build(value) if value is not None else None
        elif field.name == "services":
            value = write_services(value)
        elif field.name == "workspace_extras":
            value = [[str(here), there] for here, there in value]
        elif isinstance(value, tuple):
            value = list(value)
        elif hasattr(value, "items"):
            value = dict(value)
        data[field.name] = value
    return {**data, **extra}


def spec_from_json(data: dict[str, Any]) -> ExecSpec:
    names = {field.name for field in dataclasses.fields(ExecSpec)}
    values = {name: value for name, value in data.items() if name in names}
    for name in _PATHS:
        values[name] = Path(values[name])
    values["build"] = read_build(values["build"]) if values.get("build") else None
    values["services"] = read_services(values.get("services") or {})
    for name in ("also_mask", "runs_on"):
        if name in values:
            values[name] = tuple(values[name])
    if _EXTRAS in _FIELDS:
        extras = values.get(_EXTRAS) or []
        values[_EXTRAS] = tuple((Path(here), there) for here, there in extras)
    return ExecSpec(**values)


def local_spec(
    spec: ExecSpec, data_dir: Path, cache_root: Path, source_dir: Path, extras_dir: Path | None
) -> ExecSpec:
    """``spec`` on this worker: its own copies of the pipeline's files (the workspace's
    extra files unpacked in ``extras_dir``, numbered as the spec lists them)."""
    pipeline = data_dir / "pipelines" / spec.pipeline_id
    extras = tuple(
        (extras_dir / str(index), there)
        for index, (_, there) in enumerate(workspace_extras(spec))
        if extras_dir is not None
    )
    more = {"workspace_extras": extras} if _EXTRAS in _FIELDS else {}
    return dataclasses.replace(
        spec,
        **more,  # type: ignore[arg-type]
        source_dir=source_dir,
        data_dir=pipeline / "data",
        cache_dir=cache_root / spec.cache_dir.name,
        log_path=pipeline / "logs" / spec.log_path.name,
    )
