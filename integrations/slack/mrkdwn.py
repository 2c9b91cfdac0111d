"""Slack's ``mrkdwn`` text, made safe: escaping, links, mentions, code blocks, limits.

Everything a repository controls (branch names, commit titles, node output) is
escaped before it reaches Slack, so a commit titled ``<!channel>`` pings nobody,
a branch named ``x|y>`` cannot break a link, and control characters arrive as
visible escapes (``printable``), before any length limit is applied.
"""

from __future__ import annotations

import re

from ci_bot.text import KEEP_LINES, printable, without_colours

ELLIPSIS = "…"
MAX_LINE = 300  # a log line longer than this is cut: one minified file must not fill the block
# An actor that came from a Slack click: "slack:U0123ABCD (alice)" (see actions.actor_of).
_SLACK_ACTOR = re.compile(r"slack:([UW][A-Z0-9]+)\b")


def escape(text: str) -> str:
    """Text shown as itself: Slack's three control characters escaped, and controls."""
    return (
        printable(text, keep=KEEP_LINES)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def link(url: str, label: str) -> str:
    """``<url|label>``; the label escaped, and ``|`` kept out of both parts."""
    if not url:
        return escape(label)
    safe_url = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")
    return f"<{safe_url}|{escape(label).replace('|', '¦')}>"


def code(text: str) -> str:
    """Inline code: backticks inside cannot end it early."""
    return "`" + escape(text).replace("`", "ˋ") + "`"


def who(actor: str) -> str:
    """How a person who acted is shown: a Slack mention for Slack users, else the name."""
    match = _SLACK_ACTOR.match(actor)
    if match:
        return f"<@{match.group(1)}>"
    return escape(actor) if actor else "someone"


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, marked with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    # Never leave half an escape (``&am``) or half a link (``<http://x|``) behind.
    amp, lt = cut.rfind("&"), cut.rfind("<")
    if amp > cut.rfind(";"):
        cut = cut[:amp]
    if lt > cut.rfind(">"):
        cut = cut[:lt]
    return cut + ELLIPSIS


def code_block(lines: list[str], limit: int) -> str:
    """Lines in a ``` block of at most ``limit`` characters, keeping the last lines."""
    cleaned = [escape(without_colours(line)).replace("```", "ˋˋˋ") for line in lines]
    body = [truncate(line, MAX_LINE) for line in cleaned]
    body = body or ["(no output)"]
    kept: list[str] = []
    size = len("```\n\n```")
    for line in reversed(body):
        if size + len(line) + 1 > limit:
            kept.append(ELLIPSIS)
            break
        kept.append(line)
        size += len(line) + 1
    return "```\n" + "\n".join(reversed(kept)) + "\n```"
