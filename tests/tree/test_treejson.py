"""A tree as JSON (design doc §4): both ways, and the same errors as conducto.cfg."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from textwrap import dedent
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_bot.errors import ConfigError, ConfigProblem
from ci_bot.tree.build import MAX_DEPTH
from ci_bot.tree.config import parse_config
from ci_bot.tree.filters import parse_filter
from ci_bot.tree.nodes import Node, NodeType
from ci_bot.tree.params import Params, Reuse
from ci_bot.tree.treejson import GENERATED, dumps, from_json, to_json


def problems_of(data: str | dict[str, Any]) -> tuple[ConfigProblem, ...]:
    with pytest.raises(ConfigError) as caught:
        from_json(data)
    return caught.value.problems


def problem_named(problems: tuple[ConfigProblem, ...], key: str) -> ConfigProblem:
    """The one problem about ``key`` (a typo may bring a follow-on problem, such as no `run`)."""
    [problem] = [problem for problem in problems if problem.key == key]
    return problem


def text(source: str) -> str:
    return dedent(source).lstrip("\n")


def exec_json(name: str, **params: Any) -> dict[str, Any]:
    return {"name": name, "type": "exec", "run": "true", **params}


def serial_json(*children: dict[str, Any], **params: Any) -> dict[str, Any]:
    return {"name": "/", "type": "serial", **params, "children": list(children)}


# --- the shape ---------------------------------------------------------------------------

CONTRACT_EXAMPLE = """
{"name": "/", "type": "serial", "image": "python:3.12-slim",
 "children": [
   {"name": "lint", "type": "parallel", "children": [
     {"name": "ruff", "type": "exec", "run": "ruff check ."}]},
   {"name": "build", "type": "exec", "run": "python -m build"}]}
"""


def test_contract_example() -> None:
    root = from_json(CONTRACT_EXAMPLE)
    assert (root.name, root.type, root.params.image) == ("/", NodeType.SERIAL, "python:3.12-slim")
    lint, build = root.children
    assert (lint.name, lint.type, build.run) == ("lint", NodeType.PARALLEL, "python -m build")
    assert lint.children[0] == Node("ruff", NodeType.EXEC, run="ruff check .")


def test_to_json_writes_types_parameters_and_children() -> None:
    root = parse_config(
        text(
            """
            [push]
            [pipeline.main]
            timeout = "20m"
            env = { A = "1" }
            [pipeline.main.lint]
            parallel = true
            mem = "2g"
            ruff.run = "ruff check ."
            [pipeline.main.deploy]
            run = "./deploy.sh"
            when = "{branch} == main"
            reuse = { inputs = ["src/**"] }
            """
        )
    ).pipelines["main"]
    assert to_json(root) == {
        "name": "/",
        "type": "serial",
        "env": {"A": "1"},
        "timeout": "20m",
        "children": [
            {
                "name": "lint",
                "type": "parallel",
                "mem": "2g",
                "children": [{"name": "ruff", "type": "exec", "run": "ruff check ."}],
            },
            {
                "name": "deploy",
                "type": "exec",
                "run": "./deploy.sh",
                "when": "{branch} == main",
                "reuse": {"inputs": ["src/**"], "outputs": []},
            },
        ],
    }


def test_type_may_be_left_out() -> None:
    root = from_json(
        {
            "children": [
                {"name": "a", "run": "x"},
                {"name": "b", "parallel": True, "children": [exec_json("c")]},
            ]
        }
    )
    assert [child.type for child in root.children] == [NodeType.EXEC, NodeType.PARALLEL]
    assert root.name == "/"


def test_the_file_name_is_generated_unless_given() -> None:
    [problem] = problems_of("[]")
    assert problem.file == GENERATED
    with pytest.raises(ConfigError) as caught:
        from_json("[]", file="ci/pipeline.py")
    assert caught.value.problems[0].file == "ci/pipeline.py"


# --- errors, located in the JSON text ---------------------------------------------------

GENERATED_WITH_A_TYPO = """
{
  "name": "/",
  "type": "serial",
  "children": [
    {"name": "lint", "type": "parallel", "children": [
      {"name": "ruff", "type": "exec",
       "runn": "ruff check ."}
    ]}
  ]
}
"""


def test_bad_key_in_a_generated_tree_names_the_line_the_node_and_the_key() -> None:
    problem = problem_named(problems_of(text(GENERATED_WITH_A_TYPO)), "/lint/ruff: runn")
    assert problem.line == 7
    assert "did you mean 'run'?" in problem.message


def test_a_bad_key_gets_the_same_error_in_json_and_in_toml() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config('[push]\n[pipeline.main.a]\nrunn = "x"\n')
    from_toml = problem_named(caught.value.problems, "pipeline.main.a.runn")
    generated = serial_json({"name": "a", "type": "exec", "runn": "x"})
    from_json_text = problem_named(problems_of(generated), "/a: runn")
    sentence = "unknown key 'runn' for a node; did you mean 'run'?"
    assert from_toml.message.endswith(sentence)
    assert from_json_text.message.endswith(sentence)


@pytest.mark.parametrize(
    ("source", "line", "key", "says"),
    [
        pytest.param(
            """
            {"name": "/", "type": "serial", "children": [
              {"name": "test", "type": "exec", "run": "pytest",
               "retry": "2"}]}
            """,
            3,
            "/test: retry",
            "whole number",
            id="wrong-type",
        ),
        pytest.param(
            """
            {"name": "/", "type": "serial", "children": [
              {"name": "test", "type": "exec", "run": "pytest", "env": {
                "A": "1",
                "B": 2}}]}
            """,
            4,
            "/test: env.B",
            "quote it",
            id="env-value",
        ),
        pytest.param(
            """
            {"name": "/",
             "type": "serial"}
            """,
            1,
            "/",
            "children",
            id="missing-children",
        ),
        pytest.param(
            """
            {"name": "/", "type": "serial",
             "children": []}
            """,
            1,
            "/",
            "children",
            id="empty-children",
        ),
        pytest.param(
            """
            {"name": "/", "type": "serial", "children": [
              {"name": "a", "type": "exec", "run": "x"},
              {"name": "a", "type": "exec", "run": "y"}]}
            """,
            3,
            "/a: name",
            "'a'",
            id="duplicate-child-names",
        ),
        pytest.param(
            """
            {"name": "/", "type": "serial", "children": [
              {"name": "a",
               "type": "sequential", "run": "x"}]}
            """,
            3,
            "/a: type",
            "serial, parallel or exec",
            id="bad-type",
        ),
        pytest.param(
            """
            {"name": "/", "type": "serial", "children": [
              {"name": "a",
               "type": "exec"}]}
            """,
            3,
            "/a: type",
            "`run`",
            id="exec-without-run",
        ),
        pytest.param(
            """
            {"name": "/", "type": "serial", "children": [
              {"name": "a b", "type": "exec", "run": "x"}]}
            """,
            2,
            "/a b: name",
            "letters, digits",
            id="bad-name",
        ),
        pytest.param(
            """
            {"name": "/", "type": "serial", "children": [
              {"type": "exec", "run": "x"}]}
            """,
            2,
            "/?",
            "`name`",
            id="missing-name",
        ),
        pytest.param(
            """
            {"name": "/", "type": "serial", "children": [
              "ruff check ."]}
            """,
            2,
            "/: children.0",
            "JSON object",
            id="child-not-an-object",
        ),
        pytest.param(
            """
            {"name": "/", "type": "exec", "run": "x",
             "children": [{"name": "a", "type": "exec", "run": "y"}]}
            """,
            2,
            "/: children",
            "cannot have children",
            id="exec-with-children",
        ),
        pytest.param(
            """
            {"name": "/", "type": "serial", "parallel": true,
             "children": [{"name": "a", "type": "exec", "run": "y"}]}
            """,
            1,
            "/: parallel",
            '"parallel"',
            id="serial-said-parallel",
        ),
        pytest.param(
            """
            {"name": "/", "type": "serial",
             "chilren": [{"name": "a", "type": "exec", "run": "y"}]}
            """,
            2,
            "/: chilren",
            "did you mean 'children'?",
            id="misspelt-children",
        ),
    ],
)
def test_problem_in_json_names_the_line_and_the_key(
    source: str, line: int, key: str, says: str
) -> None:
    problem = problem_named(problems_of(text(source)), key)
    assert problem.line == line
    assert says in problem.message


@pytest.mark.parametrize("source", ['"a tree"', "[]", "42", "null"])
def test_root_must_be_an_object(source: str) -> None:
    [problem] = problems_of(source)
    assert "JSON object" in problem.message


def test_invalid_json_has_line_and_column() -> None:
    [problem] = problems_of('{\n  "name": "/",\n  "type": "serial",,\n}')
    assert (problem.line, problem.column) == (3, 20)
    assert "not valid JSON" in problem.message


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("[" * 100_000 + "]" * 100_000, id="nested-arrays"),
        pytest.param('{"name": "/", "cpu": ' + "9" * 5000 + "}", id="huge-number"),
    ],
)
def test_hostile_json_gets_a_config_error(source: str) -> None:
    [problem] = problems_of(source)
    assert "not valid JSON" in problem.message


def test_nesting_past_the_limit_is_a_config_error() -> None:
    node = exec_json("leaf")
    for _ in range(MAX_DEPTH + 1):
        node = {"name": "n", "type": "serial", "children": [node]}
    problems = problems_of(node)
    assert [f"at most {MAX_DEPTH}" in problem.message for problem in problems] == [True]


def test_every_problem_is_reported() -> None:
    problems = problems_of(
        serial_json(exec_json("a", retry=-1), exec_json("b", timeout="soon"), {"name": "c"})
    )
    assert [problem.key for problem in problems] == ["/a: retry", "/b: timeout", "/c"]


# --- round trips -----------------------------------------------------------------------

# Names made only of dots ("." and "..") are refused (nodes.name_problem).
names = st.from_regex(r"[A-Za-z0-9_.-]{1,10}", fullmatch=True).filter(lambda n: n.strip("."))
env_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
words = st.text(min_size=1, max_size=20).filter(str.strip)
data_globs = st.from_regex(r"[a-z*]{1,4}(/[a-z.*]{1,4}){0,2}", fullmatch=True).filter(
    lambda glob: ".." not in glob.split("/")
)
filters = st.sampled_from(
    [
        "{branch} == main",
        "{event} == push && {branch} == release/*",
        "!{pr}",
        "({tag} == v* || {branch} != main) && {repo} == acme/*",
    ]
).map(parse_filter)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


params = st.builds(
    Params,
    image=maybe(words),
    env=maybe(st.dictionaries(env_names, st.text(max_size=10), max_size=3)),
    secrets=maybe(st.lists(env_names, max_size=3).map(tuple)),
    timeout=maybe(st.integers(min_value=1, max_value=10**7)),  # written as "1h30m"
    skip=maybe(st.booleans()),
    stop_on_error=maybe(st.booleans()),
    suppress_errors=maybe(st.booleans()),
    max_concurrent=maybe(st.integers(min_value=1, max_value=64)),
    retry=maybe(st.integers(min_value=0, max_value=10)),
    when=maybe(filters),
    concurrency=maybe(words),
    reuse=maybe(
        st.builds(
            Reuse,
            inputs=st.lists(data_globs, max_size=3).map(tuple),
            outputs=st.lists(data_globs, max_size=3).map(tuple),
        )
    ),
    sign=maybe(st.lists(data_globs, max_size=3).map(tuple)),
    requires_docker=maybe(st.booleans()),
    cpu=maybe(st.floats(min_value=0.01, max_value=512)),
    mem=maybe(st.integers(min_value=1, max_value=2**50)),  # bytes; written as "2g" when whole
    doc=maybe(words),
)


def exec_node(name: str, run: str, params: Params) -> Node:
    return Node(name, NodeType.EXEC, run=run, params=params)


def container(name: str, kind: NodeType, params: Params, children: list[Node]) -> Node:
    return Node(name, kind, params=params, children=tuple(children))


def containers(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.builds(
        container,
        names,
        st.sampled_from([NodeType.SERIAL, NodeType.PARALLEL]),
        params,
        st.lists(children, min_size=1, max_size=4, unique_by=lambda node: node.name),
    )


execs = st.builds(exec_node, names, words, params)
trees = st.recursive(execs, containers, max_leaves=10).map(lambda root: replace(root, name="/"))


@given(trees)
def test_a_tree_survives_to_json_and_back(tree: Node) -> None:
    assert from_json(to_json(tree)) == tree


@given(trees)
def test_a_tree_survives_json_text_and_back(tree: Node) -> None:
    source = dumps(tree)
    assert json.loads(source) == to_json(tree)
    assert from_json(source) == tree


@given(st.text())
def test_arbitrary_text_raises_nothing_but_config_error(source: str) -> None:
    with contextlib.suppress(ConfigError):
        from_json(source)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["name", "type", "run", "children", "env", "retry", "when", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=15,
)


@given(json_values)
def test_arbitrary_json_raises_nothing_but_config_error(value: Any) -> None:
    with contextlib.suppress(ConfigError):
        from_json(json.dumps(value))
