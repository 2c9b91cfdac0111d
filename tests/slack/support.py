"""What the Slack tests share: the bot's Slack settings, a clock the test moves,
interaction requests signed the way Slack signs them, and the GitHub side of a rerun
(who clicked is a GitHub user, asked of the fake GitHub)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ci_bot.settings import Settings
from integrations.slack.blocks import RERUN_ACTION
from integrations.slack.verify import signature
from tests.fakes.slack import FakeSlack, Message

TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PUBLIC_URL = "https://ci.example.com"
USER_ID = "U0ALICE123"
GITHUB_LOGIN = "alice-gh"  # USER_ID's GitHub account, through CI_BOT_SLACK_USERS
GITHUB_TOKEN = "ghp_slack_tests_token_0123456789abcdef"
SLACK_HOOKS_URL = "https://hooks.slack.com/actions/T0FAKETEAM1/1/abc"


def slack_settings(data_dir: Path, fake: FakeSlack, **environ: str) -> Settings:
    """The bot's settings, read from the CI_BOT_* variables a person would set."""
    variables = {
        "CI_BOT_DATA_DIR": str(data_dir),
        "CI_BOT_PUBLIC_URL": PUBLIC_URL,
        "CI_BOT_SLACK_TOKEN": TOKEN,
        "CI_BOT_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "CI_BOT_SLACK_CHANNEL": "#general",
        "CI_BOT_SLACK_API_URL": fake.url,
        "CI_BOT_MAX_PARALLEL": "4",
        **environ,
    }
    return Settings.from_env({k: v for k, v in variables.items() if v})


def rerun_settings(github_url: str) -> dict[str, str]:
    """The variables that let USER_ID's clicks rerun: a GitHub token to ask GitHub with,
    and the Slack → GitHub user map (the fake GitHub says what role GITHUB_LOGIN has)."""
    return {
        "CI_BOT_GITHUB_TOKEN": GITHUB_TOKEN,
        "CI_BOT_GITHUB_API_URL": github_url,
        "CI_BOT_SLACK_USERS": f"{USER_ID}={GITHUB_LOGIN}",
    }


class ManualClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def click_payload(
    pipeline_id: int | str,
    channel: str,
    message_ts: str,
    *,
    action_id: str = RERUN_ACTION,
    user_id: str = USER_ID,
    response_url: str = SLACK_HOOKS_URL,
) -> dict[str, Any]:
    """A ``block_actions`` payload shaped as Slack's documentation shows it."""
    return {
        "type": "block_actions",
        "team": {"id": "T0FAKETEAM1", "domain": "acme"},
        "user": {"id": user_id, "username": "alice", "name": "alice", "team_id": "T0FAKETEAM1"},
        "api_app_id": "A0CIBOT0001",
        "token": "verification-token-is-deprecated",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": "1234567890.0987654321.abcdef",
        "channel": {"id": channel, "name": "ci"},
        "message": {"type": "message", "ts": message_ts, "text": "pipeline"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "text": {"type": "plain_text", "text": "Rerun failed"},
                "value": str(pipeline_id),
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def signed(
    payload: dict[str, Any] | None = None,
    *,
    body: bytes | None = None,
    secret: str = SIGNING_SECRET,
    age: int = 0,
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of an interaction request Slack signed ``age`` seconds ago."""
    if body is None:
        body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(time.time()) - age)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(secret, timestamp, body),
    }
    return body, headers


def header_of(message: Message) -> str:
    """The text of the message's header block: "✔ acme/app pipeline 1 passed"."""
    return str(message.blocks[0]["text"]["text"])


def all_text(message: Message) -> str:
    """Everything a reader sees of the message's latest version."""
    return message.text + "\n" + json.dumps(message.blocks, ensure_ascii=False)
