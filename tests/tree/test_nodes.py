"""The node model: paths, walking, and what each node inherits (design doc §2)."""

from __future__ import annotations

from textwrap import dedent
from typing import Any

import pytest

from ci_bot.tree.config import parse_config
from ci_bot.tree.nodes import (
    Node,
    NodeType,
    Resolved,
    count_nodes,
    exec_paths,
    join_path,
    split_path,
    walk,
)
from ci_bot.tree.params import PARAMS, Params, Reuse


def tree(text: str) -> Node:
    """The [pipeline.main] tree of ``text``."""
    return parse_config("[push]\n" + dedent(text).lstrip("\n")).pipelines["main"]


def resolved(root: Node) -> dict[str, Resolved]:
    return {path: values for path, _, values in walk(root)}


def exec_node(name: str, **params: Any) -> Node:
    return Node(name, NodeType.EXEC, run="true", params=Params(**params))


def serial(name: str, *children: Node, **params: Any) -> Node:
    return Node(name, NodeType.SERIAL, params=Params(**params), children=children)


INHERITING = """
[pipeline.main]
image = "python:3.12"
env = { A = "root", B = "root" }
timeout = "20m"
retry = 1
stop_on_error = false
concurrency = "db"
requires_docker = true
cpu = 2
mem = "1g"
sign = ["dist/*"]
secrets = ["TOKEN"]
reuse = { inputs = ["src/**"] }
skip = true
when = "{branch} == main"
suppress_errors = true
max_concurrent = 2
doc = "the root"

[pipeline.main.test]
env = { B = "test", C = "test" }
image = "python:3.13"
timeout = "5m"

[pipeline.main.test.unit]
run = "pytest"
env = { C = "unit" }

[pipeline.main.test.other]
run = "pytest other"
retry = 3
"""


def test_env_is_merged_down_the_path_and_the_nearer_node_wins() -> None:
    env = {path: values.env for path, values in resolved(tree(INHERITING)).items()}
    assert env["/"] == {"A": "root", "B": "root"}
    assert env["/test"] == {"A": "root", "B": "test", "C": "test"}
    assert env["/test/unit"] == {"A": "root", "B": "test", "C": "unit"}
    assert env["/test/other"] == {"A": "root", "B": "test", "C": "test"}


def test_parameters_come_from_the_nearest_node_that_sets_them() -> None:
    values = resolved(tree(INHERITING))
    assert values["/test/unit"].image == "python:3.13"
    assert values["/test/unit"].timeout == 5 * 60
    assert values["/test/unit"].retry == 1
    assert values["/test/other"].retry == 3
    assert values["/"].timeout == 20 * 60


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("stop_on_error", False),
        ("concurrency", "db"),
        ("requires_docker", True),
        ("cpu", 2.0),
        ("mem", 1024**3),
        ("sign", ("dist/*",)),
        ("secrets", ("TOKEN",)),
        ("reuse", Reuse(inputs=("src/**",))),
    ],
)
def test_inherited_parameter_reaches_the_leaves(name: str, value: object) -> None:
    assert getattr(resolved(tree(INHERITING))["/test/unit"], name) == value


@pytest.mark.parametrize("name", ["skip", "when", "suppress_errors", "max_concurrent", "doc"])
def test_non_inherited_parameter_stays_on_its_node(name: str) -> None:
    values = resolved(tree(INHERITING))
    assert getattr(values["/"], name) not in (None, False)
    assert getattr(values["/test"], name) == PARAMS[name].default
    assert getattr(values["/test/unit"], name) == PARAMS[name].default


def test_defaults_apply_where_no_node_sets_a_parameter() -> None:
    values = resolved(tree('[pipeline.main]\nrun = "pytest"\n'))["/"]
    assert values.timeout == 3600
    assert (values.retry, values.stop_on_error, values.requires_docker) == (0, True, False)
    assert values.suppress_errors is False
    assert values.env == {}
    assert (values.secrets, values.sign) == ((), ())
    assert (values.image, values.cpu, values.mem, values.when, values.skip) == (None,) * 5


def test_every_parameter_has_a_resolved_value() -> None:
    values = Resolved.defaults()
    for name in PARAMS:
        assert getattr(values, name) == PARAMS[name].default
    with pytest.raises(AttributeError):
        _ = values.no_such_parameter


def test_a_node_holds_only_what_it_sets() -> None:
    unit = tree(INHERITING).find("/test/unit")
    assert unit is not None
    assert unit.params.items() == [("env", {"C": "unit"})]


def test_walk_is_in_tree_order_with_paths() -> None:
    root = serial("/", serial("lint", exec_node("ruff"), exec_node("mypy")), exec_node("test"))
    assert [path for path, _, _ in walk(root)] == [
        "/",
        "/lint",
        "/lint/ruff",
        "/lint/mypy",
        "/test",
    ]
    assert exec_paths(root) == ["/lint/ruff", "/lint/mypy", "/test"]
    assert count_nodes(root) == (5, 3)


def test_walk_resolves_parameters_set_on_hand_built_nodes() -> None:
    root = serial(
        "/", serial("a", exec_node("b", retry=2), env={"X": "a"}), env={"X": "/", "Y": "/"}
    )
    values = resolved(root)["/a/b"]
    assert (values.env, values.retry) == ({"X": "a", "Y": "/"}, 2)


def test_find() -> None:
    ruff = exec_node("ruff")
    root = serial("/", serial("lint", ruff))
    assert root.find("/") is root
    assert root.find("/lint/ruff") is ruff
    assert root.find("lint/ruff/") is ruff
    assert root.find("/lint/nope") is None
    assert root.find("/lint/ruff/deeper") is None
    assert root.child("lint") is not None and root.child("ruff") is None


@pytest.mark.parametrize(
    ("parent", "name", "path"), [("/", "lint", "/lint"), ("/lint", "ruff", "/lint/ruff")]
)
def test_join_and_split_paths(parent: str, name: str, path: str) -> None:
    assert join_path(parent, name) == path
    assert split_path(path) == [*split_path(parent), name]


def test_is_exec() -> None:
    assert exec_node("x").is_exec
    assert not serial("x", exec_node("y")).is_exec
