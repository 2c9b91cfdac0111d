"""What changed since the base, and ``changed("GLOB")`` in filters and ``when``."""

from __future__ import annotations

import pytest

from ci_bot.tree.changes import ChangeSet
from ci_bot.tree.filters import FilterSyntaxError, parse_filter

BASE = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"
TOUCHED_A = ChangeSet.of(BASE, ["services/a/app.py", "README.md"])


def test_changed_holds_when_a_changed_file_matches() -> None:
    rule = parse_filter('changed("services/a/**")')
    assert rule.evaluate({}, TOUCHED_A)
    assert rule.explain({}, TOUCHED_A) == "services/a/app.py changed since 1a2b3c4d5e6f"


def test_changed_is_false_with_the_files_that_did_change() -> None:
    rule = parse_filter("changed(services/b)")
    assert not rule.evaluate({}, TOUCHED_A)
    assert rule.explain({}, TOUCHED_A) == (
        "no file changed since 1a2b3c4d5e6f is under services/b "
        "(changed: README.md, services/a/app.py)"
    )


def test_without_a_base_every_file_counts_as_changed() -> None:
    unknown = ChangeSet.unknown("main is new and is the default branch")
    rule = parse_filter("changed(services/b)")
    assert rule.evaluate({}, unknown)
    assert rule.explain({}, unknown) == (
        "main is new and is the default branch, so every file counts as changed"
    )


def test_without_change_facts_changed_holds() -> None:
    assert parse_filter("changed(anything)").evaluate({})


def test_a_global_path_changes_everything() -> None:
    changes = ChangeSet.of(BASE, ["conducto.cfg"]).considering(["conducto.cfg"])
    rule = parse_filter("changed(services/b)")
    assert rule.evaluate({}, changes)
    assert rule.explain({}, changes) == "conducto.cfg changed, which changes everything"
    assert not ChangeSet.of(BASE, ["x"]).considering(["conducto.cfg"]).all_changed


def test_changed_combines_with_the_other_operators() -> None:
    rule = parse_filter('{branch} == main && !changed("docs/**") || changed(libs)')
    assert rule.evaluate({"branch": "main"}, TOUCHED_A)
    assert not rule.evaluate({"branch": "main"}, ChangeSet.of(BASE, ["docs/x.md"]))
    assert rule.evaluate({"branch": "dev"}, ChangeSet.of(BASE, ["libs/y.py"]))


def test_a_word_named_changed_is_still_a_value() -> None:
    assert parse_filter("{branch} == changed").evaluate({"branch": "changed"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("changed(/etc)", "relative to the repository's root"),
        ("changed(a/../b)", "without '..'"),
        ('changed("")', "the path pattern is empty"),
        ("changed(a", "')' to close changed("),
        ("changed()", "expected a value"),
    ],
)
def test_a_bad_changed_is_a_syntax_error(text: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_filter(text)


def test_placeholders_are_filled_as_quoted_literals() -> None:
    rule = parse_filter('{matrix.os} != alpine && changed("{service.dir}/**")')
    assert rule.placeholders() == ["matrix.os", "service.dir"]
    filled = rule.substitute({"matrix.os": "debian bookworm", "service.dir": "services/a"})
    assert filled.source == '"debian bookworm" != alpine && changed("services/a/**")'
    assert filled.evaluate({}, TOUCHED_A)
    assert filled.substitute({"matrix.os": "x"}) is filled  # nothing left to fill
