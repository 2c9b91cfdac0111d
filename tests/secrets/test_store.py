"""The secret store: sealed at rest, each repository's own, limited by branch and
event, and a clear sentence (never a traceback or a value) when the key is wrong."""

from __future__ import annotations

import dataclasses
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from ci_bot.engine.runner import Engine
from ci_bot.errors import SecretError
from ci_bot.executors.fake import FakeExecutor
from ci_bot.secrets.scope import Scope
from ci_bot.secrets.source import as_source
from ci_bot.secrets.store import SecretStore
from ci_bot.settings import Settings
from ci_bot.store.records import Pipeline
from ci_bot.store.store import Store
from ci_bot.store.tables import SecretRow
from ci_bot.tree.select import Event
from tests.pipelines import create_pipeline

TOKEN = "deploy-t0ken-31415"
PUSH_MAIN = Event("push", branch="main", repo="acme/app")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = Store(settings.database_url)
    yield opened
    opened.close()


@pytest.fixture
def secrets(store: Store, settings: Settings) -> SecretStore:
    return SecretStore(store, settings)


def pipeline(store: Store, event: Event = PUSH_MAIN) -> Pipeline:
    text = '[pipeline.main]\nimage = "x"\n[pipeline.main.a]\nrun = "a"\n'
    return store.pipeline(create_pipeline(store, text, event))


def files_hold(folder: Path, text: str) -> list[str]:
    """The files under ``folder`` whose bytes contain ``text``."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and text.encode() in path.read_bytes():
            found.append(path.name)
    return found


# --- at rest -----------------------------------------------------------------------------------


def test_values_are_sealed_at_rest_with_a_key_file_made_0600(
    secrets: SecretStore, settings: Settings, store: Store, tmp_path: Path
) -> None:
    secrets.set("acme/app", "DEPLOY_TOKEN", TOKEN)
    with store.engine.connect() as connection:
        rows = [" ".join(map(str, row)) for row in connection.execute(select(SecretRow))]
    store.engine.dispose()  # SQLite: every page (and the WAL) on disk

    assert len(rows) == 1 and "DEPLOY_TOKEN" in rows[0]  # names are not secret
    assert TOKEN not in rows[0]
    assert files_hold(tmp_path, TOKEN) == []  # the SQLite file, its WAL, the key file
    key = settings.secret_key_file
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert secrets.for_pipeline(pipeline(store)) == {"DEPLOY_TOKEN": TOKEN}


def test_a_key_from_the_environment_is_used_and_no_file_is_made(
    tmp_path: Path, database_url: str
) -> None:
    key = Fernet.generate_key().decode()
    settings = Settings.from_env({"CI_BOT_SECRET_KEY": key}, data_dir=tmp_path / "d")
    settings = dataclasses.replace(settings, database_url=database_url)
    store = Store(settings.database_url)
    SecretStore(store, settings).set("acme/app", "DEPLOY_TOKEN", TOKEN)

    assert not settings.secret_key_file.exists()
    assert SecretStore(store, settings).for_pipeline(pipeline(store)) == {"DEPLOY_TOKEN": TOKEN}
    store.close()


def test_a_wrong_key_is_a_sentence_that_reaches_the_node_not_a_traceback(
    secrets: SecretStore, settings: Settings, store: Store
) -> None:
    secrets.set("acme/app", "DEPLOY_TOKEN", TOKEN)
    settings.secret_key_file.write_text(Fernet.generate_key().decode())
    fresh = SecretStore(store, settings)  # nothing cached

    with pytest.raises(SecretError, match=r"cannot be decrypted with the key from .*secret\.key"):
        fresh.for_pipeline(pipeline(store))
    assert fresh.all_values() == []  # nothing to hide that no node can be given


def test_a_lost_key_file_is_a_sentence(
    secrets: SecretStore, settings: Settings, store: Store
) -> None:
    secrets.set("acme/app", "DEPLOY_TOKEN", TOKEN)
    settings.secret_key_file.unlink()

    with pytest.raises(SecretError, match="no key to decrypt it: set CI_BOT_SECRET_KEY"):
        SecretStore(store, settings).for_pipeline(pipeline(store))
    settings.secret_key_file.write_text("not a key\n")
    with pytest.raises(SecretError, match="does not hold a Fernet key"):
        SecretStore(store, settings).for_pipeline(pipeline(store))


def test_a_sealed_value_moved_to_another_repository_is_refused(
    secrets: SecretStore, store: Store
) -> None:
    secrets.set("acme/app", "DEPLOY_TOKEN", TOKEN)
    secrets.set("evil/fork", "DEPLOY_TOKEN", "placeholder")
    [app] = store.secret_records("acme/app")
    with store.engine.begin() as connection:
        connection.execute(
            update(SecretRow).where(SecretRow.repo == "evil/fork").values(sealed=app.sealed)
        )

    evil = pipeline(store, Event("push", branch="main", repo="evil/fork"))
    with pytest.raises(SecretError, match="holds another secret's value"):
        secrets.for_pipeline(evil)


def test_short_values_and_bad_names_are_refused_with_a_sentence(secrets: SecretStore) -> None:
    with pytest.raises(SecretError, match="at least 4 characters"):
        secrets.set("acme/app", "PIN", "123")
    with pytest.raises(SecretError, match="not a secret name"):
        secrets.set("acme/app", "1BAD", TOKEN)
    with pytest.raises(SecretError, match="no secret for every repository"):
        secrets.set("*", "TOKEN", TOKEN)


# --- scope -------------------------------------------------------------------------------------


def test_a_repository_gets_only_its_own_secrets(secrets: SecretStore, store: Store) -> None:
    secrets.set("acme/app", "DEPLOY_TOKEN", TOKEN)
    secrets.set("acme/other", "OTHER_TOKEN", "other-value")

    assert secrets.for_pipeline(pipeline(store)) == {"DEPLOY_TOKEN": TOKEN}
    other = pipeline(store, Event("push", branch="main", repo="Acme/Other"))  # case: GitHub's
    assert secrets.for_pipeline(other) == {"OTHER_TOKEN": "other-value"}
    stranger = pipeline(store, Event("push", branch="main", repo="acme/app2"))
    assert secrets.for_pipeline(stranger) == {}
    assert sorted(secrets.all_values()) == sorted([TOKEN, "other-value"])


@pytest.mark.parametrize(
    ("event", "gets"),
    [
        (Event("push", branch="main", repo="acme/app"), True),
        (Event("pr", branch="main", repo="acme/app"), False),
        (Event("push", branch="feature", repo="acme/app"), False),
        (Event("push", branch="release/1.2", repo="acme/app"), True),
        (Event("create-tag", tag="v1", repo="acme/app"), False),
    ],
    ids=["push-main", "pr-main", "push-feature", "push-release", "tag"],
)
def test_a_scoped_secret_reaches_only_matching_pipelines(
    secrets: SecretStore, store: Store, event: Event, gets: bool
) -> None:
    secrets.set("acme/app", "DEPLOY_TOKEN", TOKEN, Scope(("main", "release/*"), ("push",)))
    secrets.set("acme/app", "ANY_TOKEN", "any-value")

    found = secrets.for_pipeline(pipeline(store, event))
    assert found == ({"DEPLOY_TOKEN": TOKEN} if gets else {}) | {"ANY_TOKEN": "any-value"}


def test_setting_again_replaces_value_and_scope_and_rm_forgets(
    secrets: SecretStore, store: Store
) -> None:
    assert secrets.set("acme/app", "DEPLOY_TOKEN", "first-value", Scope(("x",))) is False
    assert secrets.set("ACME/app", "DEPLOY_TOKEN", TOKEN) is True
    assert secrets.for_pipeline(pipeline(store)) == {"DEPLOY_TOKEN": TOKEN}
    assert secrets.remove("acme/app", "DEPLOY_TOKEN") is True
    assert secrets.remove("acme/app", "DEPLOY_TOKEN") is False
    assert secrets.for_pipeline(pipeline(store)) == {}


def test_the_legacy_file_is_every_repositorys_and_a_repositorys_own_wins(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path / "d", database_url=database_url)
    settings.data_dir.mkdir(parents=True)
    settings.secrets_file.write_text("SHARED=shared-value\nDEPLOY_TOKEN=legacy-value\nPIN=12\n")
    store = Store(settings.database_url)
    with caplog.at_level(logging.WARNING):
        secrets = SecretStore(store, settings)
    secrets.set("acme/app", "DEPLOY_TOKEN", TOKEN)

    assert secrets.for_pipeline(pipeline(store)) == {
        "SHARED": "shared-value",
        "DEPLOY_TOKEN": TOKEN,
    }
    elsewhere = pipeline(store, Event("push", branch="main", repo="acme/web"))
    assert secrets.for_pipeline(elsewhere)["DEPLOY_TOKEN"] == "legacy-value"
    [warning] = [r.getMessage().split("secrets.env:3: ")[1] for r in caplog.records]
    assert warning.startswith("secret PIN refused: a secret must have at least 4 characters")
    assert "12" not in warning
    store.close()


# --- what the engine gets ----------------------------------------------------------------------


def test_the_engine_gives_a_node_what_it_names_from_its_repository_in_scope(
    secrets: SecretStore, store: Store, settings: Settings
) -> None:
    text = (
        '[pipeline.main]\nimage = "x"\nparallel = true\n'
        '[pipeline.main.deploy]\nrun = "d"\nsecrets = ["DEPLOY_TOKEN"]\n'
        '[pipeline.main.other]\nrun = "o"\nsecrets = ["OTHER_TOKEN"]\n'
        '[pipeline.main.release]\nrun = "r"\nsecrets = ["RELEASE_TOKEN"]\n'
    )
    secrets.set("acme/app", "DEPLOY_TOKEN", TOKEN, Scope(("main",), ("push",)))
    secrets.set("acme/app", "RELEASE_TOKEN", "release-value", Scope(("release/*",)))
    secrets.set("acme/other", "OTHER_TOKEN", "other-value")
    pipeline_id = create_pipeline(store, text, PUSH_MAIN)
    fake = FakeExecutor().expect("/deploy")
    # Engine(secrets=...) is annotated dict until runner.py takes a SecretSource.
    engine = Engine(store, fake, settings, secrets=secrets, poll_seconds=0.01)  # type: ignore[arg-type]

    engine.run_until_settled(pipeline_id)

    fake.assert_all_used()
    [deploy] = fake.ran
    assert deploy.secrets == {"DEPLOY_TOKEN": TOKEN}
    messages = {n.path: n.message for n in store.nodes(pipeline_id)}
    for path, name in [("/other", "OTHER_TOKEN"), ("/release", "RELEASE_TOKEN")]:
        assert messages[path] == (
            f"secret {name} is not in the bot's secret store for acme/app (push on main): "
            "`ci-bot secrets list acme/app` shows its secrets and their scopes"
        )
    assert "value" not in " ".join(messages.values())


def test_a_plain_mapping_is_every_pipelines() -> None:
    source = as_source({"TOKEN": TOKEN})
    assert source.all_values() == [TOKEN]
    assert as_source(None).all_values() == []
