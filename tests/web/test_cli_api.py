"""``ci-bot api``: the JSON API from a shell, with a UI token, against a served bot."""

from __future__ import annotations

import json

from click.testing import CliRunner

from ci_bot.cli import main
from tests.pipelines import create_pipeline
from tests.web.conftest import TOKEN, Bot

TREE = '[pipeline.main]\nimage = "x"\n[pipeline.main.a]\nrun = "a"\n[pipeline.main.b]\nrun = "b"\n'


def test_the_cli_reads_and_acts_through_the_api(shown_bot: Bot) -> None:
    pipeline_id = create_pipeline(shown_bot.store, TREE)
    runner = CliRunner()
    env = {"CI_BOT_API_TOKEN": TOKEN, "CI_BOT_PUBLIC_URL": shown_bot.url}

    shown = runner.invoke(main, ["api", "GET", f"/api/pipelines/{pipeline_id}"], env=env)
    assert shown.exit_code == 0, shown.output
    assert [n["path"] for n in json.loads(shown.output)["nodes"]] == ["/", "/a", "/b"]

    skip = ["api", "POST", f"/api/pipelines/{pipeline_id}/skip", "--data", '{"path": "/b"}']
    done = runner.invoke(main, skip, env=env)
    assert done.exit_code == 0 and json.loads(done.output)["message"] == "skipped /b"
    assert shown_bot.store.exec_states(pipeline_id)["/b"] == "skipped"

    again = runner.invoke(main, skip, env=env)
    assert again.exit_code == 1 and "already skipped" in json.loads(again.output)["error"]
    wrong = runner.invoke(
        main, ["api", "GET", "/api/pipelines"], env={**env, "CI_BOT_API_TOKEN": "x" * 20}
    )
    assert wrong.exit_code == 1 and "sign in first" in wrong.output
    bad = runner.invoke(main, [*skip[:3], "--data", "{nope"], env=env)
    assert bad.exit_code == 1 and "--data is not JSON" in bad.output
    assert runner.invoke(main, ["api", "GET", "/etc/passwd"], env=env).exit_code == 1
