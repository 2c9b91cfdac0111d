"""The pipeline's one Slack message as Block Kit, from a ``PipelineView`` (pure).

Built with ``slack_sdk.models.blocks``, whose ``to_dict`` checks Slack's limits
(3000 characters a section, 150 a header, 25 buttons ...); the text is cut to
those limits here first, so a 200-stage pipeline still makes a valid message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from ci_bot.tree.durations import format_duration
from ci_bot.tree.states import State
from integrations.slack.mrkdwn import code, escape, link, truncate
from integrations.slack.view import PipelineView, Stage

RERUN_ACTION = "rerun_failed"
OPEN_ACTION = "open_pipeline"
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
MAX_STAGES = 25
MAX_FAILED_SHOWN = 10

EMOJI = {
    State.PENDING: ":white_circle:",
    State.QUEUED: ":hourglass_flowing_sand:",
    State.RUNNING: ":arrows_counterclockwise:",
    State.DONE: ":white_check_mark:",
    State.ERROR: ":x:",
    State.WORKER_ERROR: ":warning:",
    State.CANCELLED: ":no_entry_sign:",
    State.SKIPPED: ":fast_forward:",
}
TITLES = {
    State.PENDING: "waiting to start",
    State.QUEUED: "starting",
    State.RUNNING: "running",
    State.DONE: "passed",
    State.ERROR: "failed",
    State.WORKER_ERROR: "failed (infrastructure)",
    State.CANCELLED: "cancelled",
    State.SKIPPED: "skipped",
}


def title(view: PipelineView) -> str:
    """ "acme/app pipeline 7 failed" (plain text: notifications and the header)."""
    word = TITLES[view.state]
    if view.failed and view.pipeline.finished_at is None:
        word = "failing"  # something failed while other Execs still run
    return f"{view.pipeline.repo} pipeline {view.pipeline.id} {word}"


def message(view: PipelineView) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks as dicts) of the pipeline's message."""
    blocks: list[Block] = [
        HeaderBlock(
            text=PlainTextObject(
                text=truncate(f"{EMOJI[view.state]} {title(view)}", HEADER_LIMIT), emoji=True
            )
        ),
        _section(_about(view)),
        _section(_stages(view.stages)),
        ContextBlock(elements=[MarkdownTextObject(text=_footer(view))]),
    ]
    if view.failed:
        blocks.append(_buttons(view))
    return escape(title(view)), [block.to_dict() for block in blocks]


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_LIMIT)))


def _about(view: PipelineView) -> str:
    """Where the commit came from, what it is, who made it, and where to look."""
    pipeline, links = view.pipeline, view.links
    parts = [_ref(view)]
    if pipeline.sha:
        commit = f"*Commit* {link(links.commit, pipeline.sha[:7])}"
        if pipeline.title:
            commit += " " + escape(truncate(pipeline.title, 150))
        parts.append(commit)
    if pipeline.author:
        parts.append(f"*Author* {escape(pipeline.author)}")
    places = [link(links.pipeline, f"Pipeline {pipeline.id}")]
    if links.repo:
        places.append(link(links.repo, f"{pipeline.repo} on GitHub"))
    return "\n".join([p for p in parts if p] + [" · ".join(places)])


def _ref(view: PipelineView) -> str:
    pipeline, ref = view.pipeline, view.links.ref
    if pipeline.pr:
        into = f" → {code(pipeline.base_branch)}" if pipeline.base_branch else ""
        branch = f" {code(pipeline.branch)}" if pipeline.branch else ""
        return f"*Pull request* {link(ref, '#' + pipeline.pr)}{branch}{into}"
    if pipeline.tag:
        return f"*Tag* {link(ref, pipeline.tag)}"
    if pipeline.branch:
        return f"*Branch* {link(ref, pipeline.branch)}"
    return f"*Event* {escape(pipeline.event)}"


def _stages(stages: tuple[Stage, ...]) -> str:
    lines: list[str] = []
    shown_failures = 0
    for stage in stages[:MAX_STAGES]:
        took = f"  {format_duration(stage.seconds)}" if stage.seconds is not None else ""
        lines.append(f"{EMOJI[stage.state]} *{escape(stage.name)}*{took}")
        for failed in stage.failed:
            if shown_failures == MAX_FAILED_SHOWN:
                break
            shown_failures += 1
            why = f" {escape(truncate(failed.message, 200))}" if failed.message else ""
            lines.append(f"      {EMOJI[failed.state]} {code(failed.path)}{why}")
    hidden_stages = len(stages) - MAX_STAGES
    hidden_failures = sum(len(stage.failed) for stage in stages) - shown_failures
    if hidden_stages > 0:
        lines.append(f"… and {hidden_stages} more stages")
    if hidden_failures > 0:
        lines.append(f"… and {hidden_failures} more failed Execs")
    return "\n".join(lines) or "(no stages)"


def _footer(view: PipelineView) -> str:
    counts = " · ".join(
        f"{name} {count}"
        for name, count in view.counts.items()
        if count or name in ("pending", "running", "done", "error", "skipped")
    )
    pipeline = view.pipeline
    if pipeline.finished_at is not None:
        took = format_duration((pipeline.finished_at - pipeline.created_at).total_seconds())
        return f"{counts}  |  took {took}"
    return f"{counts}  |  started {_date(pipeline.created_at)}"


def _date(moment: datetime) -> str:
    """A time every reader sees in their own time zone (Slack's date formatting)."""
    epoch = int(moment.replace(tzinfo=UTC).timestamp())
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _buttons(view: PipelineView) -> ActionsBlock:
    buttons = []
    if view.can_rerun:
        buttons.append(
            ButtonElement(
                text="Rerun failed",
                action_id=RERUN_ACTION,
                value=str(view.pipeline.id),
                style="primary",
            )
        )
    buttons.append(ButtonElement(text="Open", action_id=OPEN_ACTION, url=view.links.pipeline))
    return ActionsBlock(elements=buttons)
