"""Helpers for the GitHub tests: official payloads (validated against their schemas),
signed deliveries, and the bot wired to the fake GitHub."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from flask.testing import FlaskClient
from referencing import Registry
from referencing.jsonschema import DRAFT7
from werkzeug.test import TestResponse

SECRET = "webhook-secret-for-tests"
PUBLIC_URL = "http://ci.example.test"
APP_ID = "4242"
PERSONAL_TOKEN = "ghp_personal_token_for_tests_0123456789"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(
    client: FlaskClient,
    event: str,
    payload: Any,
    *,
    delivery: str | None = None,
    secret: str = SECRET,
    form: bool = False,
) -> TestResponse:
    """Deliver ``payload`` as GitHub does: signed over the exact body sent."""
    text = json.dumps(payload)
    if form:
        from urllib.parse import urlencode

        body, content_type = (
            urlencode({"payload": text}).encode(),
            "application/x-www-form-urlencoded",
        )
    else:
        body, content_type = text.encode(), "application/json"
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, secret),
    }
    return client.post("/webhooks/github", data=body, headers=headers, content_type=content_type)


def official(fixtures_dir: Path, name: str) -> dict[str, Any]:
    """An official example payload, e.g. ``pull_request/opened.payload.json``."""
    payload: dict[str, Any] = json.loads((fixtures_dir / "github" / "webhooks" / name).read_text())
    return payload


@cache
def _registry(schemas_dir: Path) -> Registry:
    resources = []
    for path in schemas_dir.rglob("*.schema.json"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], DRAFT7.create_resource(schema)))
    return Registry().with_resources(resources)


def validate_payload(fixtures_dir: Path, event: str, payload: dict[str, Any]) -> None:
    """The payload is what GitHub could send for ``event`` (its official JSON Schema)."""
    schemas = fixtures_dir / "github" / "schemas"
    action = payload.get("action")
    path = schemas / event / (f"{action}.schema.json" if action else "event.schema.json")
    if not path.exists():
        candidates = sorted((schemas / event).glob("*.schema.json"))
        assert len(candidates) == 1, f"no schema for {event}/{action}"
        path = candidates[0]
    schema = json.loads(path.read_text())
    jsonschema.Draft7Validator(schema, registry=_registry(schemas)).validate(payload)


def retarget(payload: dict[str, Any], clone_url: str, sha: str = "") -> dict[str, Any]:
    """The payload with its repository's clone URL pointed at a local repository, and its
    head commit (every mention of it) replaced by ``sha``."""
    text = json.dumps(payload)
    old_sha = _head_sha(payload)
    if sha and old_sha:
        text = text.replace(old_sha, sha)
    changed: dict[str, Any] = json.loads(text)
    for holder in _repositories(changed):
        holder["clone_url"] = clone_url
    return changed


def _head_sha(payload: dict[str, Any]) -> str:
    for path in (
        ("pull_request", "head", "sha"),
        ("after",),
        ("check_run", "head_sha"),
        ("check_suite", "head_sha"),
    ):
        value: Any = payload
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and len(value) == 40 and value != "0" * 40:
            return value
    return ""


def _repositories(payload: dict[str, Any]) -> list[dict[str, Any]]:
    found = [payload["repository"]] if isinstance(payload.get("repository"), dict) else []
    pull = payload.get("pull_request") or {}
    for side in ("head", "base"):
        repo = (pull.get(side) or {}).get("repo")
        if isinstance(repo, dict) and repo.get("full_name") == payload["repository"]["full_name"]:
            found.append(repo)
    return found


def pr_payload(
    fixtures_dir: Path,
    clone_url: str,
    sha: str,
    *,
    action: str = "opened",
    author: str = "Codertocat",
    fork: str = "",
) -> dict[str, Any]:
    """The official pull_request payload of ``action`` for a local repository; with
    ``fork`` its head comes from that repository instead."""
    payload = retarget(
        official(fixtures_dir, f"pull_request/{action}.payload.json"), clone_url, sha
    )
    payload["pull_request"]["user"]["login"] = author
    if fork:
        head = payload["pull_request"]["head"]
        head["repo"] = json.loads(json.dumps(head["repo"]))
        head["repo"]["full_name"] = fork
        head["repo"]["name"] = fork.split("/")[1]
        head["repo"]["fork"] = True
        head["label"] = f"{fork.split('/')[0]}:{head['ref']}"
    return payload


def comment_payload(
    fixtures_dir: Path, clone_url: str, body: str, *, user: str, number: int = 2
) -> dict[str, Any]:
    """The official issue_comment payload, on pull request ``number``, saying ``body``."""
    payload = retarget(
        official(fixtures_dir, "issue_comment/created.with-installation.payload.json"), clone_url
    )
    issue = payload["issue"]
    issue["number"] = number
    issue["pull_request"] = {
        "url": f"https://api.github.com/repos/Codertocat/Hello-World/pulls/{number}",
        "html_url": f"https://github.com/Codertocat/Hello-World/pull/{number}",
        "diff_url": f"https://github.com/Codertocat/Hello-World/pull/{number}.diff",
        "patch_url": f"https://github.com/Codertocat/Hello-World/pull/{number}.patch",
    }
    payload["comment"]["body"] = body
    payload["comment"]["user"]["login"] = user
    return payload
