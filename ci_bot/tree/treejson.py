"""A tree as JSON (contract §4), both ways.

Generated trees (an event entry's ``command``), ``ci-bot plan --json`` and the
HTTP API share this shape.  ``from_json`` checks a tree exactly as the TOML
parser does, with lines in the JSON text, so a generated tree with a bad key
gets the same kind of error as a hand-written one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ci_bot.errors import ConfigError, ConfigProblem
from ci_bot.tree.build import MAX_DEPTH, NODE_KEYS, check_name, read_params, read_structure
from ci_bot.tree.expand import expand_matrices
from ci_bot.tree.locate import locate_json
from ci_bot.tree.nodes import Node, NodeType
from ci_bot.tree.params import PARAMS
from ci_bot.tree.problems import KeyPath, ProblemLog, line_with_most, unknown_key

GENERATED = "<generated tree>"
_JSON_KEYS = ("name", "type", "children")  # keys of the JSON form beyond those of a TOML node


def to_json(node: Node) -> dict[str, Any]:
    """The JSON object for ``node`` and everything below it."""
    data: dict[str, Any] = {"name": node.name, "type": node.type.value}
    if node.run is not None:
        data["run"] = node.run
    for name, value in node.params.items():
        data[name] = PARAMS[name].write(value)
    if not node.is_exec:
        data["children"] = [to_json(child) for child in node.children]
    return data


def dumps(node: Node) -> str:
    return json.dumps(to_json(node), indent=2)


def from_json(data: str | Mapping[str, Any], file: str = GENERATED) -> Node:
    """A tree from JSON text (or an already-decoded object); raises ConfigError."""
    source = data if isinstance(data, str) else json.dumps(data, indent=2)
    try:
        decoded = json.loads(source)
    except json.JSONDecodeError as error:
        problem = ConfigProblem(
            file, error.lineno, f"not valid JSON: {error.msg}", column=error.colno
        )
        raise ConfigError([problem]) from None
    except RecursionError:
        problem = ConfigProblem(
            file, line_with_most(source, "[{"), "not valid JSON: nested too deeply"
        )
        raise ConfigError([problem]) from None
    except ValueError as error:  # a number too long to convert, say
        problem = ConfigProblem(
            file, line_with_most(source, "0123456789"), f"not valid JSON: {error}"
        )
        raise ConfigError([problem]) from None
    log = ProblemLog(file, locate_json(source), describe=lambda path: _describe(decoded, path))
    if not isinstance(decoded, Mapping):
        log.add((), "a tree must be a JSON object with name, type and children")
        log.raise_if_any()
    root = _read_node(decoded, (), log, is_root=True)
    log.raise_if_any()
    root = expand_matrices(root, (), log, lambda path, index, name: (*path, "children", index))
    log.raise_if_any()
    return root


def _read_node(data: Mapping[str, Any], path: KeyPath, log: ProblemLog, *, is_root: bool) -> Node:
    name = data.get("name", "/" if is_root else None)
    if not isinstance(name, str):
        log.add(path, "every node needs a string `name`")
        name = "?"
    elif not is_root:
        check_name(name, (*path, "name"), log)
    if len(path) // 2 > MAX_DEPTH:  # path is ("children", index) per level
        log.add(path, f"nodes may nest at most {MAX_DEPTH} deep")
        return Node(name=name, type=NodeType.SERIAL)
    params, rest = read_params(data, path, log)
    run, _ = read_structure(rest, path, log)
    node_type = _read_type(rest, run, path, log)
    for key in rest:
        if key not in (*NODE_KEYS, *_JSON_KEYS):
            log.add((*path, key), unknown_key(key, (*NODE_KEYS, *_JSON_KEYS), "for a node"))
    children = _read_children(rest.get("children"), node_type, path, log)
    return Node(name=name, type=node_type, run=run, params=params, children=children)


def _read_type(
    rest: Mapping[str, Any], run: str | None, path: KeyPath, log: ProblemLog
) -> NodeType:
    declared = rest.get("type")
    if declared is None:
        parallel = rest.get("parallel") is True
        return (
            NodeType.EXEC if run is not None else NodeType.PARALLEL if parallel else NodeType.SERIAL
        )
    try:
        node_type = NodeType(declared)
    except ValueError:
        log.add((*path, "type"), f"{declared!r} is not a node type; use serial, parallel or exec")
        return NodeType.EXEC if run is not None else NodeType.SERIAL
    if (node_type is NodeType.EXEC) != (run is not None):
        log.add((*path, "type"), "an exec node needs `run`, and only exec nodes may have it")
    elif node_type is NodeType.SERIAL and rest.get("parallel") is True:
        log.add((*path, "parallel"), 'a "serial" node cannot be parallel; say "type": "parallel"')
    return node_type


def _read_children(
    value: Any, node_type: NodeType, path: KeyPath, log: ProblemLog
) -> tuple[Node, ...]:
    if node_type is NodeType.EXEC:
        if value:
            log.add((*path, "children"), "an exec node cannot have children")
        return ()
    if not isinstance(value, list) or not value:
        log.add(path, "is empty: a serial or parallel node needs a non-empty `children` list")
        return ()
    children = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        item_path = (*path, "children", index)
        if not isinstance(item, Mapping):
            log.add(item_path, "each child must be a JSON object")
            continue
        child = _read_node(item, item_path, log, is_root=False)
        if child.name in seen:
            log.add((*item_path, "name"), f"two children are named {child.name!r}")
        seen.add(child.name)
        children.append(child)
    return tuple(children)


def _describe(decoded: Any, path: KeyPath) -> str:
    """("children", 0, "runn") → "/lint: runn", naming nodes by their path."""
    node_path, node, rest = "", decoded, list(path)
    while len(rest) >= 2 and rest[0] == "children" and isinstance(rest[1], int):
        try:
            node = node["children"][rest[1]]
            node_path += f"/{node.get('name', '?')}"
        except (KeyError, IndexError, TypeError, AttributeError):
            break
        rest = rest[2:]
    where = node_path or "/"
    return f"{where}: {'.'.join(str(part) for part in rest)}" if rest else where
