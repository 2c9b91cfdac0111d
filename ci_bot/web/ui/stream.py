"""The live view: one server-sent event stream per page.

It sends the pipeline (``views.pipeline_json``) when it connects and after every
run event, and, for a node page, the new lines of that node's latest log as
they are written.  Each message's id is ``EVENT.EXECUTION.OFFSET``: a browser
that reconnects sends it back (``Last-Event-ID``) and misses nothing.  A stream
ends after ``STREAM_SECONDS`` (the browser reconnects at once), so it never
holds a server thread for long.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ci_bot.services import Services
from ci_bot.store.views import pipeline_json
from ci_bot.web.ui.logs import log_file, read_from

STREAM_SECONDS = 30.0
POLL_SECONDS = 0.3
HEARTBEAT_SECONDS = 1.0  # a write is what finds a browser that left: free its slot soon
RETRY_MS = 500
BUSY_RETRY_MS = 3000


@dataclass
class Position:
    event: int = 0
    execution: int = 0
    offset: int = 0

    @classmethod
    def parse(cls, text: str) -> Position:
        """From a ``Last-Event-ID`` (or the page's start); nonsense starts from nothing."""
        parts = text.split(".")
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            return cls()
        return cls(int(parts[0]), int(parts[1]), int(parts[2]))

    def __str__(self) -> str:
        return f"{self.event}.{self.execution}.{self.offset}"


def busy() -> Iterator[str]:
    """What a browser gets when too many streams are open: come back in a moment."""
    yield f"retry: {BUSY_RETRY_MS}\n\n"


def follow(
    services: Services, pipeline_id: int, node: str | None, position: Position
) -> Iterator[str]:
    """The messages of one stream, until ``STREAM_SECONDS`` have passed."""
    deadline = time.monotonic() + STREAM_SECONDS
    quiet_since = time.monotonic()
    yield f"retry: {RETRY_MS}\n\n"
    first = True
    while time.monotonic() < deadline:
        messages = list(_pipeline_update(services, pipeline_id, position, first))
        if node is not None:
            messages += _log_update(services, pipeline_id, node, position)
        first = False
        if messages:
            quiet_since = time.monotonic()
            yield "".join(messages)
        elif time.monotonic() - quiet_since > HEARTBEAT_SECONDS:
            quiet_since = time.monotonic()
            yield ": still here\n\n"  # a comment: finds a browser that has gone away
        time.sleep(POLL_SECONDS)


def _pipeline_update(
    services: Services, pipeline_id: int, position: Position, first: bool
) -> Iterator[str]:
    events = services.store.events(pipeline_id, after=position.event)
    if not events and not first:
        return
    if events:
        position.event = events[-1].id
    yield _message("pipeline", pipeline_json(services.store, pipeline_id), position)


def _log_update(services: Services, pipeline_id: int, node: str, position: Position) -> list[str]:
    executions = services.store.executions(pipeline_id, node)
    if not executions:
        return []
    latest = executions[-1]
    messages = []
    if latest.id != position.execution:  # a new attempt: its log starts afresh
        position.execution, position.offset = latest.id, 0
        messages.append(_message("log", _log_data(latest.id, 0, [], restart=True), position))
    path = log_file(services.settings, latest)
    if path is None:
        return messages
    running = latest.ended_at is None
    chunk = read_from(path, position.offset, whole_lines=running)
    if chunk.lines:
        position.offset = chunk.end
        messages.append(_message("log", _log_data(latest.id, chunk.end, chunk.lines), position))
    return messages


def _log_data(execution: int, end: int, lines: list[str], restart: bool = False) -> dict[str, Any]:
    return {"execution": execution, "end": end, "lines": lines, "restart": restart}


def _message(kind: str, data: dict[str, Any], position: Position) -> str:
    return f"id: {position}\nevent: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
