"""Node names a page can be reached at: ``.`` and ``..`` (any name made only of dots)
are config errors with the file, the line and the key, like every other naming error.

The defect this pins down: such names validated, but a browser reads
``/pipelines/7/nodes/..`` as the pipeline list, so their pages could not be reached.
"""

from __future__ import annotations

import json
from textwrap import dedent

import pytest

from ci_bot.errors import ConfigError, ConfigProblem
from ci_bot.tree.config import parse_config
from ci_bot.tree.treejson import from_json

MARK = "# <-"


def problems_of(text: str) -> tuple[ConfigProblem, ...]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "conducto.cfg")
    return caught.value.problems


@pytest.mark.parametrize("name", [".", "..", "...", "...."])
def test_a_node_named_only_with_dots_is_a_located_config_error(name: str) -> None:
    text = dedent(
        f"""\
        [push]
        [pipeline.main]
        [pipeline.main."{name}"]  {MARK}
        run = "pytest"
        """
    )
    [problem] = problems_of(text)
    assert (problem.file, problem.line) == ("conducto.cfg", 3)
    assert problem.key == f"pipeline.main.{name}"
    assert "only dots" in problem.message and "add a letter or a digit" in problem.message
    assert str(problem).startswith(f"conducto.cfg:3: pipeline.main.{name}: ")


def test_a_pipeline_named_only_with_dots_is_refused_too() -> None:
    problems = problems_of('[push]\npipeline = ".."\n[pipeline.".."]\nrun = "x"\n')
    assert any(p.line == 3 and "only dots" in p.message for p in problems)


def test_a_generated_tree_with_a_dots_only_name_is_refused_with_its_line() -> None:
    text = json.dumps(
        {"name": "/", "type": "serial", "children": [{"name": "..", "type": "exec", "run": "x"}]},
        indent=2,
    )
    with pytest.raises(ConfigError) as caught:
        from_json(text)
    [problem] = caught.value.problems
    assert "only dots" in problem.message and problem.line > 1


@pytest.mark.parametrize("name", [".hidden", "a.b", "v1.2.3", "_", "-", "x..y"])
def test_names_with_a_letter_digit_or_sign_besides_dots_stay_valid(name: str) -> None:
    config = parse_config(f'[push]\n[pipeline.main]\n[pipeline.main."{name}"]\nrun = "x"\n')
    assert [child.name for child in config.pipelines["main"].children] == [name]
