"""Expanding ``matrix`` and ``for_each``: one node becomes a Parallel of copies.

Both work alike.  The node keeps what describes the group (``when``, ``skip``,
``max_concurrent``, ``suppress_errors``, ``doc`` and every inherited parameter)
and becomes a Parallel; each copy below it is named after its values, gets them
in its ``env`` (``MATRIX_PYTHON``, ``CI_SERVICE_DIR``) and has its placeholders
(``{matrix.python}``, ``{service.dir}``) filled in the ``run``, ``image`` and
``when`` of the whole subtree.  A ``when`` or ``image`` that uses the
placeholders moves down to the copies, since each copy's is its own.

Matrices expand when the config is read (``expand_matrices``: ``plan`` shows
them); ``for_each`` needs the commit's directories, so it expands when a
pipeline is planned for one (``expand_for_each``).  Inner expansions run first,
so the nearest matrix wins a placeholder both could fill.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from ci_bot.tree.matrix import MatrixError, combinations
from ci_bot.tree.nodes import Node, NodeType, join_path
from ci_bot.tree.params import Params
from ci_bot.tree.paths import matches
from ci_bot.tree.placeholders import MATRIX, SERVICE, fill, used_in
from ci_bot.tree.problems import KeyPath, ProblemLog

ChildPath = Callable[[KeyPath, int, str], KeyPath]  # where a child's keys are, for problems
_UNNAMEABLE = "\"'\n\r"


@dataclass(frozen=True)
class Variant:
    """One copy: its name, the env it adds and the placeholders it fills."""

    name: str
    env: Mapping[str, str]
    values: Mapping[str, str]


# --- matrices: when the config is read ---------------------------------------------------


def expand_matrices(node: Node, path: KeyPath, log: ProblemLog, child_path: ChildPath) -> Node:
    """``node`` with every matrix in it expanded; problems go to ``log`` at their keys."""
    check_placeholders(node, path, log, child_path)
    return _expand_matrices(node, path, log, child_path)


def _expand_matrices(node: Node, path: KeyPath, log: ProblemLog, child_path: ChildPath) -> Node:
    children = tuple(
        _expand_matrices(child, child_path(path, index, child.name), log, child_path)
        for index, child in enumerate(node.children)
    )
    node = replace(node, children=children)
    matrix = node.params.matrix
    if matrix is None:
        return node
    if node.params.for_each is not None:
        log.add((*path, "for_each"), "a node takes `matrix` or `for_each`, not both")
        return node
    try:
        variants = [
            Variant(
                combo.name,
                {f"MATRIX_{key.upper()}": value for key, value in combo.values.items()},
                {f"{MATRIX}{key}": value for key, value in combo.values.items()},
            )
            for combo in combinations(matrix)
        ]
        return expand(replace(node, params=replace(node.params, matrix=None)), variants)
    except MatrixError as error:
        log.add((*path, "matrix", *error.at), str(error))
    except ValueError as error:  # a value a filter cannot quote
        log.add((*path, "when"), str(error))
    return node


def check_placeholders(node: Node, path: KeyPath, log: ProblemLog, child_path: ChildPath) -> None:
    """Every placeholder must have a ``matrix`` (with that name) or a ``for_each`` at or
    above its node: anything else would reach the shell as literal text."""
    _check(node, path, log, child_path, frozenset(), for_each=False)


def _check(
    node: Node,
    path: KeyPath,
    log: ProblemLog,
    child_path: ChildPath,
    names: frozenset[str],
    *,
    for_each: bool,
) -> None:
    if node.params.matrix is not None:
        matrix = node.params.matrix
        included = {key for table in matrix.include for key, _ in table}
        names = names | {key for key, _ in matrix.axes} | included
    for_each = for_each or node.params.for_each is not None
    for key, text in _templated(node):
        for name in used_in(text):
            if name.startswith(MATRIX) and name.removeprefix(MATRIX) not in names:
                known = ", ".join(sorted(names)) or "none"
                log.add(
                    (*path, key),
                    f"uses {{{name}}}, but no matrix at or above this node sets "
                    f"{name.removeprefix(MATRIX)!r} (matrix values here: {known})",
                )
            elif name.startswith(SERVICE) and not for_each:
                log.add((*path, key), f"uses {{{name}}}, but no for_each is at or above this node")
    for index, child in enumerate(node.children):
        where = child_path(path, index, child.name)
        _check(child, where, log, child_path, names, for_each=for_each)


def _templated(node: Node) -> list[tuple[str, str]]:
    found = [("run", node.run or ""), ("image", node.params.image or "")]
    if node.params.when is not None:
        found.append(("when", node.params.when.source))
    return found


# --- for_each: when a pipeline is planned for a commit ---------------------------------------


def expand_for_each(root: Node, directories: Sequence[str]) -> tuple[Node, dict[str, str]]:
    """``root`` with every ``for_each`` expanded over ``directories`` (the commit's, relative
    to its root); a ``for_each`` matching none is skipped, the reason by path."""
    skipped: dict[str, str] = {}
    return _for_each(root, "/", directories, skipped), skipped


def _for_each(node: Node, path: str, directories: Sequence[str], skipped: dict[str, str]) -> Node:
    children = tuple(
        _for_each(child, join_path(path, child.name), directories, skipped)
        for child in node.children
    )
    node = replace(node, children=children)
    pattern = node.params.for_each
    if pattern is None:
        return node
    found = [d for d in directories if matches(pattern, d) and not set(d) & set(_UNNAMEABLE)]
    if not found:
        skipped[path] = f"for_each {pattern!r} matches no directory of this commit"
        return replace(node, params=replace(node.params, skip=True))
    names = _service_names(found)
    variants = [
        Variant(
            name,
            {"CI_SERVICE_DIR": directory, "CI_SERVICE_NAME": name},
            {f"{SERVICE}dir": directory, f"{SERVICE}name": name},
        )
        for name, directory in zip(names, found, strict=True)
    ]
    return expand(replace(node, params=replace(node.params, for_each=None)), variants)


def _service_names(directories: list[str]) -> list[str]:
    """Each directory's last part as a node name; its whole path where two share one."""
    last = [_as_name(directory.rsplit("/", 1)[-1]) for directory in directories]
    if len(set(last)) == len(last):
        return last
    return [_as_name(directory.replace("/", "-")) for directory in directories]


def _as_name(text: str) -> str:
    name = "".join(char if char.isalnum() or char in "_.-" else "_" for char in text)
    return name if name.strip(".") else f"_{name}"


# --- the copying both share --------------------------------------------------------------------


def expand(node: Node, variants: Sequence[Variant]) -> Node:
    """``node`` as a Parallel of one filled copy per variant (the shared part of matrix and
    for_each); ValueError when a filled ``when`` cannot be written."""
    params = node.params
    own = {name for variant in variants for name in variant.values}
    image_varies = bool(set(used_in(params.image or "")) & own)
    when_varies = params.when is not None and bool(set(params.when.placeholders()) & own)
    group = replace(
        params,
        image=None if image_varies else params.image,
        when=None if when_varies else params.when,
        release=None,
    )
    copies = tuple(_copy(node, variant, image_varies, when_varies) for variant in variants)
    return Node(name=node.name, type=NodeType.PARALLEL, params=group, children=copies)


def _copy(node: Node, variant: Variant, image_varies: bool, when_varies: bool) -> Node:
    params = node.params
    when = params.when.substitute(variant.values) if when_varies and params.when else None
    own = Params(
        image=fill(params.image, variant.values) if image_varies and params.image else None,
        when=when,
        env=dict(variant.env),
        release=params.release,
    )
    children = tuple(_filled(child, variant.values) for child in node.children)
    return Node(
        name=variant.name,
        type=node.type,
        run=fill(node.run, variant.values) if node.run is not None else None,
        params=own,
        children=children,
    )


def _filled(node: Node, values: Mapping[str, str]) -> Node:
    params = node.params
    filled = replace(
        params,
        image=fill(params.image, values) if params.image else params.image,
        when=params.when.substitute(values) if params.when else None,
    )
    return replace(
        node,
        run=fill(node.run, values) if node.run is not None else None,
        params=filled,
        children=tuple(_filled(child, values) for child in node.children),
    )
