"""``matrix``: one child per combination, GitHub Actions' exclude/include, errors with lines."""

from __future__ import annotations

from textwrap import dedent

import pytest

from ci_bot.errors import ConfigError
from ci_bot.tree.config import parse_config
from ci_bot.tree.matrix import combinations, read_matrix
from ci_bot.tree.nodes import Node, NodeType, walk
from ci_bot.tree.render import draw_tree
from ci_bot.tree.treejson import dumps, from_json

TWO_BY_TWO = """\
[push]
[pipeline.main]
image = "base"
[pipeline.main.test]
matrix = { os = ["debian", "alpine"], python = ["3.11", "3.12"], \
exclude = [{ python = "3.11", os = "alpine" }] }
image = "python:{matrix.python}-{matrix.os}"
run = "tox -e py{matrix.python} --os {matrix.os}"
max_concurrent = 2
"""


def tree(source: str) -> Node:
    return parse_config(dedent(source)).pipelines["main"]


def test_a_two_by_two_matrix_with_one_exclusion_makes_three_children() -> None:
    test = tree(TWO_BY_TWO).find("/test")
    assert test is not None and test.type is NodeType.PARALLEL
    assert [child.name for child in test.children] == ["debian-3.11", "debian-3.12", "alpine-3.12"]
    resolved = {path: r for path, _, r in walk(tree(TWO_BY_TWO))}
    assert resolved["/test/alpine-3.12"].env == {"MATRIX_OS": "alpine", "MATRIX_PYTHON": "3.12"}
    assert resolved["/test/alpine-3.12"].image == "python:3.12-alpine"
    assert resolved["/test/debian-3.11"].image == "python:3.11-debian"
    assert tree(TWO_BY_TWO).find("/test/debian-3.12").run == "tox -e py3.12 --os debian"  # type: ignore[union-attr]


def test_the_group_keeps_what_describes_it_and_the_copies_inherit_the_rest() -> None:
    test = tree(TWO_BY_TWO).find("/test")
    assert test is not None
    assert test.params.max_concurrent == 2 and test.params.matrix is None
    assert test.params.image is None  # each copy has its own


def test_plan_shows_the_expansion() -> None:
    assert draw_tree(tree(TWO_BY_TWO)) == [
        "/  serial  [image: base]",
        "└── test  parallel",
        "    ├── debian-3.11  $ tox -e py3.11 --os debian  [image: python:3.11-debian]",
        "    ├── debian-3.12  $ tox -e py3.12 --os debian  [image: python:3.12-debian]",
        "    └── alpine-3.12  $ tox -e py3.12 --os alpine  [image: python:3.12-alpine]",
    ]


def test_the_expanded_tree_survives_json() -> None:
    expanded = tree(TWO_BY_TWO)
    assert from_json(dumps(expanded)) == expanded


def test_include_adds_to_matching_combinations_or_makes_its_own() -> None:
    # GitHub Actions' documented example.
    matrix = read_matrix(
        {
            "fruit": ["apple", "pear"],
            "animal": ["cat", "dog"],
            "include": [
                {"color": "green"},
                {"color": "pink", "animal": "cat"},
                {"fruit": "apple", "shape": "circle"},
                {"fruit": "banana"},
                {"fruit": "banana", "animal": "cat"},
            ],
        }
    )
    found = [dict(combo.values) for combo in combinations(matrix)]
    assert found == [
        {"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"},
        {"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"},
        {"fruit": "pear", "animal": "cat", "color": "pink"},
        {"fruit": "pear", "animal": "dog", "color": "green"},
        {"fruit": "banana"},
        {"fruit": "banana", "animal": "cat"},
    ]
    names = [combo.name for combo in combinations(matrix)]
    assert names == ["apple-cat", "apple-dog", "pear-cat", "pear-dog", "banana", "banana-cat"]


def test_a_subtree_matrix_copies_the_subtree_and_fills_it() -> None:
    source = """\
    [push]
    [pipeline.main]
    image = "base"
    [pipeline.main.db]
    matrix = { engine = ["postgres", "mysql"] }
    [pipeline.main.db.migrate]
    run = "migrate --to {matrix.engine}"
    [pipeline.main.db.check]
    run = "check $MATRIX_ENGINE"
    """
    paths = [path for path, _, _ in walk(tree(source))]
    assert paths == [
        "/",
        "/db",
        "/db/postgres",
        "/db/postgres/migrate",
        "/db/postgres/check",
        "/db/mysql",
        "/db/mysql/migrate",
        "/db/mysql/check",
    ]
    assert tree(source).find("/db/mysql/migrate").run == "migrate --to mysql"  # type: ignore[union-attr]


def test_a_when_using_the_matrix_moves_to_each_copy() -> None:
    source = """\
    [push]
    [pipeline.main]
    image = "base"
    [pipeline.main.t]
    matrix = { os = ["debian", "alpine"] }
    when = "{matrix.os} != alpine"
    run = "true"
    """
    t = tree(source)
    assert t.find("/t").params.when is None  # type: ignore[union-attr]
    alpine = t.find("/t/alpine")
    assert alpine is not None and alpine.params.when is not None
    assert alpine.params.when.source == '"alpine" != alpine'


@pytest.mark.parametrize(
    ("matrix", "line", "message"),
    [
        ('"x"', 5, "matrix: must be a table"),
        ("{}", 5, "matrix: has no values"),
        ("{ os = [] }", 5, "matrix.os: os must be a non-empty list"),
        (
            "{ os = [3.10] }",
            5,
            "3.1 is a number with a point, which loses trailing zeros (3.10 is 3.1): quote it",
        ),
        ("{ os = ['a', 'a'] }", 5, "lists a value twice"),
        ("{ os = ['a'], exclude = [{ python = '3' }] }", 5, "exclude names 'python'"),
        ("{ 'o-s' = ['a'] }", 5, "cannot name a matrix value"),
        ("{ os = ['a/b', 'a:b'] }", 5, "would both be named 'a_b'"),
        (
            "{ a = ['1','2','3','4','5','6','7'], b = ['1','2','3','4','5','6','7'], "
            "c = ['1','2','3','4','5','6'] }",
            5,
            "more than 256",
        ),
    ],
)
def test_a_bad_matrix_is_a_config_error_with_its_line(matrix: str, line: int, message: str) -> None:
    head = '[push]\n[pipeline.main]\nimage = "x"\n[pipeline.main.t]\n'
    source = f'{head}matrix = {matrix}\nrun = "true"\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(source)
    [problem] = caught.value.problems
    assert problem.line == line
    assert message in problem.message


def test_a_placeholder_no_matrix_fills_is_a_config_error() -> None:
    source = """\
    [push]
    [pipeline.main]
    image = "x"
    [pipeline.main.t]
    matrix = { os = ["a"] }
    run = "echo {matrix.python}"
    [pipeline.main.u]
    run = "cd {service.dir}"
    """
    with pytest.raises(ConfigError) as caught:
        parse_config(dedent(source))
    problems = [(p.line, p.message) for p in caught.value.problems]
    assert problems == [
        (
            6,
            "pipeline.main.t.run: uses {matrix.python}, but no matrix at or above this node "
            "sets 'python' (matrix values here: os)",
        ),
        (8, "pipeline.main.u.run: uses {service.dir}, but no for_each is at or above this node"),
    ]


def test_a_stage_named_matrix_is_still_a_stage() -> None:
    source = '[push]\n[pipeline.main]\nimage = "x"\n[pipeline.main.matrix]\nrun = "true"\n'
    assert [c.name for c in parse_config(source).pipelines["main"].children] == ["matrix"]


def test_a_generated_tree_may_use_a_matrix() -> None:
    generated = from_json(
        '{"name": "/", "type": "serial", "image": "x", "children": [{"name": "t", "type": "exec",'
        ' "run": "echo {matrix.n}", "matrix": {"n": [1, 2]}}]}'
    )
    assert [c.run for c in generated.children[0].children] == ["echo 1", "echo 2"]
