"""Settings come from CI_BOT_* variables, are checked once, and keep secrets out of repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_bot.secrets import load_secrets
from ci_bot.settings import SETTINGS, Settings, SettingsError
from tests.conftest import REPO_ROOT


def test_defaults_need_no_configuration(tmp_path: Path) -> None:
    settings = Settings.from_env({"CI_BOT_DATA_DIR": str(tmp_path)})
    assert settings.data_dir == tmp_path.resolve()
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'ci-bot.sqlite'}"
    assert settings.max_parallel >= 1
    assert settings.secrets_file == tmp_path.resolve() / "secrets.env"


def test_every_problem_is_reported_at_once_and_secrets_are_not_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {
                "CI_BOT_MAX_PARALLEL": "zero",
                "CI_BOT_PUBLIC_URL": "ftp://x",
                "CI_BOT_UI_TOKENS": "short-secret",
            }
        )
    message = str(caught.value)
    assert "CI_BOT_MAX_PARALLEL=zero" in message
    assert "CI_BOT_PUBLIC_URL=ftp://x" in message
    assert "CI_BOT_UI_TOKENS=***" in message
    assert "short-secret" not in message


def test_secret_settings_never_appear_in_repr(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "CI_BOT_DATA_DIR": str(tmp_path),
            "CI_BOT_GITHUB_TOKEN": "ghp_topsecretvalue",
            "CI_BOT_SLACK_TOKEN": "xoxb-topsecretvalue",
            "CI_BOT_GITHUB_WEBHOOK_SECRET": "hook-topsecretvalue",
        }
    )
    assert settings.github_token == "ghp_topsecretvalue"
    assert "topsecretvalue" not in repr(settings)


def test_overrides_win_over_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env({"CI_BOT_MAX_PARALLEL": "7"}, data_dir=tmp_path, max_parallel=3)
    assert settings.max_parallel == 3


@pytest.mark.parametrize("setting", SETTINGS.values(), ids=lambda s: s.env)
def test_every_setting_is_documented_in_docs_settings(setting: object) -> None:
    env = setting.env  # type: ignore[attr-defined]
    documented = (REPO_ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert f"`{env}`" in documented


def test_the_secret_store_reads_name_value_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "secrets.env"
    path.write_text("# comment\nDEPLOY_TOKEN = abc=def\n\nnot a line\n1BAD=x\n", encoding="utf-8")
    assert load_secrets(path) == {"DEPLOY_TOKEN": "abc=def"}
    assert "abc=def" not in caplog.text
    assert load_secrets(tmp_path / "absent.env") == {}
