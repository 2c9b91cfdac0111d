"""A fake GitHub API: a real HTTP server on 127.0.0.1 that checks every request.

Bodies of the Checks and commit-status endpoints are validated against GitHub's
own request schemas (``../shared/fixtures/github/rest``); the other endpoints
ci-bot uses (comments, reactions, permissions, pull requests, installation
tokens, releases: ``github_releases.py``) are checked by hand against GitHub's
documented shapes.  Every token is
checked: installation tokens are only issued for a JWT signed with the App's
key.  Anything unexpected — an unknown route, an invalid body, a bad token — is
answered as GitHub would (404/422/401) *and* recorded in ``problems``; the
``fake_github`` fixture fails the test on any.  ``fail`` scripts outages.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import jwt
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tests.fakes.github_releases import FakeReleases
from tests.fakes.github_releases import Refused as _Refused

REACTIONS = {"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}
ROLE_PERMISSION = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read"}


@dataclass
class Call:
    method: str
    path: str
    body: Any
    status: int = 0


@dataclass
class CheckRun:
    id: int
    repo: str
    name: str
    head_sha: str
    external_id: str
    status: str = "queued"
    conclusion: str | None = None
    details_url: str = ""
    output: dict[str, Any] = field(default_factory=dict)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # every body, in order


@dataclass
class _Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    headers: dict[str, str]
    times: int


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the fake records calls itself; ci-bot's client logs its own line per call


def _failure_message(failure: _Failure) -> str:
    """GitHub's own words for a rate limit (clients tell a limit from a refusal by them)."""
    headers = {name.lower(): value for name, value in failure.headers.items()}
    if headers.get("x-ratelimit-remaining") == "0":
        return "API rate limit exceeded for installation ID 1."
    if "retry-after" in headers:
        return (
            "You have exceeded a secondary rate limit. "
            "Please wait a few minutes before you try again."
        )
    return "scripted failure"


class FakeGitHub:
    def __init__(
        self,
        fixtures_dir: Path,
        *,
        personal_token: str = "",
        app_id: str = "",
        app_public_key: str = "",
    ) -> None:
        rest = fixtures_dir / "github" / "rest"
        self._schemas = {
            name: json.loads((rest / f"{name}.request.schema.json").read_text())
            for name in ("checks-create", "checks-update", "repos-create-commit-status")
        }
        self.app_id, self.app_public_key = app_id, app_public_key
        self.tokens: set[str] = {personal_token} if personal_token else set()
        self.tokens_issued: list[int] = []  # installation ids, one per token issued
        self.calls: list[Call] = []
        self.problems: list[str] = []
        self.check_runs: dict[int, CheckRun] = {}
        self.statuses: list[tuple[str, dict[str, Any]]] = []
        self.comments: list[tuple[str, int, str]] = []
        self.reactions: list[tuple[str, int, str]] = []
        self.roles: dict[str, str] = {}
        self.pulls: dict[tuple[str, int], dict[str, Any]] = {}
        self._failures: list[_Failure] = []
        self._ids = itertools.count(1000)
        self._lock = threading.RLock()  # wait_for's condition reads under it too
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_Quiet
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.releases = FakeReleases(fixtures_dir, self.url)  # the Releases endpoints
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # --- lifecycle and scripting ----------------------------------------------------------

    def start(self) -> FakeGitHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(
        self,
        method: str,
        pattern: str,
        status: int,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` matching requests get ``status`` (an outage, a rate limit)."""
        self._failures.append(_Failure(method, re.compile(pattern), status, headers or {}, times))

    def add_pull(self, repo: str, number: int, head_sha: str, head_repo: str, **extra: Any) -> None:
        self.pulls[(repo, number)] = {
            "number": number,
            "state": extra.get("state", "open"),
            "draft": False,
            "user": {"login": extra.get("author", "octocat")},
            "head": {
                "sha": head_sha,
                "ref": extra.get("head_ref", "feature"),
                "repo": {"full_name": head_repo},
            },
            "base": {"ref": extra.get("base_ref", "main"), "repo": {"full_name": repo}},
        }

    # --- what tests read --------------------------------------------------------------------

    def runs_named(self, name: str) -> list[CheckRun]:
        with self._lock:
            return [run for run in self.check_runs.values() if run.name == name]

    def latest(self, name: str) -> CheckRun:
        runs = self.runs_named(name)
        assert runs, (
            f"no check run named {name}; have {sorted({r.name for r in self.check_runs.values()})}"
        )
        return runs[-1]

    def calls_to(self, method: str, pattern: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and re.search(pattern, c.path)]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:  # never see a request half applied
                if condition():
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"the fake GitHub never saw that; calls: {self.summary()}")
            time.sleep(0.05)

    def summary(self) -> list[str]:
        with self._lock:
            return [f"{c.method} {c.path} -> {c.status}" for c in self.calls]

    def assert_no_problems(self) -> None:
        assert not self.problems, "unexpected requests to GitHub:\n" + "\n".join(self.problems)

    # --- the server -------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        status, answer, headers = self._answer(request)
        if status == 204:  # No Content: a body would corrupt the next answer on the connection
            response = Response(status=204)
        else:
            response = Response(json.dumps(answer), status=status, mimetype="application/json")
        for name, value in headers.items():
            response.headers[name] = value
        return response(environ, start_response)

    def _answer(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        body: Any = None
        call = Call(request.method, request.path, None)
        try:
            body = self._body(request)
            call.body = body
            scripted = self._scripted(request)
            if scripted is not None:
                call.status = scripted[0]
                return scripted
            status, answer = self._route(request, body)
        except _Refused as refused:
            self.problems.append(f"{request.method} {request.path}: {refused}")
            status, answer = refused.status, {"message": str(refused)}
        call.status = status
        with self._lock:
            self.calls.append(call)
        return status, answer, {}

    def _scripted(self, request: Request) -> tuple[int, Any, dict[str, str]] | None:
        with self._lock:
            for failure in self._failures:
                if (
                    failure.times
                    and failure.method == request.method
                    and failure.pattern.search(request.path)
                ):
                    failure.times -= 1
                    self.calls.append(Call(request.method, request.path, None, failure.status))
                    answer = {"message": _failure_message(failure)}
                    return failure.status, answer, failure.headers
        return None

    def _body(self, request: Request) -> Any:
        if request.method == "GET" or (request.method == "DELETE" and not request.content_length):
            return None
        if FakeReleases.is_upload(request.path):  # an asset's bytes, as they are
            return request.get_data()
        if request.mimetype != "application/json":
            raise _Refused(415, f"content type {request.mimetype!r}, not application/json")
        try:
            return json.loads(request.get_data(as_text=True) or "null")
        except ValueError as error:
            raise _Refused(400, f"invalid JSON: {error}") from None

    def _route(self, request: Request, body: Any) -> tuple[int, Any]:
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, request.path)
            if match and method == request.method:
                if not pattern.startswith("/app/"):
                    self._check_token(request)
                return handler(request, body, *match.groups())
        raise _Refused(404, "no such endpoint in the fake GitHub")

    def _routes(self) -> list[tuple[str, str, Callable[..., tuple[int, Any]]]]:
        repo = r"/repos/([^/]+/[^/]+)"
        return [
            ("POST", r"/app/installations/(\d+)/access_tokens", self._installation_token),
            ("POST", repo + r"/check-runs", self._create_check_run),
            ("PATCH", repo + r"/check-runs/(\d+)", self._update_check_run),
            ("POST", repo + r"/statuses/([0-9a-f]{40})", self._create_status),
            ("POST", repo + r"/issues/(\d+)/comments", self._comment),
            ("POST", repo + r"/issues/comments/(\d+)/reactions", self._react),
            ("GET", repo + r"/collaborators/([^/]+)/permission", self._permission),
            ("GET", repo + r"/pulls/(\d+)", self._pull),
            *self.releases.routes(),
        ]

    # --- auth ----------------------------------------------------------------------------------

    def _check_token(self, request: Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or token not in self.tokens:
            raise _Refused(401, "Bad credentials")

    def _installation_token(
        self, request: Request, body: Any, installation: str
    ) -> tuple[int, Any]:
        scheme, _, request_token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            raise _Refused(401, "an installation token needs the App's JWT as a Bearer token")
        try:
            claims = jwt.decode(request_token, self.app_public_key, algorithms=["RS256"])
        except jwt.PyJWTError as error:
            raise _Refused(401, f"the JWT does not verify with the App's key: {error}") from None
        if str(claims.get("iss")) != self.app_id:
            raise _Refused(401, f"the JWT is for App {claims.get('iss')}, not {self.app_id}")
        token = "ghs_" + secrets.token_hex(18)
        with self._lock:
            self.tokens.add(token)
            self.tokens_issued.append(int(installation))
        expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 201, {"token": token, "expires_at": expires, "permissions": {}}

    # --- checks and statuses ---------------------------------------------------------------

    def _validate(self, schema: str, body: Any) -> None:
        errors = sorted(
            jsonschema.Draft7Validator(self._schemas[schema]).iter_errors(body), key=str
        )
        if errors:
            raise _Refused(422, f"{schema}: {errors[0].message} at {list(errors[0].absolute_path)}")
        annotations = (body.get("output") or {}).get("annotations", [])
        for annotation in annotations:
            if "start_column" in annotation and annotation["start_line"] != annotation["end_line"]:
                raise _Refused(422, "columns on an annotation spanning lines")
            if annotation["path"].startswith("/") or annotation["start_line"] < 1:
                raise _Refused(422, f"annotation path/line invalid: {annotation}")

    def _create_check_run(self, request: Request, body: Any, repo: str) -> tuple[int, Any]:
        self._validate("checks-create", body)
        with self._lock:
            run = CheckRun(
                id=next(self._ids),
                repo=repo,
                name=body["name"],
                head_sha=body["head_sha"],
                external_id=body.get("external_id", ""),
            )
            self.check_runs[run.id] = run
            self._apply(run, body)
        return 201, {"id": run.id, "name": run.name, "status": run.status}

    def _update_check_run(
        self, request: Request, body: Any, repo: str, check_run_id: str
    ) -> tuple[int, Any]:
        self._validate("checks-update", body)
        with self._lock:
            run = self.check_runs.get(int(check_run_id))
            if run is None or run.repo != repo:
                raise _Refused(404, f"no check run {check_run_id} in {repo}")
            self._apply(run, body)
        return 200, {"id": run.id, "status": run.status, "conclusion": run.conclusion}

    def _apply(self, run: CheckRun, body: dict[str, Any]) -> None:
        run.history.append(body)
        if "conclusion" in body:
            run.status, run.conclusion = "completed", body["conclusion"]
        elif "status" in body:
            run.status = body["status"]
        run.details_url = body.get("details_url", run.details_url)
        if "actions" in body:
            run.actions = body["actions"]
        output = dict(body.get("output") or {})
        run.annotations += output.pop("annotations", [])
        run.output.update(output)

    def _create_status(self, request: Request, body: Any, repo: str, sha: str) -> tuple[int, Any]:
        self._validate("repos-create-commit-status", body)
        if len(body.get("description", "")) > 140:
            raise _Refused(422, "description is longer than 140 characters")
        with self._lock:
            self.statuses.append((sha, body))
        return 201, {"id": next(self._ids), **body}

    # --- conversation ------------------------------------------------------------------------

    def _comment(self, request: Request, body: Any, repo: str, number: str) -> tuple[int, Any]:
        if not isinstance(body, dict) or set(body) != {"body"} or not str(body["body"]).strip():
            raise _Refused(422, f"a comment takes exactly a non-empty body, not {body!r}")
        with self._lock:
            self.comments.append((repo, int(number), body["body"]))
        return 201, {"id": next(self._ids), "body": body["body"]}

    def _react(self, request: Request, body: Any, repo: str, comment_id: str) -> tuple[int, Any]:
        if not isinstance(body, dict) or body.get("content") not in REACTIONS or len(body) != 1:
            raise _Refused(422, f"not a reaction: {body!r}")
        with self._lock:
            self.reactions.append((repo, int(comment_id), body["content"]))
        return 201, {"id": next(self._ids), "content": body["content"]}

    def _permission(self, request: Request, body: Any, repo: str, user: str) -> tuple[int, Any]:
        role = self.roles.get(user, "read")
        permission = ROLE_PERMISSION.get(role, role)
        return 200, {"permission": permission, "role_name": role, "user": {"login": user}}

    def _pull(self, request: Request, body: Any, repo: str, number: str) -> tuple[int, Any]:
        pull = self.pulls.get((repo, int(number)))
        if pull is None:
            raise _Refused(404, f"the test set up no pull request {repo}#{number}")
        return 200, pull
