"""The GitHub App and Slack app manifests in deploy/ ask for what the bot uses, and
point at the bot's own endpoints: the GitHub events it routes, a permission for
every GitHub endpoint it calls (a new call fails here until the manifest has it),
and the Slack scope of every Web API method it calls, as Slack's API description says."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ci_bot.executors.fake import FakeExecutor
from ci_bot.github.events import EVENTS
from ci_bot.services import open_services
from ci_bot.settings import Settings
from ci_bot.web.app import create_app
from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
LEVELS = {"read": 1, "write": 2}
# What each family of GitHub REST endpoints (``/repos/{repo}/FAMILY/…``) needs.
ENDPOINT_PERMISSIONS: dict[str, tuple[str, str] | None] = {
    "check-runs": ("checks", "write"),
    "issues": ("issues", "write"),  # comments on pull requests, reactions to commands
    "collaborators": ("metadata", "read"),  # who may /rerun (older GHES: members too)
    "pulls": ("pull_requests", "read"),
    "statuses": None,  # only with a personal token; an App reports as check runs
}
OTHER_NEEDS = {
    ("contents", "write"),  # clones (read), release assets (write): releases.py
    ("members", "read"),  # GitHub Enterprise Server's collaborator permission check
}


def manifest(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DEPLOY / name).read_text())
    return loaded


def routes(tmp_path: Path) -> set[str]:
    services = open_services(Settings.from_env({}, data_dir=tmp_path), executor=FakeExecutor())
    try:
        return {rule.rule for rule in create_app(services).url_map.iter_rules()}
    finally:
        services.store.close()


def test_the_github_app_hears_every_event_the_bot_routes(tmp_path: Path) -> None:
    app = manifest("github-app.json")
    assert set(app["default_events"]) == EVENTS - {"ping"}  # GitHub always sends ping
    hook = urlparse(app["hook_attributes"]["url"])
    assert hook.path in routes(tmp_path) and hook.path == "/webhooks/github"
    assert app["hook_attributes"]["url"].startswith(app["url"])
    assert app["public"] is False


def test_the_github_app_may_do_every_call_the_bot_makes() -> None:
    granted = manifest("github-app.json")["default_permissions"]
    source = (REPO_ROOT / "integrations" / "github" / "api.py").read_text()
    families = set(re.findall(r'f"/repos/\{repo\}/([a-z-]+)[/"]', source))
    assert families, "no GitHub endpoint found in integrations/github/api.py"
    unknown = families - set(ENDPOINT_PERMISSIONS)
    assert not unknown, f"new GitHub endpoints {unknown}: add their permission here and to deploy/"
    needed = {ENDPOINT_PERMISSIONS[family] for family in families} - {None} | OTHER_NEEDS
    for permission, level in sorted(needed):
        assert LEVELS[granted.get(permission, "none")] >= LEVELS[level], permission
    asked = {(permission, level) for permission, level in granted.items()}
    assert asked <= needed, f"more than the bot uses: {asked - needed}"


def test_the_slack_app_has_the_scope_of_every_method_the_bot_calls(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    app = manifest("slack-app.json")
    scopes = set(app["oauth_config"]["scopes"]["bot"])
    interactivity = app["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    url = urlparse(interactivity["request_url"])
    assert url.path == "/webhooks/slack/interactions" and url.path in routes(tmp_path)

    source = (REPO_ROOT / "integrations" / "slack" / "client.py").read_text()
    methods = set(re.findall(r'"(chat\.[A-Za-z]+)"', source))
    assert methods == {"chat.postMessage", "chat.update"}
    api = json.loads((fixtures_dir / "slack" / "slack_web_openapi_v2.json").read_text())
    for method in methods:
        wanted = {
            scope
            for requirement in api["paths"][f"/{method}"]["post"]["security"]
            for scope in requirement.get("slackAuth", [])
        }
        # The description names the classic scopes (chat:write:bot); a bot token's is chat:write.
        assert any(scope.startswith("chat:write") for scope in wanted), method
    assert scopes == {"chat:write"}  # the bot posts where it was invited, and nothing more
