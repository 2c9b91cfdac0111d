"""An image's id asked of the Docker engine over its Unix socket, without docker-py.

``reuse`` keys each node on the id of its image, and a fully reused pipeline asks the
engine nothing else.  Importing docker-py (with requests and urllib3) costs about a
fifth of a second, more than such a run's own work, so this one question is asked with
the standard library.  A TCP or SSH engine (TLS, credentials) is left to docker-py.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from urllib.parse import quote

from ci_bot.errors import ExecutorError
from ci_bot.executors.outcomes import unreachable

DEFAULT_URL = "unix:///var/run/docker.sock"
TIMEOUT_SECONDS = 60.0  # docker-py's default for every call


def engine_url(base_url: str | None) -> str:
    """The engine's address as docker-py picks it: the setting, $DOCKER_HOST, the socket."""
    return base_url or os.environ.get("DOCKER_HOST") or DEFAULT_URL


def socket_of(url: str) -> str | None:
    """The socket's path for a ``unix://`` engine; None for any other kind."""
    return url.removeprefix("unix://") if url.startswith("unix://") else None


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=TIMEOUT_SECONDS)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def image_id(url: str, image: str) -> str | None:
    """``docker image inspect``'s id of ``image`` on the ``unix://`` engine at ``url``;
    None when the engine does not have it.  ExecutorError when it cannot say."""
    path = socket_of(url)
    if path is None:
        raise ValueError(f"{url} is not a unix:// Docker engine")
    connection = _UnixConnection(path)
    try:
        # quoted as docker-py quotes it: "/" and ":" of a name stay, "@" of a digest not
        connection.request("GET", f"/images/{quote(image, safe='/:')}/json")
        response = connection.getresponse()
        body = response.read()
    except OSError as exc:
        raise ExecutorError(unreachable(url, exc)) from exc
    finally:
        connection.close()
    if response.status == 404:
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = {}
    if response.status != 200 or not isinstance(answer, dict) or "Id" not in answer:
        said = answer.get("message") if isinstance(answer, dict) else None
        words = said or body.decode("utf-8", "replace").strip() or response.reason
        raise ExecutorError(f"the Docker engine at {url} failed: {response.status} {words}")
    return str(answer["Id"])
