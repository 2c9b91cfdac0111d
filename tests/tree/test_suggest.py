"""Suggestions ("did you mean …?") for events and node paths typed on the command line."""

from __future__ import annotations

import pytest

from ci_bot.tree.suggest import events_meant, path_meant, unknown_event

PATHS = ["/", "/lint", "/lint/ruff", "/test", "/test/a", "/test/b", "/deploy"]


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("pull_request", ("pr",)),
        ("Pull_Request", ("pr",)),
        ("schedule", ("cron",)),
        ("create_tag", ("create-tag",)),
        ("psuh", ("push",)),
        ("create", ("create-branch", "create-tag")),
        ("xyzzy", ()),
    ],
)
def test_events_meant(typed: str, meant: tuple[str, ...]) -> None:
    assert events_meant(typed) == meant


def test_the_sentence_lists_the_events_and_the_one_meant() -> None:
    assert unknown_event("pull_request") == (
        "'pull_request' is not an event; events are pr, push, create-branch, delete-branch, "
        "create-tag, delete-tag, cron; did you mean 'pr'?"
    )
    assert unknown_event("delete").endswith("did you mean 'delete-branch' or 'delete-tag'?")
    assert "did you mean" not in unknown_event("xyzzy")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("test/b", "/test/b"),  # the leading slash left out
        ("/test/", "/test"),
        ("/tset/b", "/test/b"),  # a typo
        ("ruff", "/lint/ruff"),  # a bare name, unique in the tree
        ("b", "/test/b"),
        ("/nothing/like/it", None),
    ],
)
def test_paths_meant(typed: str, meant: str | None) -> None:
    assert path_meant(typed, PATHS) == meant
