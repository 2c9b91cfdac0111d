"""A fake Slack Web API for tests: a real HTTP server on 127.0.0.1 that checks each call.

It serves ``chat.postMessage`` and ``chat.update`` the way Slack does, and checks
each request against Slack's own description of them in ``../shared/fixtures/slack/``:
the HTTP method, the content type, the token (``Authorization: Bearer``), the
required and known parameters (``chat-methods.json``) and their types.  ``blocks``
must match the OpenAPI ``blocks`` definition and pass slack-sdk's Block Kit
models, which enforce Slack's limits.  Each answer is checked against the method's
success or error schema in ``slack_web_openapi_v2.json`` before it goes out.

Anything that breaks the contract (an unknown method or parameter, a wrong type,
a reply to a thread that does not exist) lands in ``problems``; the ``fake_slack``
fixture fails the test on any.  A test scripts Slack's bad days with ``fail_next``:
``ok: false`` errors, HTTP 429 with ``Retry-After``, a 500 with no JSON at all.

It also takes what is posted to an interaction's ``response_url`` (``/actions/…``,
as ``hooks.slack.com`` does): a JSON message, kept in ``responses``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jsonschema import Draft4Validator
from slack_sdk.models.blocks import Block

METHODS = ("chat.postMessage", "chat.update")
MAX_BLOCKS = 50
MAX_TEXT = 40_000
BOT_USER = "U0FAKEBOT1"
TEAM = "T0FAKETEAM1"
# "A JSON-based array of structured blocks, presented as a URL-encoded string"
JSON_ARRAYS = ("blocks", "attachments")
# What a message posted to a response_url may hold (Slack's "Handling user interaction").
RESPONSE_KEYS = {"text", "blocks", "response_type", "replace_original", "delete_original"}


class SlackSpec:
    """The two methods' parameters and answer schemas, from the official files."""

    def __init__(self, fixtures_dir: Path) -> None:
        folder = fixtures_dir / "slack"
        listed = json.loads((folder / "chat-methods.json").read_text())["paths"]
        openapi = json.loads((folder / "slack_web_openapi_v2.json").read_text())
        definitions = openapi["definitions"]
        self.params: dict[str, dict[str, dict[str, Any]]] = {}
        self.consumes: dict[str, list[str]] = {}
        self.http_method: dict[str, str] = {}
        self.answers: dict[tuple[str, bool], Draft4Validator] = {}
        for method in METHODS:
            entry = listed[f"/{method}"]
            self.params[method] = {p["name"]: p for p in entry["parameters"]}
            self.consumes[method] = entry["consumes"]
            self.http_method[method] = entry["method"].upper()
            responses = openapi["paths"][f"/{method}"]["post"]["responses"]
            for ok, key in ((True, "200"), (False, "default")):
                schema = {"definitions": definitions, **responses[key]["schema"]}
                self.answers[(method, ok)] = Draft4Validator(schema)
        self.blocks = Draft4Validator({"definitions": definitions, "$ref": "#/definitions/blocks"})


@dataclass
class Message:
    """A message as Slack keeps it; ``versions`` holds (text, blocks) as posted, then each edit."""

    channel: str
    ts: str
    thread_ts: str | None
    versions: list[tuple[str, list[dict[str, Any]] | None]]

    @property
    def text(self) -> str:
        return self.versions[-1][0]

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return self.versions[-1][1] or []

    @property
    def edits(self) -> int:
        return len(self.versions) - 1


@dataclass(frozen=True)
class Call:
    method: str
    params: Mapping[str, Any]
    status: int
    answer: Mapping[str, Any]


@dataclass
class Failure:
    method: str | None  # None: whichever method comes next
    status: int
    error: str | None  # None: a body that is not JSON (a proxy's error page)
    retry_after: int | None


@dataclass
class _Answer:
    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlack:
    def __init__(self, spec: SlackSpec, token: str, channels: tuple[str, ...] = ("general",)):
        self.spec = spec
        self.token = token
        self.channels = {name: _channel_id(name) for name in channels}
        self.messages: list[Message] = []
        self.calls: list[Call] = []
        self.bodies: list[bytes] = []
        self.problems: list[str] = []
        self.responses: list[dict[str, Any]] = []  # posted to response_urls
        self._failures: list[Failure] = []
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """What CI_BOT_SLACK_API_URL points at."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/api"

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # --- scripting and reading what Slack got ----------------------------------------------

    def fail_next(
        self,
        times: int = 1,
        *,
        method: str | None = None,
        status: int = 200,
        error: str | None = "rate_limited",
        retry_after: int | None = None,
    ) -> None:
        with self._lock:
            self._failures += [Failure(method, status, error, retry_after)] * times

    @property
    def response_url(self) -> str:
        """A ``response_url`` as Slack puts in an interaction, served by this fake."""
        return self.url.removesuffix("/api") + "/actions/T0FAKETEAM1/1234/abcdef"

    def channel_id(self, name: str) -> str:
        return self.channels[name.lstrip("#")]

    def top_level(self, channel: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m.channel == channel and m.thread_ts is None]

    def replies(self, channel: str, ts: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m.channel == channel and m.thread_ts == ts]

    def calls_of(self, method: str, ok: bool | None = None) -> list[Call]:
        with self._lock:
            return [
                call
                for call in self.calls
                if call.method == method and (ok is None or call.answer.get("ok") is ok)
            ]

    def received_text(self) -> str:
        """Every byte of every request body, decoded: to search for what must not be there."""
        with self._lock:
            return b"\n".join(self.bodies).decode("utf-8", "replace")

    def wait_until(self, condition: Callable[[], object], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"Slack never saw {what}; calls: {self._summary()}")
            time.sleep(0.02)

    def _summary(self) -> list[str]:
        return [f"{c.method} {c.status} {c.answer.get('error', 'ok')}" for c in self.calls]

    # --- one request ---------------------------------------------------------------------------

    def handle(self, verb: str, path: str, headers: Mapping[str, str], body: bytes) -> _Answer:
        with self._lock:
            self.bodies.append(body)
            if path.startswith("/actions/"):
                return self._respond(verb, headers, body)
            method = path.removeprefix("/api/")
            if not path.startswith("/api/") or method not in METHODS:
                self.problems.append(f"unexpected call: {verb} {path}")
                return _Answer(200, {"ok": False, "error": "unknown_method"})
            params = self._check_request(method, verb, headers, body)
            answer = self._scripted(method) or self._answer(method, headers, params)
            if answer.body is not None:
                self._check_answer(method, answer)
            self.calls.append(Call(method, params, answer.status, answer.body or {}))
            return answer

    def _check_request(
        self, method: str, verb: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        """The call's parameters; every way it breaks Slack's description goes to problems."""
        problems: list[str] = []
        if verb != self.spec.http_method[method]:
            problems.append(f"{method} is {self.spec.http_method[method]}, not {verb}")
        params = self._params(method, headers, body, problems)
        described = self.spec.params[method]
        for name, value in params.items():
            param = described.get(name)
            if param is None or param["in"] != "formData":
                problems.append(f"{method}: unknown parameter {name!r}")
            else:
                problems += _type_problems(method, name, param["type"], value)
        for name, param in described.items():
            if param["required"] and param["in"] == "formData" and name not in params:
                problems.append(f"{method}: required parameter {name!r} is missing")
        problems += self._block_problems(method, _json_array(params.get("blocks")))
        self.problems += problems
        return params

    def _params(
        self, method: str, headers: Mapping[str, str], body: bytes, problems: list[str]
    ) -> dict[str, Any]:
        kind = _header(headers, "Content-Type").split(";")[0].strip().lower()
        if kind not in self.spec.consumes[method]:
            problems.append(f"{method}: content type {kind!r} is not one Slack takes")
            return {}
        try:
            if kind == "application/json":
                data = json.loads(body)
            else:
                form = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=True)
                problems += [f"{method}: {k!r} given twice" for k, v in form.items() if len(v) > 1]
                data = {key: values[0] for key, values in form.items()}
        except ValueError as error:
            problems.append(f"{method}: the body cannot be read as {kind}: {error}")
            return {}
        if not isinstance(data, dict):
            problems.append(f"{method}: the JSON body is not an object")
            return {}
        return data

    def _block_problems(self, method: str, blocks: list[Any] | None) -> list[str]:
        if blocks is None:
            return []
        problems = [f"{method}.blocks: {e.message}" for e in self.spec.blocks.iter_errors(blocks)]
        if len(blocks) > MAX_BLOCKS:
            problems.append(f"{method}: {len(blocks)} blocks, Slack takes {MAX_BLOCKS}")
        for index, raw in enumerate(blocks):
            try:  # slack-sdk's models check Slack's limits (text lengths, element counts)
                parsed = Block.parse(raw)
                if parsed is None:
                    raise ValueError(f"unknown block type {raw.get('type')!r}")
                parsed.to_dict()
            except Exception as error:
                problems.append(f"{method}.blocks[{index}]: {error}")
        return problems

    def _answer(self, method: str, headers: Mapping[str, str], params: dict[str, Any]) -> _Answer:
        denied = self._denied(headers)
        if denied:
            self.problems.append(f"{method}: {denied} (Authorization must carry the bot token)")
            return _error(denied)
        text = params.get("text") or ""
        if isinstance(text, str) and len(text) > MAX_TEXT:
            self.problems.append(f"{method}: text of {len(text)} characters")
            return _error("msg_too_long")
        if method == "chat.postMessage":
            return self._post(params)
        return self._update(params)

    def _denied(self, headers: Mapping[str, str]) -> str | None:
        given = _header(headers, "Authorization")
        if not given:
            return "not_authed"
        return None if given == f"Bearer {self.token}" else "invalid_auth"

    def _post(self, params: dict[str, Any]) -> _Answer:
        channel = self._resolve(str(params.get("channel", "")))
        if channel is None:
            return _error("channel_not_found")
        text, blocks = str(params.get("text") or ""), _json_array(params.get("blocks"))
        if not text and not blocks and not params.get("attachments"):
            return _error("no_text")
        thread_ts = params.get("thread_ts") or None
        if thread_ts and not any(
            m.channel == channel and m.ts == thread_ts and m.thread_ts is None
            for m in self.messages
        ):
            self.problems.append(f"chat.postMessage: a reply to {thread_ts}, no such message")
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        self.messages.append(Message(channel, ts, thread_ts, [(text, blocks)]))
        message: dict[str, Any] = {
            "type": "message",
            "text": text,
            "ts": ts,
            "user": BOT_USER,
            "team": TEAM,
        }
        if blocks:
            message["blocks"] = blocks
        if thread_ts:
            message["thread_ts"] = thread_ts
        return _Answer(200, {"ok": True, "channel": channel, "ts": ts, "message": message})

    def _update(self, params: dict[str, Any]) -> _Answer:
        channel, ts = params.get("channel"), params.get("ts")
        if channel not in self.channels.values():
            return _error("channel_not_found")  # chat.update wants the id, not a name
        found = next((m for m in self.messages if m.channel == channel and m.ts == ts), None)
        if found is None:
            return _error("message_not_found")
        text = str(params.get("text") or found.text)
        # "If you don't include this field, the message's previous blocks will be retained."
        blocks = _json_array(params["blocks"]) if "blocks" in params else found.blocks
        found.versions.append((text, blocks))
        answer = {"ok": True, "channel": channel, "ts": ts, "text": text, "message": {"text": text}}
        return _Answer(200, answer)

    def _respond(self, verb: str, headers: Mapping[str, str], body: bytes) -> _Answer:
        """A message posted to a response_url: JSON, no token needed, known keys only."""
        kind = _header(headers, "Content-Type").split(";")[0].strip().lower()
        try:
            message = json.loads(body) if kind == "application/json" else None
        except ValueError:
            message = None
        if verb != "POST" or not isinstance(message, dict):
            self.problems.append(f"response_url: {verb} of {kind!r}, not a JSON message")
            return _Answer(400, {"ok": False, "error": "invalid_payload"})
        unknown = set(message) - RESPONSE_KEYS
        if unknown or not isinstance(message.get("text"), str) or not message["text"]:
            self.problems.append(f"response_url: unknown keys {unknown} or no text: {message}")
            return _Answer(400, {"ok": False, "error": "invalid_payload"})
        if message.get("response_type", "ephemeral") not in ("ephemeral", "in_channel"):
            self.problems.append(f"response_url: response_type {message['response_type']!r}")
        self.responses.append(message)
        return _Answer(200, {"ok": True})

    def _resolve(self, channel: str) -> str | None:
        if channel in self.channels.values():
            return channel
        return self.channels.get(channel.lstrip("#"))

    def _scripted(self, method: str) -> _Answer | None:
        for index, failure in enumerate(self._failures):
            if failure.method in (None, method):
                del self._failures[index]
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
                body = None if failure.error is None else {"ok": False, "error": failure.error}
                return _Answer(failure.status, body, headers)
        return None

    def _check_answer(self, method: str, answer: _Answer) -> None:
        assert answer.body is not None
        validator = self.spec.answers[(method, bool(answer.body.get("ok")))]
        for error in validator.iter_errors(answer.body):
            self.problems.append(f"the fake's own {method} answer breaks the schema: {error}")


def _error(code: str) -> _Answer:
    return _Answer(200, {"ok": False, "error": code})


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), "")


def _json_array(value: Any) -> list[Any] | None:
    """``blocks`` as a list, whether sent as JSON or as its text in a form (None: neither)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, list) else None


def _type_problems(method: str, name: str, kind: str, value: Any) -> list[str]:
    where = f"{method}.{name}"
    if name in JSON_ARRAYS:
        return [] if _json_array(value) is not None else [f"{where} is not a JSON array"]
    if kind == "string" and not isinstance(value, str):
        return [f"{where} must be a string, got {value!r}"]
    if kind == "boolean" and not (isinstance(value, bool) or value in ("true", "false", "1", "0")):
        return [f"{where} must be a boolean, got {value!r}"]
    return []


def _channel_id(name: str) -> str:
    return "C" + hashlib.sha1(name.encode()).hexdigest()[:10].upper()


def _handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self._serve("POST")

        def do_GET(self) -> None:
            self._serve("GET")

        def _serve(self, verb: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            answer = fake.handle(verb, self.path, dict(self.headers.items()), body)
            data = b"upstream error" if answer.body is None else json.dumps(answer.body).encode()
            self.send_response(answer.status)
            kind = "text/plain" if answer.body is None else "application/json; charset=utf-8"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test's output stays readable; calls are in fake.calls

    return Handler
