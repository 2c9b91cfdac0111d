"""``matrix``: one child per combination of values, as GitHub Actions has it.

``matrix = {python = ["3.11", "3.12"], os = ["debian", "alpine"]}`` makes every
combination of the axes, the first axis varying slowest.  ``exclude`` drops the
combinations that hold all the key/values of one of its tables (a partial match
is enough); then each ``include`` table is added to every combination whose
*axis* values it does not contradict (values added by an earlier include may be
overwritten), and becomes a combination of its own when it fits none.  A
combination is named after its axis values (``3.11-debian``); one that only an
include made is named after all of its values.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_COMBINATIONS = 256  # GitHub Actions' limit: past it a matrix is a mistake, not a plan
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNNAMEABLE = re.compile(r"[^A-Za-z0-9_.-]+")
_LISTS = ("exclude", "include")


class MatrixError(ValueError):
    """A matrix that cannot be expanded; ``at`` leads to the item inside the table."""

    def __init__(self, message: str, at: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.at = at


@dataclass(frozen=True)
class Matrix:
    axes: tuple[tuple[str, tuple[str, ...]], ...]
    exclude: tuple[tuple[tuple[str, str], ...], ...] = ()
    include: tuple[tuple[tuple[str, str], ...], ...] = ()


@dataclass(frozen=True)
class Combination:
    name: str  # the child's node name
    values: Mapping[str, str]  # key → value, axes first


def read_matrix(value: Any) -> Matrix:
    """The typed matrix, or MatrixError (a ValueError) locating what is wrong."""
    if not isinstance(value, Mapping):
        raise MatrixError('must be a table such as {python = ["3.11", "3.12"]}')
    axes = tuple((key, _read_axis(key, items)) for key, items in value.items() if key not in _LISTS)
    matrix = Matrix(
        axes=axes,
        exclude=_read_tables("exclude", value.get("exclude", [])),
        include=_read_tables("include", value.get("include", [])),
    )
    if not matrix.axes and not matrix.include:
        raise MatrixError("has no values: give at least one key with a list of values")
    axis_names = {key for key, _ in axes}
    for index, table in enumerate(matrix.exclude):
        for key, _ in table:
            if key not in axis_names:
                message = f"exclude names {key!r}, which is not a key of the matrix"
                raise MatrixError(message, ("exclude", index, key))
    combinations(matrix)  # too many, or two with one name: an error now, not at launch
    return matrix


def write_matrix(matrix: Matrix) -> dict[str, Any]:
    data: dict[str, Any] = {key: list(values) for key, values in matrix.axes}
    for name in _LISTS:
        tables = getattr(matrix, name)
        if tables:
            data[name] = [dict(table) for table in tables]
    return data


def combinations(matrix: Matrix) -> list[Combination]:
    """Every combination, in order, each with its name; MatrixError when two share a name
    or there are more than MAX_COMBINATIONS."""
    keys = [key for key, _ in matrix.axes]
    product = [dict(zip(keys, values, strict=True)) for values in _product(matrix)]
    kept = [combo for combo in product if not any(_holds(combo, ex) for ex in matrix.exclude)]
    made: list[tuple[dict[str, str], list[str]]] = [(combo, keys) for combo in kept]
    for table in matrix.include:
        fitting = [combo for combo, _ in made[: len(kept)] if _fits(combo, table, keys)]
        for combo in fitting:
            combo.update(table)
        if not fitting:
            made.append((dict(table), [key for key, _ in table]))
    if len(made) > MAX_COMBINATIONS:
        raise MatrixError(f"makes {len(made)} combinations, more than {MAX_COMBINATIONS}")
    return _named(made)


def _product(matrix: Matrix) -> list[tuple[str, ...]]:
    if not matrix.axes:
        return []
    size = 1
    for _, values in matrix.axes:
        size *= len(values)
        if size > MAX_COMBINATIONS:
            raise MatrixError(f"makes {size} or more combinations, more than {MAX_COMBINATIONS}")
    return list(itertools.product(*(values for _, values in matrix.axes)))


def _holds(combo: Mapping[str, str], table: tuple[tuple[str, str], ...]) -> bool:
    return all(combo.get(key) == value for key, value in table)


def _fits(combo: Mapping[str, str], table: tuple[tuple[str, str], ...], axes: list[str]) -> bool:
    """An include table fits a combination when it changes none of its axis values."""
    return all(combo[key] == value for key, value in table if key in axes)


def _named(made: list[tuple[dict[str, str], list[str]]]) -> list[Combination]:
    found: list[Combination] = []
    seen: dict[str, Mapping[str, str]] = {}
    for combo, naming in made:
        name = "-".join(_UNNAMEABLE.sub("_", combo[key]) for key in naming) or "default"
        if name in seen:
            raise MatrixError(
                f"two combinations would both be named {name!r} ({dict(seen[name])} and "
                f"{combo}); make their values differ in more than punctuation"
            )
        if not name.strip("."):  # "." or "..": a path step, not a name (nodes.name_problem)
            raise MatrixError(f"a combination cannot be named {name!r}: give other values")
        seen[name] = combo
        found.append(Combination(name, dict(combo)))
    return found


def _read_axis(key: str, items: Any) -> tuple[str, ...]:
    _check_key(key, (key,))
    if not isinstance(items, list) or not items:
        raise MatrixError(f"{key} must be a non-empty list of values", (key,))
    values = tuple(_read_value(item, (key, index)) for index, item in enumerate(items))
    if len(set(values)) != len(values):
        raise MatrixError(f"{key} lists a value twice", (key,))
    return values


def _read_tables(name: str, value: Any) -> tuple[tuple[tuple[str, str], ...], ...]:
    if not isinstance(value, list):
        raise MatrixError(f"{name} must be a list of tables such as [{{os = 'alpine'}}]", (name,))
    tables = []
    for index, table in enumerate(value):
        if not isinstance(table, Mapping) or not table:
            raise MatrixError(f"each {name} entry must be a non-empty table", (name, index))
        for key in table:
            _check_key(key, (name, index, key))
        tables.append(
            tuple((key, _read_value(item, (name, index, key))) for key, item in table.items())
        )
    return tuple(tables)


def _check_key(key: str, at: tuple[str | int, ...]) -> None:
    if not _KEY.fullmatch(key):
        message = f"{key!r} cannot name a matrix value: letters, digits and _ (it becomes MATRIX_…)"
        raise MatrixError(message, at)


def _read_value(item: Any, at: tuple[str | int, ...]) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int | str) and str(item):
        return str(item)
    if isinstance(item, float):  # 3.10 would silently become "3.1"
        message = f"{item} is a number with a point, which loses trailing zeros (3.10 is 3.1)"
        raise MatrixError(f"{message}: quote it", at)
    raise MatrixError("values must be strings, whole numbers or booleans", at)
