"""Every key the parser accepts is documented in docs/config.md (datasette-style)."""

from __future__ import annotations

import re

import pytest

from ci_bot.tree.config import ENTRY_KEYS, EVENTS
from ci_bot.tree.filters import VARIABLES
from ci_bot.tree.params import PARAMS, STRUCTURE_KEYS
from tests.conftest import REPO_ROOT

DOC = (REPO_ROOT / "docs" / "config.md").read_text(encoding="utf-8")
HEADINGS = set(re.findall(r"^### `([^`]+)`$", DOC, flags=re.MULTILINE))


@pytest.mark.parametrize("key", [*STRUCTURE_KEYS, *PARAMS])
def test_node_key_documented(key: str) -> None:
    assert key in HEADINGS


@pytest.mark.parametrize("key", [*ENTRY_KEYS, *EVENTS])
def test_event_key_documented(key: str) -> None:
    assert key in HEADINGS


@pytest.mark.parametrize("name", VARIABLES)
def test_filter_variable_documented(name: str) -> None:
    assert f"`{{{name}}}`" in DOC


def test_docs_name_no_key_the_parser_rejects() -> None:
    accepted = {*STRUCTURE_KEYS, *PARAMS, *ENTRY_KEYS, *EVENTS}
    assert accepted >= HEADINGS
