"""Stored pipelines for the store's and the engine's tests, from a few lines of TOML."""

from __future__ import annotations

from textwrap import dedent

from ci_bot.store.records import NewPipeline
from ci_bot.store.store import Store
from ci_bot.tree.config import parse_config
from ci_bot.tree.nodes import Node
from ci_bot.tree.select import Event, apply_when
from ci_bot.tree.treejson import dumps

PUSH_MAIN = Event("push", branch="main", sha="abc123", repo="acme/app")


def tree(text: str) -> Node:
    """The [pipeline.main] tree of ``text``."""
    return parse_config("[push]\n" + dedent(text).lstrip("\n")).pipelines["main"]


def create_pipeline(store: Store, text: str, event: Event = PUSH_MAIN) -> int:
    """Store the [pipeline.main] tree of ``text`` for ``event``, its skips and ``when`` applied."""
    root, skipped = apply_when(tree(text), event)
    new = NewPipeline(
        repo=event.repo,
        event=event.name,
        tree_json=dumps(root),
        branch=event.branch,
        sha=event.sha,
        pr=event.pr,
        tag=event.tag,
    )
    return store.create_pipeline(new, root, skipped)
