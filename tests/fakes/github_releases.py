"""The Releases endpoints of the fake GitHub: find by tag, create, list, upload and
delete assets — what publishing a release (``integrations/github/releases.py``) uses.

GitHub publishes no request schemas for these in ``../shared/fixtures``, so the
requests are checked by hand against the REST documentation (the keys of "create
a release", an upload's ``name`` and ``Content-Type``, a duplicate tag or asset
name refused with 422 ``already_exists``), and every release and asset the fake
answers with is validated against the official ``common/release.schema.json``
and ``common/release-asset.schema.json``: a client reading them reads what
GitHub would send.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
from referencing import Registry
from referencing.jsonschema import DRAFT7
from werkzeug.wrappers import Request

CREATE_KEYS = {
    "tag_name": str,
    "target_commitish": str,
    "name": str,
    "body": str,
    "draft": bool,
    "prerelease": bool,
    "discussion_category_name": str,
    "generate_release_notes": bool,
    "make_latest": str,
}
MAX_BODY = 125_000


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Asset:
    id: int
    name: str
    label: str
    content_type: str
    data: bytes
    created_at: str


@dataclass
class Release:
    id: int
    repo: str
    tag: str
    name: str
    body: str
    created_at: str
    assets: list[Asset] = field(default_factory=list)


class FakeReleases:
    def __init__(self, fixtures_dir: Path, base_url: str) -> None:
        schemas = fixtures_dir / "github" / "schemas"
        resources = []
        for path in (schemas / "common").glob("*.schema.json"):
            schema = json.loads(path.read_text())
            resources.append((schema["$id"], DRAFT7.create_resource(schema)))
        self._registry = Registry().with_resources(resources)
        self._schemas = {
            name: json.loads((schemas / "common" / f"{name}.schema.json").read_text())
            for name in ("release", "release-asset")
        }
        sender = json.loads(
            (
                fixtures_dir / "github" / "webhooks" / "push" / "with-new-branch.payload.json"
            ).read_text()
        )["sender"]
        self._author = sender
        self.base_url = base_url
        self.releases: dict[int, Release] = {}
        self.deleted_assets: list[str] = []  # names, in order
        self._ids = itertools.count(1)

    def routes(self) -> list[tuple[str, str, Any]]:
        repo = r"/repos/([^/]+/[^/]+)"
        return [
            ("GET", repo + r"/releases/tags/(.+)", self._by_tag),
            ("POST", repo + r"/releases", self._create),
            ("GET", repo + r"/releases/(\d+)", self._get),
            ("GET", repo + r"/releases/(\d+)/assets", self._list_assets),
            ("DELETE", repo + r"/releases/assets/(\d+)", self._delete_asset),
            ("POST", r"/api/uploads" + repo + r"/releases/(\d+)/assets", self._upload),
        ]

    @staticmethod
    def is_upload(path: str) -> bool:
        return path.startswith("/api/uploads/")

    def of(self, repo: str, tag: str) -> Release:
        found = [r for r in self.releases.values() if r.repo == repo and r.tag == tag]
        assert len(found) == 1, f"{len(found)} releases of {tag} in {repo}"
        return found[0]

    # --- endpoints ---------------------------------------------------------------------------

    def _by_tag(self, request: Request, body: Any, repo: str, tag: str) -> tuple[int, Any]:
        for release in self.releases.values():
            if release.repo == repo and release.tag == tag:
                return 200, self._release_json(release)
        return 404, {"message": "Not Found"}  # GitHub's answer for a tag without a release

    def _get(self, request: Request, body: Any, repo: str, release_id: str) -> tuple[int, Any]:
        return 200, self._release_json(self._release(repo, release_id))

    def _create(self, request: Request, body: Any, repo: str) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("tag_name"), str):
            raise Refused(422, f"create a release needs tag_name, not {body!r}")
        for key, value in body.items():
            if key not in CREATE_KEYS:
                raise Refused(422, f"create a release takes no {key!r}")
            if not isinstance(value, CREATE_KEYS[key]):
                raise Refused(422, f"{key} must be a {CREATE_KEYS[key].__name__}")
        if body.get("make_latest", "true") not in ("true", "false", "legacy"):
            raise Refused(422, f"make_latest {body['make_latest']!r}")
        if len(body.get("body", "")) > MAX_BODY:
            raise Refused(422, "body is too long (maximum is 125000 characters)")
        if any(r.repo == repo and r.tag == body["tag_name"] for r in self.releases.values()):
            return 422, _already_exists("Release", "tag_name")
        release = Release(
            id=next(self._ids),
            repo=repo,
            tag=body["tag_name"],
            name=body.get("name", body["tag_name"]),
            body=body.get("body", ""),
            created_at=_now(),
        )
        self.releases[release.id] = release
        return 201, self._release_json(release)

    def _list_assets(
        self, request: Request, body: Any, repo: str, release_id: str
    ) -> tuple[int, Any]:
        release = self._release(repo, release_id)
        return 200, [self._asset_json(release, asset) for asset in release.assets]

    def _delete_asset(
        self, request: Request, body: Any, repo: str, asset_id: str
    ) -> tuple[int, Any]:
        for release in self.releases.values():
            for asset in list(release.assets):
                if release.repo == repo and asset.id == int(asset_id):
                    release.assets.remove(asset)
                    self.deleted_assets.append(asset.name)
                    return 204, None
        raise Refused(404, f"no asset {asset_id} in {repo}")

    def _upload(self, request: Request, body: Any, repo: str, release_id: str) -> tuple[int, Any]:
        release = self._release(repo, release_id)
        name = request.args.get("name", "")
        content_type = request.headers.get("Content-Type", "")
        if not name:
            raise Refused(422, "an upload needs ?name=")
        if not content_type:
            raise Refused(422, "an upload needs a Content-Type")
        if int(request.headers.get("Content-Length") or -1) != len(body):
            raise Refused(400, "Content-Length does not match the body")
        if any(asset.name == name for asset in release.assets):
            return 422, _already_exists("ReleaseAsset", "name")
        asset = Asset(
            next(self._ids), name, request.args.get("label", ""), content_type, body, _now()
        )
        release.assets.append(asset)
        return 201, self._asset_json(release, asset)

    # --- bodies, checked against the official schemas ----------------------------------------

    def _release(self, repo: str, release_id: str) -> Release:
        release = self.releases.get(int(release_id))
        if release is None or release.repo != repo:
            raise Refused(404, f"no release {release_id} in {repo}")
        return release

    def _release_json(self, release: Release) -> dict[str, Any]:
        api = f"{self.base_url}/repos/{release.repo}/releases/{release.id}"
        answer = {
            "url": api,
            "assets_url": f"{api}/assets",
            "upload_url": f"{self.base_url}/api/uploads/repos/{release.repo}/releases/"
            f"{release.id}/assets{{?name,label}}",
            "html_url": f"https://github.com/{release.repo}/releases/tag/{quote(release.tag)}",
            "id": release.id,
            "node_id": f"RE_{release.id}",
            "tag_name": release.tag,
            "target_commitish": "main",
            "name": release.name,
            "draft": False,
            "author": self._author,
            "prerelease": False,
            "created_at": release.created_at,
            "published_at": release.created_at,
            "assets": [self._asset_json(release, asset) for asset in release.assets],
            "tarball_url": f"{self.base_url}/repos/{release.repo}/tarball/{release.tag}",
            "zipball_url": f"{self.base_url}/repos/{release.repo}/zipball/{release.tag}",
            "body": release.body,
        }
        self._check("release", answer)
        return answer

    def _asset_json(self, release: Release, asset: Asset) -> dict[str, Any]:
        answer = {
            "url": f"{self.base_url}/repos/{release.repo}/releases/assets/{asset.id}",
            "browser_download_url": f"https://github.com/{release.repo}/releases/download/"
            f"{quote(release.tag)}/{quote(asset.name)}",
            "id": asset.id,
            "node_id": f"RA_{asset.id}",
            "name": asset.name,
            "label": asset.label or None,
            "state": "uploaded",
            "content_type": asset.content_type,
            "size": len(asset.data),
            "download_count": 0,
            "created_at": asset.created_at,
            "updated_at": asset.created_at,
            "uploader": self._author,
        }
        self._check("release-asset", answer)
        return answer

    def _check(self, schema: str, answer: dict[str, Any]) -> None:
        validator = jsonschema.Draft7Validator(self._schemas[schema], registry=self._registry)
        errors = sorted(validator.iter_errors(answer), key=str)
        if errors:  # a bug of the fake's: recorded, so the test fails on it
            raise Refused(500, f"the fake's own {schema} is not GitHub's: {errors[0].message}")


def _already_exists(resource: str, field_name: str) -> dict[str, Any]:
    return {
        "message": "Validation Failed",
        "errors": [{"resource": resource, "code": "already_exists", "field": field_name}],
    }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
