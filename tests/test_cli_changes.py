"""``ci-bot plan --changed``: what changed(…) keeps, without git."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ci_bot.cli import main
from tests.gitrepos import write_files

CONFIG = """\
[[push]]
pipeline = "ci"

[pipeline.ci]
image = "x"
[pipeline.ci.services]
for_each = "services/*"
when = 'changed("{service.dir}")'
[pipeline.ci.services.test]
run = "make -C $CI_SERVICE_DIR test"
"""


def plan(repo: Path, *changed: str) -> dict[str, object]:
    options = [option for path in changed for option in ("--changed", path)]
    result = CliRunner().invoke(
        main, ["plan", str(repo), "--event", "push", "--branch", "main", "--json", *options]
    )
    assert result.exit_code == 0, result.output
    answer: dict[str, object] = json.loads(result.output)
    return answer


def test_plan_expands_for_each_over_the_directories_beside_the_config(tmp_path: Path) -> None:
    write_files(tmp_path, {"conducto.cfg": CONFIG, "services/a/x": "", "services/b/y": ""})
    skipped = plan(tmp_path, "services/a/x")["skipped"]
    assert skipped == [
        {
            "path": "/services/b",
            "reason": "when 'changed(\"services/b\")' is false: no file changed since the base "
            "is under services/b (changed: services/a/x)",
        }
    ]


def test_plan_without_changed_skips_nothing(tmp_path: Path) -> None:
    write_files(tmp_path, {"conducto.cfg": CONFIG, "services/a/x": "", "services/b/y": ""})
    assert plan(tmp_path)["skipped"] == []


def test_an_empty_changed_means_nothing_changed(tmp_path: Path) -> None:
    write_files(tmp_path, {"conducto.cfg": CONFIG, "services/a/x": "", "services/b/y": ""})
    skipped = plan(tmp_path, "")["skipped"]
    assert [entry["path"] for entry in skipped] == ["/services/a", "/services/b"]  # type: ignore[union-attr, index]
