"""A pipeline's artifacts through the API: the files of $CI_DATA listed with sizes, each
with its signature and provenance beside it, downloaded as attachments; and no path,
link, FIFO or directory leads a download anywhere but to a file inside that $CI_DATA."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from ci_bot.store.store import utcnow
from ci_bot.web.ui.artifacts import data_dir
from tests.pipelines import create_pipeline
from tests.web.conftest import TOKEN, Bot

SMALL = '[pipeline.main]\nimage = "x"\n[pipeline.main.build]\nrun = "make"\n'
APP = b"PK\x03\x04 a zipapp"
PROVENANCE = {
    "artifact": "dist/app.pyz",
    "sha256": "ab" * 32,
    "repo": "acme/app",
    "node_path": "/build",
    "execution_id": 7,
    "signing_key": "SHA256:abcdef",
    "signed_at": "2026-01-02T03:04:05Z",
}


@pytest.fixture
def pipeline_id(bot: Bot) -> int:
    """A pipeline whose $CI_DATA holds a signed artifact, a plain one, and traps."""
    made = create_pipeline(bot.store, SMALL)
    root = data_dir(bot.services.settings, made)
    (root / "dist").mkdir(parents=True)
    (root / "dist" / "app.pyz").write_bytes(APP)
    (root / "dist" / "app.pyz.sig").write_text("-----BEGIN SSH SIGNATURE-----\n")
    (root / "dist" / "app.pyz.provenance.json").write_text(json.dumps(PROVENANCE))
    (root / "dist" / "app.pyz.provenance.json.sig").write_text("-----BEGIN SSH SIGNATURE-----\n")
    (root / "report.txt").write_text("12 passed\n")
    (root / "secrets-link").symlink_to(bot.services.settings.data_dir / "ci-bot.sqlite")
    (root / "etc-link").symlink_to("/etc")
    os.mkfifo(root / "pipe")
    return made


def test_artifacts_are_listed_with_sizes_signatures_and_provenance(
    client: FlaskClient, pipeline_id: int
) -> None:
    answer = client.get(f"/api/pipelines/{pipeline_id}/artifacts").get_json()
    assert [a["path"] for a in answer["artifacts"]] == ["dist/app.pyz", "report.txt"]
    app, report = answer["artifacts"]
    base = f"/api/pipelines/{pipeline_id}/artifacts"
    assert app["size"] == len(APP) and app["url"] == f"{base}/dist/app.pyz"
    assert app["signature"]["url"] == f"{base}/dist/app.pyz.sig"
    assert app["provenance"]["path"] == "dist/app.pyz.provenance.json"
    assert app["provenance_signature"]["path"] == "dist/app.pyz.provenance.json.sig"
    assert app["provenance"]["says"] == {
        "sha256": "ab" * 32,
        "node_path": "/build",
        "execution_id": 7,
        "signing_key": "SHA256:abcdef",
        "signed_at": "2026-01-02T03:04:05Z",
    }
    assert report["signature"] is None and report["provenance"] is None
    assert report["modified_at"].endswith("Z")
    sizes = sum(len(p.read_bytes()) for p in _regular_files(client, pipeline_id))
    assert answer["total_bytes"] == sizes
    assert answer["archived"] is False and answer["truncated"] is False


def _regular_files(client: FlaskClient, pipeline_id: int) -> list[Path]:
    bot_settings = client.application.extensions["ci_bot"].settings
    root = data_dir(bot_settings, pipeline_id)
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def test_an_artifact_downloads_as_an_attachment_never_as_a_page(
    client: FlaskClient, pipeline_id: int
) -> None:
    with client.get(f"/api/pipelines/{pipeline_id}/artifacts/dist/app.pyz") as answer:
        assert answer.status_code == 200 and answer.get_data() == APP
        assert answer.headers["Content-Disposition"].startswith("attachment")
        assert "app.pyz" in answer.headers["Content-Disposition"]
        assert answer.mimetype == "application/octet-stream"
        assert "sandbox" in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    with client.get(f"/api/pipelines/{pipeline_id}/artifacts/dist/app.pyz.sig") as signature:
        assert signature.get_data().startswith(b"-----BEGIN SSH SIGNATURE")


@pytest.mark.parametrize(
    "path",
    [
        "secrets-link",  # a link to the bot's database
        "etc-link/passwd",  # through a link to a directory
        "pipe",  # a FIFO: must not hang the request
        "dist",  # a directory
        "../../../ci-bot.sqlite",
        "dist/../../../../ci-bot.sqlite",
        "%2e%2e/%2e%2e/%2e%2e/ci-bot.sqlite",
        "/etc/passwd",
        "missing.txt",
        "dist/app.pyz%00.txt",
    ],
)
def test_no_download_leads_outside_the_pipelines_data(
    client: FlaskClient, pipeline_id: int, path: str
) -> None:
    # "//etc/passwd" is first redirected to the same path with one slash: inside again
    answer = client.get(f"/api/pipelines/{pipeline_id}/artifacts/{path}", follow_redirects=True)
    assert answer.status_code == 404, answer.data[:200]
    assert b"SQLite" not in answer.data and b"root:" not in answer.data
    assert "error" in answer.get_json()


def test_a_pipeline_without_data_or_archived_lists_nothing(bot: Bot, client: FlaskClient) -> None:
    empty = create_pipeline(bot.store, SMALL)
    answer = client.get(f"/api/pipelines/{empty}/artifacts").get_json()
    assert answer["artifacts"] == [] and answer["total_bytes"] == 0
    bot.store.mark_archived(empty)
    assert client.get(f"/api/pipelines/{empty}/artifacts").get_json()["archived"] is True
    assert client.get("/api/pipelines/999999/artifacts").status_code == 404


def test_artifacts_need_a_signed_in_user(bot: Bot, pipeline_id: int) -> None:
    stranger = bot.app.test_client()
    assert stranger.get(f"/api/pipelines/{pipeline_id}/artifacts").status_code == 401
    url = f"/api/pipelines/{pipeline_id}/artifacts/report.txt"
    assert stranger.get(url).status_code == 401
    with stranger.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as bearer:
        assert bearer.get_data() == b"12 passed\n"


def test_a_listing_stops_at_its_limit_and_says_so(bot: Bot, client: FlaskClient) -> None:
    made = create_pipeline(bot.store, SMALL)
    root = data_dir(bot.services.settings, made)
    root.mkdir(parents=True)
    from ci_bot.web.ui.artifacts import list_artifacts

    for number in range(12):
        (root / f"file-{number:02d}.txt").write_text(str(utcnow()))
    found = list_artifacts(root, limit=10)
    assert found.truncated and len(found.artifacts) == 10
