"""Conducto-style builders for a repository's own tree generator script.

An event entry may say ``command = "python ci/pipeline.py"``; that script
builds a tree and prints it as JSON::

    from ci_bot.tree.builders import Exec, Parallel, Serial

    root = Serial(image="ci-bot/debian-python:bookworm")
    root["lint"] = Parallel()
    root["lint/ruff"] = Exec("ruff check .")
    root["test"] = Exec("pytest -q", retry=1)
    root.print()

Values are checked by the same code as conducto.cfg (``treejson.from_json``),
so a typo fails in the script, with the node's path in the message.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from ci_bot.tree.nodes import Node, split_path
from ci_bot.tree.treejson import from_json


class _Builder:
    type = "serial"

    def __init__(self, **params: Any) -> None:
        self.params = params
        self.children: dict[str, _Builder] = {}

    def __setitem__(self, path: str, child: _Builder) -> None:
        *parents, name = split_path(path)
        node = self
        for part in parents:
            node = node._container(path).children.setdefault(part, Serial())
        node._container(path).children[name] = child

    def _container(self, path: str) -> _Builder:
        """``self``, which is about to get a child: never an Exec, whose children are lost."""
        if isinstance(self, Exec):
            raise TypeError(f"cannot put {path!r} below an Exec")
        return self

    def __getitem__(self, path: str) -> _Builder:
        node = self
        for part in split_path(path):
            node = node.children[part]
        return node

    def raw(self, name: str = "/") -> dict[str, Any]:
        data: dict[str, Any] = {"name": name, "type": self.type, **self.params}
        if self.type != "exec":
            data["children"] = [child.raw(key) for key, child in self.children.items()]
        return data

    def tree(self) -> Node:
        """The checked tree; raises ConfigError naming the node and key that are wrong."""
        return from_json(self.raw())

    def print(self, file: TextIO | None = None) -> None:
        self.tree()  # fail here, in the script, rather than later in the bot
        print(json.dumps(self.raw(), indent=2), file=file or sys.stdout)


class Serial(_Builder):
    type = "serial"


class Parallel(_Builder):
    type = "parallel"


class Exec(_Builder):
    type = "exec"

    def __init__(self, command: str, **params: Any) -> None:
        super().__init__(run=command, **params)
