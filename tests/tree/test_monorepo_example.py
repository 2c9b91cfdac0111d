"""``examples/monorepo`` (``make demo`` runs it) plans as its comments say."""

from __future__ import annotations

from ci_bot.tree.changes import ChangeSet
from ci_bot.tree.config import parse_config
from ci_bot.tree.nodes import walk
from ci_bot.tree.select import Event, NoMatch, Plan, select
from tests.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "monorepo"
DIRECTORIES = ["ci", "libs", "libs/shared", "services", "services/api", "services/web"]


def plan(event: Event) -> Plan:
    config = parse_config((EXAMPLE / "conducto.cfg").read_text(encoding="utf-8"))
    chosen = select(config, event, DIRECTORIES)
    assert not isinstance(chosen, NoMatch)
    return chosen


def push(*files: str) -> Event:
    return Event("push", branch="main", changes=ChangeSet.of("a" * 40, files))


def test_a_push_touching_the_api_runs_its_subtree_only() -> None:
    assert set(plan(push("services/api/app.py")).skipped) == {"/services/web", "/shared"}


def test_a_change_to_the_shared_library_runs_everything() -> None:
    assert plan(push("libs/shared/greeting.py")).skipped == {}


def test_the_shared_library_runs_under_three_combinations() -> None:
    tree = plan(push("libs/shared/greeting.py")).tree
    assert tree is not None
    shared = tree.find("/shared")
    assert shared is not None
    assert [c.name for c in shared.children] == ["0-0", "0-random", "2-0"]


def test_a_tag_packages_each_service_then_signs_and_releases() -> None:
    tree = plan(Event("create-tag", tag="v1.0")).tree
    assert tree is not None
    resolved = {path: r for path, _, r in walk(tree)}
    assert [p for p in resolved if p.startswith("/package/")] == ["/package/api", "/package/web"]
    publish = resolved["/publish"]
    assert publish.git_depth == 0 and publish.sign == ("dist/*.pyz",)
    assert publish.release.files == ("dist/*.pyz",)
