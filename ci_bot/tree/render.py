"""Drawing a tree as indented text for the terminal (``ci-bot plan``, ``ci-bot run``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ci_bot.tree.nodes import Node, NodeType, join_path

Annotate = Callable[[str, Node], str]


def draw_tree(root: Node, annotate: Annotate | None = None) -> list[str]:
    """One line per node, with box-drawing branches; ``annotate(path, node)`` adds text."""
    lines: list[str] = []
    _draw(root, "/", "", "", annotate or describe_node, lines)
    return lines


def describe_node(path: str, node: Node) -> str:
    text = f"$ {_one_line(node.run or '')}" if node.type is NodeType.EXEC else node.type.value
    return "  ".join([text, *_containers(node)])


def _containers(node: Node) -> list[str]:
    """Where the node's own containers come from, where it sets that itself."""
    params = node.params
    shown = []
    if params.image:
        shown.append(f"[image: {params.image}]")
    if params.build:
        shown.append(f"[{params.build.describe()}]")
    if params.services:
        names = ", ".join(f"{s.name} ({s.source})" for s in params.services)
        shown.append(f"[services: {names}]")
    return shown


def plan_annotation(skipped: Mapping[str, str]) -> Annotate:
    def annotate(path: str, node: Node) -> str:
        text = describe_node(path, node)
        return f"{text}  [skipped: {skipped[path]}]" if path in skipped else text

    return annotate


def _draw(
    node: Node, path: str, lead: str, branch: str, annotate: Annotate, lines: list[str]
) -> None:
    label = "/" if path == "/" else node.name
    lines.append(f"{lead}{branch}{label}  {annotate(path, node)}".rstrip())
    if path != "/":
        lead += "    " if branch == "└── " else "│   "
    for index, child in enumerate(node.children):
        last = index == len(node.children) - 1
        _draw(child, join_path(path, child.name), lead, "└── " if last else "├── ", annotate, lines)


def _one_line(command: str, width: int = 60) -> str:
    first = command.strip().splitlines()[0] if command.strip() else ""
    more = first != command.strip()
    if len(first) > width:
        return first[: width - 1] + "…"
    return first + (" …" if more else "")
