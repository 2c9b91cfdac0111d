"""Turning one node's keys (from TOML or from JSON) into a typed ``Node``.

Both front ends — ``config`` for conducto.cfg and ``treejson`` for generated
trees — read parameters here, so a bad key gets the same error either way.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from ci_bot.tree.containers import SERVICE_KEYS
from ci_bot.tree.nodes import name_problem
from ci_bot.tree.params import PARAMS, STRUCTURE_KEYS, Params, read_bool, read_string
from ci_bot.tree.problems import KeyPath, ProblemLog, unknown_key

NODE_KEYS = (*STRUCTURE_KEYS, *PARAMS)
MAX_DEPTH = 100  # nodes below a root; deeper trees would exhaust the stack of every walker
_TABLE_PARAMS = tuple(name for name, spec in PARAMS.items() if spec.takes_table)


def read_params(
    values: Mapping[str, Any], path: KeyPath, log: ProblemLog
) -> tuple[Params, Mapping[str, Any]]:
    """The parameters among ``values`` and the keys left for the caller (children, run…)."""
    found: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in values.items():
        spec = PARAMS.get(key)
        if spec is None or is_child_table(key, value):
            rest[key] = value
            continue
        typed = log.read((*path, key), spec.read, value)
        if typed is not None:
            found[key] = typed
    if "image" in found and "build" in found:
        log.add((*path, "build"), "a node gives either `image` or `build`, not both")
    return Params(**found), rest


def read_structure(
    values: Mapping[str, Any], path: KeyPath, log: ProblemLog
) -> tuple[str | None, bool]:
    """``run`` and ``parallel``, checked."""
    run = None
    if "run" in values and not is_child_table("run", values["run"]):
        run = log.read((*path, "run"), read_string, values["run"])
    parallel = False
    if "parallel" in values and not is_child_table("parallel", values["parallel"]):
        parallel = bool(log.read((*path, "parallel"), read_bool, values["parallel"]))
    if run is not None and parallel:
        log.add((*path, "parallel"), "an Exec (a node with `run`) cannot be parallel")
    return run, parallel


def is_child_table(key: str, value: Any) -> bool:
    """A table under a parameter's name (``[pipeline.ci.sign]``) is a child node named so,
    unless the parameter itself takes a table (``env``, ``reuse``, ``build``, ``services``)."""
    if not isinstance(value, Mapping):
        return False
    if key in ("build", "release"):  # `[pipeline.ci.build]` is most often a stage named so
        return _looks_like_node(value)
    if key == "matrix":  # every value of a matrix is a list; a stage has `run` or tables
        return not all(isinstance(item, list) for item in value.values())
    if key == "services":
        return not all(_looks_like_service(item) for item in value.values())
    return key not in _TABLE_PARAMS


def _looks_like_node(table: Mapping[str, Any]) -> bool:
    """Node keys or child tables: a stage named ``build``, not a ``build = {…}`` table."""
    return bool(set(table) & set(NODE_KEYS)) or any(
        isinstance(item, Mapping) for key, item in table.items() if key != "args"
    )


def _looks_like_service(table: Any) -> bool:
    """A service names an image or a build; a child Exec inherits its image and has `run`."""
    return (
        isinstance(table, Mapping)
        and bool({"image", "build"} & set(table))
        and set(table) <= SERVICE_KEYS
    )


def check_name(name: str, path: KeyPath, log: ProblemLog) -> bool:
    problem = name_problem(name)
    if problem is None:
        return True
    log.add(path, problem)
    return False


def looks_like_misspelt_param(key: str, value: Any) -> bool:
    """``evn = {A = "1"}`` is a typo for ``env``, not a child named "evn"."""
    if any(isinstance(item, Mapping) or name in NODE_KEYS for name, item in value.items()):
        return False  # it holds node keys or tables: a child node
    return bool(difflib.get_close_matches(key, _TABLE_PARAMS, n=1, cutoff=0.6))


def unknown_node_key(key: str) -> str:
    return unknown_key(key, NODE_KEYS, "for a node")
