"""Which entry an event launches, and which nodes its `when` skips (design doc §1, §2)."""

from __future__ import annotations

from datetime import datetime
from textwrap import dedent

from ci_bot.tree.config import Config, parse_config
from ci_bot.tree.select import Event, NoMatch, Plan, apply_when, select


def config(text: str) -> Config:
    return parse_config(dedent(text).lstrip("\n"))


def plan(cfg: Config, event: Event) -> Plan:
    result = select(cfg, event)
    assert isinstance(result, Plan), result.explain() if isinstance(result, NoMatch) else result
    return result


def no_match(cfg: Config, event: Event) -> NoMatch:
    result = select(cfg, event)
    assert isinstance(result, NoMatch), result
    return result


PUSH_MAIN = Event("push", branch="main", repo="acme/app", sha="abc123")
PUSH_DEV = Event("push", branch="dev", repo="acme/app", sha="abc123")
PR = Event("pr", branch="feature", base_branch="main", pr="42", repo="acme/app")

# Conducto's own .conducto.cfg: generated trees for pull requests and pushes.
CONDUCTO_STYLE = config(
    """
    [pr]
    command = "python pipeline.py pr"

    [[push]]
    filter = "{branch} == main"
    command = "python pipeline.py deploy"

    [[push]]
    command = "python pipeline.py ci"
    """
)


def test_conducto_style_pr_runs_the_generated_tree() -> None:
    chosen = plan(CONDUCTO_STYLE, PR)
    assert chosen.tree is None
    assert chosen.entry.command == "python pipeline.py pr"
    assert chosen.skipped == {}


def test_conducto_style_push_to_main_takes_the_filtered_entry() -> None:
    chosen = plan(CONDUCTO_STYLE, PUSH_MAIN)
    assert (chosen.entry.index, chosen.entry.command) == (0, "python pipeline.py deploy")
    assert chosen.tree is None


def test_conducto_style_push_elsewhere_falls_back_to_the_second_entry() -> None:
    chosen = plan(CONDUCTO_STYLE, PUSH_DEV)
    assert (chosen.entry.index, chosen.entry.command) == (1, "python pipeline.py ci")


TREES = config(
    """
    [[push]]
    filter = "{branch} == main || {branch} == release/*"
    pipeline = "release"

    [[push]]
    filter = "{branch} == main"
    pipeline = "never"

    [[create-tag]]
    filter = "{tag} == v*"
    pipeline = "release"

    [[create-tag]]
    filter = "{tag} == nightly-*"
    pipeline = "release"

    [pipeline.release]
    image = "python:3.12"
    [pipeline.release.build]
    run = "make dist"
    [pipeline.release.publish]
    skip = true
    run = "./publish.sh"
    [pipeline.release.deploy]
    when = "{event} == push && {branch} == main"
    [pipeline.release.deploy.staging]
    run = "./deploy.sh staging"
    [pipeline.release.deploy.production]
    run = "./deploy.sh production"

    [pipeline.never]
    run = "false"
    """
)


def test_the_first_matching_entry_wins() -> None:
    chosen = plan(TREES, PUSH_MAIN)
    assert (chosen.entry.index, chosen.entry.pipeline) == (0, "release")
    assert chosen.tree is not None and chosen.tree.child("build") is not None


def test_an_entry_without_filter_always_matches() -> None:
    cfg = config('[push]\n[pipeline.main]\nrun = "x"\n')
    assert plan(cfg, Event("push", branch="anything")).entry.pipeline == "main"


def test_no_match_explains_every_entry_tried() -> None:
    result = no_match(TREES, Event("create-tag", tag="latest"))
    assert [entry.index for entry, _ in result.tried] == [0, 1]
    explanation = result.explain()
    for entry in TREES.entries_for("create-tag"):
        assert entry.label in explanation
        assert entry.filter is not None and entry.filter.source in explanation
    assert "'latest'" in explanation  # the substituted value that made each filter false


def test_no_section_for_the_event_says_so() -> None:
    result = no_match(TREES, PR)
    assert result.tried == ()
    assert "no [pr] section" in result.explain()
    assert "[push]" in result.explain() and "[create-tag]" in result.explain()


def test_when_false_marks_the_node_skipped_with_the_reason() -> None:
    chosen = plan(TREES, Event("push", branch="release/1.0"))
    assert set(chosen.skipped) == {"/deploy", "/publish"}
    assert "{event} == push && {branch} == main" in chosen.skipped["/deploy"]
    assert "'release/1.0'" in chosen.skipped["/deploy"]
    assert chosen.tree is not None
    deploy = chosen.tree.find("/deploy")
    assert deploy is not None and deploy.params.skip is True


def test_when_true_leaves_the_node_to_run() -> None:
    chosen = plan(TREES, PUSH_MAIN)
    assert set(chosen.skipped) == {"/publish"}
    assert chosen.tree is not None
    deploy = chosen.tree.find("/deploy")
    assert deploy is not None and not deploy.params.skip


def test_skip_true_is_reported() -> None:
    chosen = plan(TREES, PUSH_MAIN)
    assert "skip = true" in chosen.skipped["/publish"]


def test_the_children_of_a_skipped_node_are_not_listed_again() -> None:
    chosen = plan(TREES, Event("create-tag", tag="v1.0"))
    assert "/deploy" in chosen.skipped
    assert "/deploy/staging" not in chosen.skipped


def test_apply_when_leaves_the_tree_alone_when_nothing_is_skipped() -> None:
    root = config('[push]\n[pipeline.main]\na.run = "x"\nb.run = "y"\n').pipelines["main"]
    tree, skipped = apply_when(root, PUSH_MAIN)
    assert tree is root
    assert skipped == {}


def test_event_values_are_what_filters_see() -> None:
    assert PR.values() == {
        "event": "pr",
        "branch": "feature",
        "base_branch": "main",
        "tag": "",
        "sha": "",
        "repo": "acme/app",
        "pr": "42",
        "author": "",
    }


def test_a_cron_entry_applies_only_at_its_minute_and_on_its_branch() -> None:
    config = parse_config(
        """
        [[cron]]
        schedule = "0 3 * * *"
        pipeline = "main"
        [[cron]]
        schedule = "0 12 * * *"
        branch = "release"
        pipeline = "main"
        [pipeline.main.a]
        run = "a"
        """
    )
    three = select(config, Event("cron", branch="main", at=datetime(2026, 1, 1, 3, 0)))
    assert isinstance(three, Plan) and three.entry.index == 0
    noon = select(config, Event("cron", branch="release", at=datetime(2026, 1, 1, 12, 0)))
    assert isinstance(noon, Plan) and noon.entry.index == 1
    wrong_branch = select(config, Event("cron", branch="main", at=datetime(2026, 1, 1, 12, 0)))
    assert isinstance(wrong_branch, NoMatch)
    explained = wrong_branch.explain()
    assert "does not fire at 2026-01-01 12:00 UTC" in explained
    assert "builds branch 'release', not 'main'" in explained
    anytime = select(config, Event("cron", branch="main"))  # `ci-bot plan` without --at
    assert isinstance(anytime, Plan) and anytime.entry.index == 0
