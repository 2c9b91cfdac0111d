"""The node model: Serial, Parallel and Exec, and what each Exec inherits.

A tree is made of frozen ``Node`` values.  A node holds only the parameters it
sets itself; ``walk`` resolves, for every node, what it actually gets: ``env``
merged down the path (the nearer node wins), every other inherited parameter
from the nearest node that sets it, then the default.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ci_bot.tree.params import PARAMS, Params

NAME = re.compile(r"[A-Za-z0-9_.-]+")


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a node (None: it can).  A node's name is a step of its
    page's URL and of ``/rerun PATH``: ``.`` and ``..`` would be read as "here" and
    "the parent", so names made only of dots are refused."""
    if not NAME.fullmatch(name):
        return f"node name {name!r} may hold only letters, digits, '_', '.' and '-'"
    if not name.strip("."):
        return (
            f"node name {name!r} is only dots, which paths and URLs read as 'here' or 'up'; "
            "add a letter or a digit"
        )
    return None


class NodeType(StrEnum):
    SERIAL = "serial"
    PARALLEL = "parallel"
    EXEC = "exec"


@dataclass(frozen=True)
class Node:
    name: str
    type: NodeType
    run: str | None = None
    params: Params = field(default_factory=Params)
    children: tuple[Node, ...] = ()

    @property
    def is_exec(self) -> bool:
        return self.type is NodeType.EXEC

    def child(self, name: str) -> Node | None:
        return next((c for c in self.children if c.name == name), None)

    def find(self, path: str) -> Node | None:
        """The node at ``path`` ("/", "/lint/ruff"), or None."""
        node: Node | None = self
        for part in split_path(path):
            node = node.child(part) if node else None
        return node


@dataclass(frozen=True)
class Resolved:
    """The parameters a node ends up with after inheritance and defaults."""

    values: Mapping[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @classmethod
    def defaults(cls) -> Resolved:
        return cls({name: spec.default for name, spec in PARAMS.items()})

    def below(self, params: Params) -> Resolved:
        """What a child that sets ``params`` resolves to, with ``self`` as its parent's."""
        values: dict[str, Any] = {}
        for name, spec in PARAMS.items():
            own = getattr(params, name)
            if name == "env":
                values[name] = {**self.values["env"], **(own or {})}
            elif name in _IMAGE_SOURCES and _other_image_source(name, params) is not None:
                values[name] = None  # the nearer of `image` and `build` wins
            elif own is not None:
                values[name] = own
            else:
                values[name] = self.values[name] if spec.inherited else spec.default
        return Resolved(values)


_IMAGE_SOURCES = ("image", "build")


def _other_image_source(name: str, params: Params) -> Any:
    """The node's own value of the other image source (``build`` for ``image``, and back)."""
    return getattr(params, "build" if name == "image" else "image")


def join_path(parent: str, name: str) -> str:
    return f"/{name}" if parent == "/" else f"{parent}/{name}"


def split_path(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def walk(root: Node) -> Iterator[tuple[str, Node, Resolved]]:
    """Every node in tree order with its path and resolved parameters."""
    stack: list[tuple[str, Node, Resolved]] = [("/", root, Resolved.defaults().below(root.params))]
    while stack:
        path, node, resolved = stack.pop()
        yield path, node, resolved
        for child in reversed(node.children):
            stack.append((join_path(path, child.name), child, resolved.below(child.params)))


def exec_paths(root: Node) -> list[str]:
    return [path for path, node, _ in walk(root) if node.is_exec]


def count_nodes(root: Node) -> tuple[int, int]:
    """(all nodes, Execs)."""
    nodes = list(walk(root))
    return len(nodes), sum(1 for _, node, _ in nodes if node.is_exec)
