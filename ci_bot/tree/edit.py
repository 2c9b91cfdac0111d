"""Changing an Exec's command in a tree (``ci-bot reset … --run``, Conducto's "Modify").

Pure: a tree in, a new tree out.  Only an Exec has a command; a Serial or a
Parallel is made of its children, so asking to change one's command is refused
with a sentence that says what to do instead.
"""

from __future__ import annotations

from dataclasses import replace

from ci_bot.tree.nodes import Node, split_path


def command_refusal(root: Node, path: str, run: str) -> str | None:
    """Why ``path`` cannot be given the command ``run``, or None.  A path with no
    node is the caller's NotFound, not a refusal: it is not checked here."""
    node = root.find(path)
    if node is not None and not node.is_exec:
        return (
            f"{path} is a {node.type.value}: only an Exec has a command to change; "
            "reset one of its Execs with --run"
        )
    if not run.strip():
        return "the new command is empty: give the command the node should run"
    return None


def with_command(root: Node, path: str, run: str) -> Node:
    """``root`` with the Exec at ``path`` running ``run``; everything else shared.
    Raises ValueError with the refusal when it cannot be, LookupError without the node."""
    if root.find(path) is None:
        raise LookupError(f"no node {path}")
    refusal = command_refusal(root, path, run)
    if refusal is not None:
        raise ValueError(refusal)
    return _replaced(root, split_path(path), run)


def _replaced(node: Node, parts: list[str], run: str) -> Node:
    if not parts:
        return replace(node, run=run)
    first, rest = parts[0], parts[1:]
    children = tuple(
        _replaced(child, rest, run) if child.name == first else child for child in node.children
    )
    return replace(node, children=children)
