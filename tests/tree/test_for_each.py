"""``for_each`` over a commit's directories, with ``changed()``: a monorepo's plan."""

from __future__ import annotations

from dataclasses import replace
from textwrap import dedent

from ci_bot.tree.changes import ChangeSet
from ci_bot.tree.config import parse_config
from ci_bot.tree.expand import expand_for_each
from ci_bot.tree.nodes import walk
from ci_bot.tree.select import Event, NoMatch, Plan, changes_everything, select

MONOREPO = dedent(
    """\
    [[push]]
    pipeline = "ci"

    [pipeline.ci]
    image = "base"
    [pipeline.ci.services]
    for_each = "services/*"
    when = 'changed("{service.dir}") || changed(libs/shared)'
    [pipeline.ci.services.test]
    run = "cd {service.dir} && make test"
    [pipeline.ci.services.image]
    run = "docker build -t $CI_SERVICE_NAME ."
    """
)
DIRECTORIES = ["libs", "libs/shared", "services", "services/a", "services/b", "services/a/src"]
BASE = "0123456789abcdef0123456789abcdef01234567"


def plan(files: list[str] | None, source: str = MONOREPO) -> Plan:
    changes = ChangeSet.unknown("no base") if files is None else ChangeSet.of(BASE, files)
    chosen = select(
        parse_config(source), Event("push", branch="main", changes=changes), DIRECTORIES
    )
    assert not isinstance(chosen, NoMatch)
    return chosen


def test_one_subtree_per_service_with_its_directory() -> None:
    tree = plan(["services/a/app.py"]).tree
    assert tree is not None
    resolved = {path: (node, r) for path, node, r in walk(tree)}
    assert [p for p in resolved if p.startswith("/services/")] == [
        "/services/a",
        "/services/a/test",
        "/services/a/image",
        "/services/b",
        "/services/b/test",
        "/services/b/image",
    ]
    node, env = resolved["/services/b/test"][0], resolved["/services/b/test"][1].env
    assert node.run == "cd services/b && make test"
    assert env == {"CI_SERVICE_DIR": "services/b", "CI_SERVICE_NAME": "b"}


def test_a_commit_touching_one_service_skips_the_other_with_the_reason() -> None:
    chosen = plan(["services/a/src/app.py"])
    assert chosen.skipped == {
        "/services/b": "when 'changed(\"services/b\") || changed(libs/shared)' is false: no file "
        "changed since 0123456789ab is under services/b (changed: services/a/src/app.py); "
        "no file changed since 0123456789ab is under libs/shared (changed: services/a/src/app.py)"
    }


def test_a_change_to_the_shared_library_builds_every_service() -> None:
    assert plan(["libs/shared/util.py"]).skipped == {}


def test_a_change_to_the_config_changes_everything() -> None:
    chosen = plan(["conducto.cfg"])
    assert chosen.skipped == {}
    assert chosen.changes.everything == "conducto.cfg changed, which changes everything"


def test_the_config_can_say_a_change_to_it_is_just_a_change() -> None:
    source = MONOREPO.replace('pipeline = "ci"', 'pipeline = "ci"\nchanges_everything = []')
    assert set(plan(["conducto.cfg"], source).skipped) == {"/services/a", "/services/b"}


def test_without_a_base_nothing_is_skipped() -> None:
    assert plan(None).skipped == {}


def test_a_for_each_matching_nothing_is_skipped_saying_so() -> None:
    tree = parse_config(MONOREPO).pipelines["ci"]
    expanded, skipped = expand_for_each(tree, ["docs"])
    assert skipped == {"/services": "for_each 'services/*' matches no directory of this commit"}
    assert expanded.find("/services").params.skip  # type: ignore[union-attr]
    chosen = select(parse_config(MONOREPO), Event("push"), ["docs"])
    assert not isinstance(chosen, NoMatch)
    assert chosen.skipped == skipped


def test_services_sharing_a_name_are_named_by_their_path() -> None:
    source = MONOREPO.replace('"services/*"', '"*/api"')
    chosen = select(parse_config(source), Event("push"), ["apps/api", "tools/api"])
    assert not isinstance(chosen, NoMatch) and chosen.tree is not None
    assert [c.name for c in chosen.tree.find("/services").children] == ["apps-api", "tools-api"]  # type: ignore[union-attr]


def test_changed_in_an_entry_filter_picks_the_entry() -> None:
    source = dedent(
        """\
        [[push]]
        filter = 'changed("docs/**")'
        pipeline = "docs"
        [[push]]
        pipeline = "ci"
        [pipeline.docs]
        image = "x"
        [pipeline.docs.build]
        run = "mkdocs build"
        [pipeline.ci]
        image = "x"
        [pipeline.ci.test]
        run = "make test"
        """
    )
    config = parse_config(source)
    docs = select(config, Event("push", changes=ChangeSet.of(BASE, ["docs/index.md"])))
    code = select(config, Event("push", changes=ChangeSet.of(BASE, ["src/app.py"])))
    assert not isinstance(docs, NoMatch) and docs.entry.pipeline == "docs"
    assert not isinstance(code, NoMatch) and code.entry.pipeline == "ci"


def test_a_generator_script_changes_everything_by_default() -> None:
    config = parse_config('[push]\ncommand = "python3 ci/pipeline.py --event push"\nimage = "x"\n')
    entry = config.entries[0]
    assert changes_everything(entry, "conducto.cfg") == ("conducto.cfg", "ci/pipeline.py")
    assert changes_everything(replace(entry, changes_everything=("a",)), "x") == ("a",)
