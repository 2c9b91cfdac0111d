"""The bot's public links, so GitHub, Slack and the UI agree on them."""

from __future__ import annotations

from urllib.parse import quote

from ci_bot.settings import Settings


def pipeline_url(settings: Settings, pipeline_id: int) -> str:
    return f"{settings.public_url}/pipelines/{pipeline_id}"


def node_url(settings: Settings, pipeline_id: int, path: str) -> str:
    """The UI page of one node: ``/pipelines/7/nodes/test/unit``."""
    if path == "/":
        return pipeline_url(settings, pipeline_id)
    return f"{pipeline_url(settings, pipeline_id)}/nodes/{quote(path.strip('/'))}"
