"""/healthz and /metrics, and `ci-bot serve` refusing to run open to the world."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ci_bot.executors.fake import FakeExecutor
from ci_bot.services import open_services
from ci_bot.settings import Settings
from ci_bot.web.app import create_app
from tests.pipelines import create_pipeline

TOKEN = "metrics-scraper-token-0123"


def test_healthz_is_open_and_metrics_need_a_token(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path, ui_tokens=(TOKEN,))
    services = open_services(settings, executor=FakeExecutor())
    create_pipeline(services.store, '[pipeline.main]\nimage = "x"\n[pipeline.main.a]\nrun = "a"\n')
    client = create_app(services).test_client()
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json() == {"ok": True, "database": "ok"}
    assert client.get("/metrics").status_code == 401
    authorization = {"Authorization": f"Bearer {TOKEN}"}
    metrics = client.get("/metrics", headers=authorization).get_data(as_text=True)
    assert 'ci_bot_pipelines{state="pending"} 1' in metrics
    assert "ci_bot_executions_active 0" in metrics


def test_unknown_paths_get_json_404(tmp_path: Path) -> None:
    services = open_services(Settings.from_env({}, data_dir=tmp_path), executor=FakeExecutor())
    response = create_app(services).test_client().get("/no/such/page")
    assert response.status_code == 404 and "error" in response.get_json()


def test_serve_refuses_to_start_without_a_webhook_secret(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ci_bot.cli", "serve", "--port", "0"],
        env={"CI_BOT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "CI_BOT_GITHUB_WEBHOOK_SECRET is not set" in result.stderr
