"""`pull`, `build` and `services`: read, inherited, written back, and located when wrong."""

from __future__ import annotations

from textwrap import dedent

import pytest

from ci_bot.errors import ConfigError
from ci_bot.tree.config import parse_config
from ci_bot.tree.containers import BuildSpec, Service
from ci_bot.tree.nodes import NodeType, walk
from ci_bot.tree.render import draw_tree
from ci_bot.tree.treejson import from_json, to_json

HEAD = '[[push]]\npipeline = "ci"\n'

TREE = HEAD + dedent(
    """
    [pipeline.ci]
    image = "python:3.12-slim"
    pull = "always"

    [pipeline.ci.build]
    run = "make"

    [pipeline.ci.test]
    build = { dockerfile = "ci/Dockerfile", context = "ci", args = { PY = "3.12" }, target = "t" }

    [pipeline.ci.test.services.db]
    image = "postgres:16"
    env = { POSTGRES_PASSWORD = "x" }
    ready = "pg_isready"
    ready_timeout = "2m"

    [pipeline.ci.test.unit]
    run = "pytest"

    [pipeline.ci.test.lint]
    image = "ruff:1"
    run = "ruff check ."
    """
)


def resolved(text: str) -> dict[str, object]:
    tree = parse_config(text, "conducto.cfg").pipelines["ci"]
    return {path: r for path, _, r in walk(tree)}


def test_the_parameters_are_read_and_inherited() -> None:
    nodes = resolved(TREE)
    unit, lint, build = nodes["/test/unit"], nodes["/test/lint"], nodes["/build"]

    assert unit.build == BuildSpec("ci/Dockerfile", "ci", (("PY", "3.12"),), "t")  # type: ignore[attr-defined]
    assert unit.image is None  # type: ignore[attr-defined]
    assert unit.pull == "always"  # type: ignore[attr-defined]
    assert unit.services == (  # type: ignore[attr-defined]
        Service("db", "postgres:16", None, None, (("POSTGRES_PASSWORD", "x"),), "pg_isready", 120),
    )
    assert (lint.image, lint.build) == ("ruff:1", None)  # type: ignore[attr-defined]
    assert (build.image, build.build) == ("python:3.12-slim", None)  # type: ignore[attr-defined]


def test_a_stage_named_build_or_services_stays_a_child_node() -> None:
    text = HEAD + '[pipeline.ci]\nimage = "x"\n[pipeline.ci.build]\nrun = "make"\n'
    text += '[pipeline.ci.services.api]\nrun = "pytest api"\n'
    tree = parse_config(text, "c").pipelines["ci"]
    assert [c.name for c in tree.children] == ["build", "services"]
    assert tree.children[0].type is NodeType.EXEC
    assert tree.children[1].children[0].run == "pytest api"


def test_the_json_form_round_trips() -> None:
    tree = parse_config(TREE, "c").pipelines["ci"]
    assert from_json(to_json(tree)) == tree
    assert to_json(tree)["children"][1]["services"]["db"]["ready_timeout"] == "2m"


def test_plan_shows_the_build_where_it_shows_an_image() -> None:
    lines = draw_tree(parse_config(TREE, "c").pipelines["ci"])
    assert lines[0] == "/  serial  [image: python:3.12-slim]"
    assert "test  serial  [build: ci/Dockerfile]  [services: db (postgres:16)]" in lines[2]


@pytest.mark.parametrize(
    ("body", "line", "key", "says"),
    [
        (
            'pull = "sometimes"',
            4,
            "pipeline.ci.pull",
            'must be one of "missing", "always", "never"',
        ),
        ('build = { dockerfil = "x" }', 4, "pipeline.ci.build.dockerfil", "unknown key"),
        ('build = { dockerfile = "../x" }', 4, "pipeline.ci.build.dockerfile", "without '..'"),
        ('image = "x"\nbuild = "Dockerfile"', 5, "pipeline.ci.build", "either `image` or `build`"),
        (
            "[pipeline.ci.services.db]\nrun = 3\nimage = 'x'",
            7,
            "pipeline.ci.services.db.run",
            "string",
        ),
        (
            "[pipeline.ci.services.db]\nimage = 'x'\nbuild = 'y'",
            6,
            "pipeline.ci.services.db",
            "exactly one",
        ),
        ("[pipeline.ci.services.Db_1]\nimage = 'x'", 6, "pipeline.ci.services.Db_1", "DNS label"),
        (
            "[pipeline.ci.services.db]\nimage = 'x'\nready_timeout = 'soon'",
            8,
            "pipeline.ci.services.db.ready_timeout",
            "",
        ),
    ],
)
def test_problems_name_their_line_and_key(body: str, line: int, key: str, says: str) -> None:
    text = HEAD + "[pipeline.ci]\n" + body + '\n[pipeline.ci.x]\nrun = "true"\n'
    if body.startswith("[pipeline.ci.services"):
        text = HEAD + '[pipeline.ci]\nimage = "i"\nrun = "true"\n' + body + "\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "conducto.cfg")
    problems = caught.value.problems
    assert len(problems) == 1, problems
    problem = problems[0]
    assert (problem.line, problem.key) == (line, key), problem
    assert says in problem.message
