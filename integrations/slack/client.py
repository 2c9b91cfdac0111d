"""The one seam to Slack's Web API: post a message, edit it.

Every call goes out through slack-sdk's ``WebClient`` (pointed at
``CI_BOT_SLACK_API_URL``, so tests can run a local fake), with the bot's
secrets masked and control characters made visible (``printable``) in everything
sent, and comes back as a result or one of two
errors: ``RetryLater`` (rate limited, Slack or the network down: try again
after ``seconds``) or ``Refused`` (Slack said no for good: wrong channel,
bad token, message gone).  One log line per call, never the token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from ci_bot.errors import IntegrationError
from ci_bot.secrets.masking import SecretValues, masker_for
from ci_bot.text import printable_all

logger = logging.getLogger(__name__)

# Slack's errors that say "not now" rather than "no".
TRANSIENT = frozenset(
    {
        "fatal_error",
        "internal_error",
        "request_timeout",
        "service_unavailable",
        "rate_limited",
        "ratelimited",
    }
)
MAX_RETRY_AFTER = 600.0


class RetryLater(IntegrationError):
    """Slack cannot take the call now; try again after ``seconds`` (0: the caller's backoff)."""

    def __init__(self, message: str, seconds: float = 0.0) -> None:
        self.seconds = seconds
        super().__init__(message)


class Refused(IntegrationError):
    """Slack refused the call for good; ``error`` is Slack's code (``channel_not_found``)."""

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(f"Slack refused: {error}")


class SlackApi:
    def __init__(
        self,
        token: str,
        base_url: str,
        *,
        secrets: Mapping[str, str] | SecretValues | None = None,
        timeout: int = 10,
    ) -> None:
        # No retry handlers: a retry here would block the reporter; it backs off itself.
        self._client = WebClient(
            token=token, base_url=base_url.rstrip("/") + "/", timeout=timeout, retry_handlers=[]
        )
        self._masker = masker_for(secrets)  # a live store: secrets set later are hidden too

    def post(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> tuple[str, str]:
        """Post a message (a reply when ``thread_ts``); Slack's (channel id, ts) of it."""
        args: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False}
        if blocks is not None:
            args["blocks"] = blocks
        if thread_ts:
            args["thread_ts"] = thread_ts
        response = self._call("chat.postMessage", printable_all(self._mask(args)))
        return str(response["channel"]), str(response["ts"])

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        args = {"channel": channel, "ts": ts, "text": text, "blocks": blocks}
        self._call("chat.update", printable_all(self._mask(args)))

    def _call(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        channel = args["channel"]
        try:
            if method == "chat.update":
                response = self._client.chat_update(**args)
            else:
                response = self._client.chat_postMessage(**args)
        except SlackApiError as error:
            raise _classify(method, channel, error) from None
        except (SlackClientError, OSError) as error:  # URLError and timeouts are OSErrors
            logger.warning("Slack %s %s: unreachable (%s)", method, channel, error)
            raise RetryLater(f"Slack is unreachable: {error}") from None
        logger.info("Slack %s %s: ok", method, channel)
        data: dict[str, Any] = response.data if isinstance(response.data, dict) else {}
        return data

    def _mask(self, value: Any) -> Any:
        """``value`` with every secret's forms replaced by ***, however deep they sit."""
        return _deep(value, self._masker().hide)


def _deep(value: Any, hide: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return hide(value)
    if isinstance(value, list):
        return [_deep(item, hide) for item in value]
    if isinstance(value, dict):
        return {key: _deep(item, hide) for key, item in value.items()}
    return value


def _classify(method: str, channel: str, error: SlackApiError) -> IntegrationError:
    status = error.response.status_code
    code = str(error.response.get("error", "")) if isinstance(error.response.data, dict) else ""
    if status == 429:
        seconds = _retry_after(error.response.headers)
        logger.warning("Slack %s %s: rate limited, retry after %ss", method, channel, seconds)
        return RetryLater("rate limited", seconds)
    if status >= 500 or code in TRANSIENT:
        logger.warning("Slack %s %s: HTTP %s %s; will retry", method, channel, status, code)
        return RetryLater(f"HTTP {status} {code}".strip())
    logger.error("Slack %s %s: HTTP %s %s", method, channel, status, code or "(no error code)")
    return Refused(code or f"HTTP {status}")


def _retry_after(headers: Mapping[str, Any]) -> float:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            text = value[0] if isinstance(value, list) and value else value
            try:
                return min(max(float(text), 1.0), MAX_RETRY_AFTER)
            except (TypeError, ValueError):
                break
    return 1.0
