"""``ci-bot secrets set|list|rm``: values from stdin only, never shown back."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ci_bot.cli import main
from ci_bot.secrets.store import SecretStore
from ci_bot.settings import Settings
from ci_bot.store.store import Store

TOKEN = "deploy-t0ken-31415"


class Cli:
    def __init__(self, data_dir: Path) -> None:
        self.env = {"CI_BOT_DATA_DIR": str(data_dir)}
        self.runner = CliRunner()

    def __call__(self, *args: str, stdin: str | None = None, **env: str) -> Result:
        return self.runner.invoke(main, ["secrets", *args], input=stdin, env=self.env | env)

    def stored(self) -> list[str]:
        settings = Settings.from_env(self.env)
        store = Store(settings.database_url)
        try:
            return SecretStore(store, settings).all_values()
        finally:
            store.close()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "data")


def test_set_reads_the_value_from_stdin_and_never_prints_it(cli: Cli) -> None:
    result = cli(
        "set", "Acme/App", "DEPLOY_TOKEN", "--branch", "main", "--event", "push", stdin=TOKEN + "\n"
    )

    assert result.exit_code == 0, result.output
    assert result.output == (
        "set secret DEPLOY_TOKEN of acme/app, for branches main; events push\n"
    )
    assert cli.stored() == [TOKEN]  # the final line break `echo` adds is not part of it
    again = cli("set", "acme/app", "DEPLOY_TOKEN", stdin="second-value")
    assert again.output == "replaced secret DEPLOY_TOKEN of acme/app, for every branch and event\n"
    assert cli.stored() == ["second-value"]


def test_a_value_is_never_taken_from_the_command_line(cli: Cli) -> None:
    result = cli("set", "acme/app", "DEPLOY_TOKEN", TOKEN, stdin="")
    assert result.exit_code == 2  # a usage error: no such argument
    assert cli.stored() == []


def test_list_shows_names_and_scopes_never_values(cli: Cli, tmp_path: Path) -> None:
    cli("set", "acme/app", "DEPLOY_TOKEN", "--branch", "main", "--event", "push", stdin=TOKEN)
    cli("set", "acme/web", "WEB_TOKEN", stdin="web-token-value")
    (tmp_path / "data" / "secrets.env").write_text("SHARED=shared-value\n")

    everything = cli("list")
    only_app = cli("list", "acme/app")

    assert everything.exit_code == only_app.exit_code == 0
    rows = [line.split("\t") for line in everything.output.splitlines()]
    assert [row[:3] for row in rows] == [
        ["acme/app", "DEPLOY_TOKEN", "branches main; events push"],
        ["acme/web", "WEB_TOKEN", "every branch and event"],
        ["*", "SHARED", "every branch and event"],
    ]
    assert [line.split("\t")[1] for line in only_app.output.splitlines()] == [
        "DEPLOY_TOKEN",
        "SHARED",
    ]
    for output in (everything.output, only_app.output):
        assert TOKEN not in output and "web-token-value" not in output
        assert "shared-value" not in output


def test_rm_forgets_and_says_when_there_was_nothing(cli: Cli) -> None:
    cli("set", "acme/app", "DEPLOY_TOKEN", stdin=TOKEN)

    assert (
        cli("rm", "acme/app", "DEPLOY_TOKEN").output == "removed secret DEPLOY_TOKEN of acme/app\n"
    )
    missing = cli("rm", "acme/app", "DEPLOY_TOKEN")
    assert missing.exit_code == 1
    assert "acme/app has no secret DEPLOY_TOKEN" in missing.output
    assert cli("list").output.startswith("no secrets")


@pytest.mark.parametrize(
    ("args", "stdin", "env", "sentence"),
    [
        (["acme/app", "PIN"], "123", {}, "a secret must have at least 4 characters"),
        (["acme/app", "PIN"], "\n", {}, "a secret must have at least 4 characters"),
        (["*", "TOKEN"], TOKEN, {}, "there is no secret for every repository"),
        (["acme/app", "TOKEN", "--event", "puhs"], TOKEN, {}, "did you mean 'push'?"),
        (["acme/app", "TOKEN"], TOKEN, {"CI_BOT_SECRET_KEY": "nope"}, "must be a Fernet key"),
    ],
    ids=["short", "empty", "every-repository", "unknown-event", "bad-key"],
)
def test_refusals_are_sentences(
    cli: Cli, args: list[str], stdin: str, env: dict[str, str], sentence: str
) -> None:
    result = cli("set", *args, stdin=stdin, **env)
    assert result.exit_code in (1, 2)
    assert sentence in result.output
    assert "Traceback" not in result.output and TOKEN not in result.output
    assert isinstance(result.exception, SystemExit)


def test_a_wrong_key_file_is_a_sentence_when_the_engine_needs_the_value(
    cli: Cli, tmp_path: Path
) -> None:
    cli("set", "acme/app", "DEPLOY_TOKEN", stdin=TOKEN)
    key = tmp_path / "data" / "secret.key"
    assert key.stat().st_mode & 0o777 == 0o600
    key.write_text("garbage\n")

    result = cli("set", "acme/app", "OTHER", stdin=TOKEN)

    assert result.exit_code == 1
    assert "does not hold a Fernet key" in result.output
