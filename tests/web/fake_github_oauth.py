"""A fake of the GitHub endpoints the UI's sign-in uses, as a real HTTP server on
127.0.0.1: the OAuth code exchange, ``GET /user`` and ``GET /repos/{owner}/{repo}``.

It knows its users (login, OAuth code, the token it issues, their permission on
each repository) and checks every request as GitHub would: the app's client id
and secret, the redirect URI, the code, the bearer token.  Anything else is
answered 404/401 *and* recorded in ``problems``; tests assert there are none and
that each expected call came.  Bodies follow GitHub's documented shapes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

CLIENT_ID = "Iv1.0123456789abcdef"
CLIENT_SECRET = "oauth-client-secret-0123456789abcdef"
ROLES = {  # GitHub's repository roles, as the permissions object of GET /repos shows them
    "read": {"admin": False, "maintain": False, "push": False, "triage": False, "pull": True},
    "write": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
}


@dataclass
class GitHubUser:
    login: str
    code: str
    token: str
    roles: dict[str, str] = field(default_factory=dict)  # "owner/name" -> read | write


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class FakeGitHubOAuth:
    def __init__(self, users: list[GitHubUser]) -> None:
        self.users = users
        self.calls: list[tuple[str, str]] = []
        self.problems: list[str] = []
        self.redirect_uri = ""  # what the bot must send with the code
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.api_url = f"{self.url}/api/v3"  # a GitHub Enterprise address: web and API apart
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeGitHubOAuth:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(10)
        self._server.server_close()

    @Request.application  # type: ignore[misc]
    def _app(self, request: Request) -> Response:
        self.calls.append((request.method, request.path))
        if request.method == "POST" and request.path == "/login/oauth/access_token":
            return self._access_token(request)
        if request.method == "GET" and request.path == "/api/v3/user":
            return self._with_user(
                request, lambda user: {"login": user.login, "id": 1, "type": "User"}
            )
        if request.method == "GET" and request.path.startswith("/api/v3/repos/"):
            return self._repo(request, request.path.removeprefix("/api/v3/repos/"))
        return self._refuse(404, f"unexpected {request.method} {request.path}")

    def _access_token(self, request: Request) -> Response:
        form = request.form
        if request.headers.get("Accept") != "application/json":
            return self._refuse(406, "the token exchange must ask for JSON")
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return self._refuse(401, "wrong client id or secret")
        if form.get("redirect_uri") != self.redirect_uri:
            return self._refuse(400, f"redirect_uri {form.get('redirect_uri')!r} is not registered")
        user = next((u for u in self.users if u.code == form.get("code")), None)
        if user is None:  # GitHub answers 200 with an error for a bad code
            return _json(
                {
                    "error": "bad_verification_code",
                    "error_description": "The code passed is incorrect or expired.",
                }
            )
        return _json({"access_token": user.token, "token_type": "bearer", "scope": ""})

    def _repo(self, request: Request, repo: str) -> Response:
        owner, _, name = repo.partition("/")

        def body(user: GitHubUser) -> dict[str, Any] | None:
            role = user.roles.get(repo)
            if role is None:
                return None  # GitHub hides what a user cannot see: 404
            full = {
                "id": 7,
                "name": name,
                "full_name": repo,
                "owner": {"login": owner},
                "private": True,
            }
            return {**full, "permissions": ROLES[role]}

        return self._with_user(request, body, expected_missing=True)

    def _with_user(self, request: Request, make: Any, expected_missing: bool = False) -> Response:
        header = request.headers.get("Authorization", "")
        user = next((u for u in self.users if header == f"Bearer {u.token}"), None)
        if user is None:
            return self._refuse(401, f"bad credentials on {request.path}")
        body = make(user)
        if body is None:
            message = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
            return _json(message, 404)
        return _json(body)

    def _refuse(self, status: int, problem: str) -> Response:
        self.problems.append(problem)
        return _json({"message": problem}, status)


def _json(body: Any, status: int = 200) -> Response:
    import json

    return Response(json.dumps(body), status=status, mimetype="application/json")
