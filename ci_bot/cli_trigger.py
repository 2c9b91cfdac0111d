"""``ci-bot trigger REPO --branch B``: ask a running ``ci-bot serve`` for a pipeline.

It is ``POST /api/pipelines`` with an operator's token: the body names the
repository (one the bot has built from GitHub), a branch or a commit and the
event; the answer is the new pipeline's id and address (201), or the delivery
still waiting to be launched (202).
"""

from __future__ import annotations

import json
import sys

import click

from ci_bot.cli_events import check_event
from ci_bot.cli_ui import call_api, settings_or_fail


@click.command()
@click.argument("repo")
@click.option("--branch", default="", help="The branch whose newest commit runs.")
@click.option("--sha", default="", help="The commit to run (instead of a branch's newest).")
@click.option(
    "--event",
    callback=check_event,
    metavar="EVENT",
    default="push",
    show_default=True,
    help="The event to run for (the server takes push, create-branch and cron).",
)
@click.option("--url", default=None, help="The bot's address; default CI_BOT_PUBLIC_URL.")
@click.option(
    "--token",
    envvar="CI_BOT_API_TOKEN",
    required=True,
    help="An operator's UI token (env CI_BOT_API_TOKEN; `ci-bot ui-token create`).",
)
def trigger(repo: str, branch: str, sha: str, event: str, url: str | None, token: str) -> None:
    """Ask a running `ci-bot serve` to run REPO (owner/name, built from GitHub before)
    on a branch or commit: POST /api/pipelines."""
    if not branch and not sha:
        raise click.UsageError("give --branch (its newest commit runs) or --sha")
    base = (url or settings_or_fail().public_url).rstrip("/")
    body = json.dumps({"repo": repo, "branch": branch, "sha": sha, "event": event})
    status, text = call_api("POST", f"{base}/api/pipelines", token, body)
    click.echo(trigger_answer(status, text, base))
    if status >= 400:
        sys.exit(1)


def trigger_answer(status: int, text: str, base: str) -> str:
    """What the server's answer means, in one line."""
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return f"the server answered {status}: {text.strip()[:200]}"
    if status == 201:
        return f"pipeline {answer.get('id')} started: {answer.get('url')}"
    if status == 202:
        return (
            f"queued, not launched yet ({answer.get('waiting')}): delivery {answer.get('delivery')}"
        )
    if status == 404 and "error" not in answer:
        return f"{base} has no POST /api/pipelines: is it a ci-bot serve of this version?"
    return f"refused ({status}): {answer.get('error', text.strip())}"
