"""Slack's interaction payloads, read into the clicks ci-bot acts on (pure).

Slack posts ``payload=<JSON>`` form-encoded.  Only ``block_actions`` carry
button clicks; anything else is answered and ignored.  A payload that is not
what Slack sends (or holds text that is not valid Unicode) is a ``WebhookError``
(400) with a sentence, never a crash.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from ci_bot.errors import WebhookError

_USER_ID = re.compile(r"[UW][A-Z0-9]+")


@dataclass(frozen=True)
class Click:
    action_id: str
    value: str
    user_id: str
    user_name: str
    channel_id: str  # where the clicked message is
    message_ts: str
    response_url: str = ""  # where a reply only the clicker sees goes (``respond``)

    @property
    def actor(self) -> str:
        """Who clicked, as run events record it: ``slack:U0123ABCD (alice)``."""
        name = f" ({self.user_name})" if self.user_name else ""
        return f"slack:{self.user_id}{name}"


def parse(body: bytes) -> tuple[str, list[Click]]:
    """(payload type, the button clicks in it) of a raw interaction request body."""
    payload = _payload(body)
    kind = payload.get("type")
    if not isinstance(kind, str):
        raise WebhookError("the interaction payload has no type")
    if kind != "block_actions":
        return kind, []
    user = _object(payload, "user")
    user_id = user.get("id")
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
        raise WebhookError("the interaction payload has no valid user.id")
    name = user.get("username") or user.get("name") or ""
    container = _object(payload, "container")
    channel = container.get("channel_id") or _object(payload, "channel").get("id")
    message_ts = container.get("message_ts") or _object(payload, "message").get("ts")
    response_url = payload.get("response_url")
    actions = payload.get("actions")
    if not isinstance(actions, list):
        raise WebhookError("the interaction payload has no actions list")
    clicks = [
        Click(
            action_id=str(action.get("action_id", "")),
            value=str(action.get("value", "")),
            user_id=user_id,
            user_name=str(name)[:80],
            channel_id=str(channel or ""),
            message_ts=str(message_ts or ""),
            response_url=response_url if isinstance(response_url, str) else "",
        )
        for action in actions
        if isinstance(action, dict)
    ]
    return kind, clicks


def _payload(body: bytes) -> dict[str, Any]:
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True)
        payload = json.loads(form["payload"][0])
    except (UnicodeDecodeError, ValueError, KeyError):
        raise WebhookError(
            "expected a form-encoded body with a JSON `payload` field, as Slack sends"
        ) from None
    if not isinstance(payload, dict):
        raise WebhookError("the interaction payload is not a JSON object")
    try:  # JSON may spell a lone surrogate (\ud800); no text of ours may hold one
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise WebhookError("the interaction payload is not valid Unicode text") from None
    return payload


def _object(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    return value if isinstance(value, dict) else {}
