"""Changing an Exec's command in a tree: only that Exec changes; a Serial, a Parallel
or an empty command is refused with a sentence."""

from __future__ import annotations

from textwrap import dedent

import pytest

from ci_bot.tree.config import parse_config
from ci_bot.tree.edit import command_refusal, with_command
from ci_bot.tree.nodes import Node

TEXT = """
[pipeline.main]
image = "busybox"
[pipeline.main.lint]
parallel = true
[pipeline.main.lint.ruff]
run = "ruff check ."
timeout = "5m"
[pipeline.main.lint.mypy]
run = "mypy ."
[pipeline.main.build]
run = "make"
"""


def tree() -> Node:
    return parse_config("[push]\n" + dedent(TEXT).lstrip("\n")).pipelines["main"]


def test_only_the_exec_at_the_path_gets_the_new_command() -> None:
    before = tree()
    after = with_command(before, "/lint/ruff", "ruff check --fix .")

    ruff = after.find("/lint/ruff")
    assert ruff is not None and ruff.run == "ruff check --fix ."
    assert ruff.params == before.find("/lint/ruff").params  # type: ignore[union-attr]
    assert after.find("/lint/mypy") is before.find("/lint/mypy")
    assert after.find("/build") is before.find("/build")
    assert before.find("/lint/ruff").run == "ruff check ."  # type: ignore[union-attr]


REFUSED_PARENT = "only an Exec has a command to change; reset one of its Execs with --run"


@pytest.mark.parametrize(
    ("path", "run", "refusal"),
    [
        ("/lint", "echo hi", f"/lint is a parallel: {REFUSED_PARENT}"),
        ("/", "echo hi", f"/ is a serial: {REFUSED_PARENT}"),
        ("/build", "  \n", "the new command is empty: give the command the node should run"),
    ],
)
def test_a_parent_or_an_empty_command_is_refused(path: str, run: str, refusal: str) -> None:
    assert command_refusal(tree(), path, run) == refusal
    with pytest.raises(ValueError) as refused:
        with_command(tree(), path, run)
    assert str(refused.value) == refusal


def test_a_missing_node_is_a_lookup_error_not_a_refusal() -> None:
    assert command_refusal(tree(), "/nope", "echo hi") is None
    with pytest.raises(LookupError):
        with_command(tree(), "/nope", "echo hi")
