"""Conducto-style builders for a repository's tree generator script."""

from __future__ import annotations

import io
import json

import pytest

from ci_bot.errors import ConfigError
from ci_bot.tree.builders import Exec, Parallel, Serial
from ci_bot.tree.nodes import Node, NodeType
from ci_bot.tree.treejson import from_json


def at(root: Node, path: str) -> Node:
    node = root.find(path)
    assert node is not None, f"no node at {path}"
    return node


def docstring_example() -> Serial:
    root = Serial(image="ci-bot/debian-python:bookworm")
    root["lint"] = Parallel()
    root["lint/ruff"] = Exec("ruff check .")
    root["lint/mypy"] = Exec("mypy .", timeout="5m")
    root["test"] = Exec("pytest -q", retry=1, env={"CI_LEVEL": "unit"})
    return root


def test_serial_parallel_and_exec() -> None:
    tree = docstring_example().tree()
    assert (tree.name, tree.type, tree.params.image) == (
        "/",
        NodeType.SERIAL,
        "ci-bot/debian-python:bookworm",
    )
    assert [child.name for child in tree.children] == ["lint", "test"]
    assert at(tree, "/lint").type is NodeType.PARALLEL
    ruff = at(tree, "/lint/ruff")
    assert (ruff.type, ruff.run) == (NodeType.EXEC, "ruff check .")
    assert at(tree, "/lint/mypy").params.timeout == 300
    test = at(tree, "/test")
    assert (test.params.retry, test.params.env) == (1, {"CI_LEVEL": "unit"})


def test_setting_a_deep_path_creates_serials_on_the_way() -> None:
    root = Serial()
    root["deploy/staging/web"] = Exec("./deploy.sh web")
    tree = root.tree()
    assert at(tree, "/deploy").type is NodeType.SERIAL
    assert at(tree, "/deploy/staging").type is NodeType.SERIAL
    assert at(tree, "/deploy/staging/web").run == "./deploy.sh web"


def test_getitem_returns_the_builder_at_a_path() -> None:
    root = docstring_example()
    root["lint"]["pyright"] = Exec("pyright")
    assert isinstance(root["lint/pyright"], Exec)
    assert [child.name for child in at(root.tree(), "/lint").children] == [
        "ruff",
        "mypy",
        "pyright",
    ]
    with pytest.raises(KeyError):
        root["nope"]


def test_print_writes_json_that_from_json_accepts() -> None:
    root = docstring_example()
    out = io.StringIO()
    root.print(file=out)
    assert from_json(out.getvalue()) == root.tree()
    assert json.loads(out.getvalue())["name"] == "/"


def test_print_defaults_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    docstring_example().print()
    assert from_json(capsys.readouterr().out) == docstring_example().tree()


def test_a_misspelt_param_raises_config_error_naming_the_path() -> None:
    root = docstring_example()
    root["lint/ruff"] = Exec("ruff check .", retyr=2)
    with pytest.raises(ConfigError) as caught:
        root.tree()
    [problem] = caught.value.problems
    assert problem.key == "/lint/ruff: retyr"
    assert "did you mean 'retry'?" in problem.message


def test_a_bad_value_raises_config_error_naming_the_path() -> None:
    root = Serial()
    root["test"] = Parallel(max_concurrent=0)
    root["test/unit"] = Exec("pytest", timeout="soon")
    with pytest.raises(ConfigError) as caught:
        root.tree()
    assert [problem.key for problem in caught.value.problems] == [
        "/test: max_concurrent",
        "/test/unit: timeout",
    ]


def test_print_fails_before_printing_a_bad_tree() -> None:
    root = Serial()
    root["empty"] = Parallel()
    out = io.StringIO()
    with pytest.raises(ConfigError) as caught:
        root.print(file=out)
    assert caught.value.problems[0].key == "/empty"
    assert out.getvalue() == ""


@pytest.mark.parametrize("path", ["build/inner", "build/inner/deeper"])
def test_nothing_goes_below_an_exec(path: str) -> None:
    root = Serial()
    root["build"] = Exec("make")
    with pytest.raises(TypeError, match="below an Exec"):
        root[path] = Exec("true")
    assert root["build"].children == {}  # nothing half-added on the way
