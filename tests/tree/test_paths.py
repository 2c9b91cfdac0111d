"""Globs over repository paths: changed(), for_each and changes_everything."""

from __future__ import annotations

import pytest

from ci_bot.tree.paths import check_pattern, covers, directories_of, matches


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("services/*", "services/a", True),
        ("services/*", "services/a/app.py", False),
        ("services/**", "services/a/app.py", True),
        ("services/**", "services", True),  # ** matches no segment too
        ("**/test_*.py", "services/a/test_app.py", True),
        ("**/test_*.py", "test_top.py", True),
        ("services/*/app.py", "services/a/app.py", True),
        ("services/?", "services/ab", False),
        ("*.md", "README.md", True),
        ("*.md", "docs/README.md", False),
        ("*", ".github", True),  # dots are not special
        ("a/**/**/b", "a/x/y/b", True),
    ],
)
def test_matches_the_whole_path_segment_by_segment(pattern: str, path: str, expected: bool) -> None:
    assert matches(pattern, path) is expected


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("services/a", "services/a/src/app.py", True),  # a directory covers what it holds
        ("services/a/**", "services/a/src/app.py", True),
        ("services/*", "services/b/app.py", True),
        ("services/a", "services/ab/app.py", False),
        ("services/a", "libs/services/a/x", False),
        ("conducto.cfg", "conducto.cfg", True),
        ("", "anything", False),
    ],
)
def test_covers_a_path_or_a_directory_it_lies_in(pattern: str, path: str, expected: bool) -> None:
    assert covers(pattern, path) is expected


def test_directories_of_lists_every_holding_directory() -> None:
    files = ["README.md", "services/a/app.py", "services/b/x/y.py"]
    assert directories_of(files) == ["services", "services/a", "services/b", "services/b/x"]


@pytest.mark.parametrize("pattern", ["", "  ", "/etc", "services/../secrets"])
def test_check_pattern_refuses_what_cannot_be_in_the_repository(pattern: str) -> None:
    with pytest.raises(ValueError):
        check_pattern(pattern)


def test_many_stars_stay_fast_and_correct() -> None:
    path = "/".join(["a"] * 60)
    assert not matches("/".join(["**"] * 30 + ["b"]), path)
    assert matches("/".join(["**", "a"] * 30), path)
