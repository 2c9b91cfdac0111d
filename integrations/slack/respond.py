"""A reply only the person who clicked sees: an ephemeral message to the click's
``response_url``.

Slack gives every interaction a ``response_url``; posting
``{"response_type": "ephemeral", "replace_original": false, "text": …}`` there
shows the text to that person, under the message, without editing it.  The URL
comes in the (signed) payload, but the bot posts only to Slack's own
``https://hooks.slack.com/`` or to the host of ``CI_BOT_SLACK_API_URL`` (a proxy
or the tests' fake), never to wherever a payload points.  A failure is logged;
it never undoes or fails what the click did.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from slack_sdk.errors import SlackClientError
from slack_sdk.webhook import WebhookClient

from ci_bot.text import KEEP_LINES, printable

logger = logging.getLogger(__name__)

SLACK_HOOKS = "https://hooks.slack.com/"
MAX_URL = 1000


def allowed_response_url(url: str, slack_api_url: str) -> bool:
    """Whether ``url`` is Slack's (or on the host the bot already talks Slack to)."""
    if len(url) > MAX_URL or not url.isascii() or not url.isprintable():
        return False
    if url.startswith(SLACK_HOOKS):
        return True
    ours, theirs = urlsplit(slack_api_url), urlsplit(url)
    return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc) and bool(ours.netloc)


def tell_clicker(response_url: str, slack_api_url: str, text: str, timeout: int = 10) -> bool:
    """Show ``text`` to the person who clicked; False (logged) when it could not be sent."""
    if not allowed_response_url(response_url, slack_api_url):
        logger.warning("Slack reply not sent: the click's response_url is not Slack's")
        return False
    client = WebhookClient(response_url, timeout=timeout)
    try:
        answer = client.send(
            text=printable(text, keep=KEEP_LINES),
            response_type="ephemeral",
            replace_original=False,
        )
    except (SlackClientError, OSError) as error:
        logger.warning("Slack reply to a click failed: %s", error)
        return False
    if answer.status_code >= 300:
        logger.warning("Slack reply to a click: HTTP %d %s", answer.status_code, answer.body)
        return False
    logger.info("Slack reply to a click: ok")
    return True
