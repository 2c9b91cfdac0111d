"""GitHub's own buttons and a closed pull request: reset a stage, rerun the failed
nodes, cancel what no longer matters."""

from __future__ import annotations

from ci_bot.engine.control import failed_execs, rerun_failed
from ci_bot.github.bot import GitHubBot
from ci_bot.github.duplicates import KEY_META, active_pipelines, pipeline_key
from ci_bot.github.events import CheckRunRequest, CheckSuiteRequest, PullRequest
from ci_bot.store.store import NotFound


def pr_pipelines(bot: GitHubBot, repo: str, number: int) -> list[int]:
    return bot.store.pipelines_with_meta(KEY_META, pipeline_key(repo, "pr", "", number))


def cancel_closed(bot: GitHubBot, pr: PullRequest) -> str:
    active = active_pipelines(bot.store, pipeline_key(pr.repo.full_name, "pr", "", pr.number))
    for pipeline_id in active:
        bot.store.cancel(pipeline_id, actor=f"github:{pr.author} closed #{pr.number}")
    bot.services.engine.wake()
    return f"cancelled {len(active)} pipeline(s) of closed #{pr.number}"


def locate_check_run(bot: GitHubBot, request: CheckRunRequest) -> tuple[int, str] | None:
    """(pipeline, stage path) of one of our check runs, checked against its repository."""
    pipeline_id, _, path = request.external_id.partition(":")
    candidates = [int(pipeline_id)] if pipeline_id.isdigit() and path.startswith("/") else []
    if not candidates:
        candidates = bot.store.pipelines_with_meta(f"github_check_run.{request.check_run_id}", True)
    for candidate in candidates:
        try:
            meta = bot.store.meta(candidate)
        except NotFound:
            continue
        if meta.get("github_repo") != request.repo.full_name:
            continue
        runs = meta.get("github_check_runs", {})
        if path and path in runs:
            return candidate, path
        for stage, run in runs.items():
            if run.get("id") == request.check_run_id:
                return candidate, stage
    return None


def rerun_check_run(bot: GitHubBot, request: CheckRunRequest) -> str:
    found = locate_check_run(bot, request)
    if found is None:
        return f"check run {request.check_run_id} is not one of ci-bot's"
    pipeline_id, stage = found
    actor = f"github:{request.user}"
    if request.action == "rerequested":
        reset = bot.store.reset(pipeline_id, stage, actor=actor)
    else:
        below = stage.rstrip("/") + "/"
        reset = [
            p
            for p in failed_execs(bot.store, pipeline_id)
            if p == stage or p.startswith(below) or stage == "/"
        ]
        for path in reset:
            bot.store.reset(pipeline_id, path, actor=actor)
    bot.services.engine.wake()
    return f"pipeline {pipeline_id}: reset {len(reset)} node(s) of {stage}"


def rerun_suite(bot: GitHubBot, request: CheckSuiteRequest) -> str:
    key = f"{request.repo.full_name}@{request.head_sha}"
    total = 0
    pipelines = bot.store.pipelines_with_meta("github_sha_key", key)
    for pipeline_id in pipelines:
        total += len(rerun_failed(bot.store, pipeline_id, actor=f"github:{request.user}"))
    bot.services.engine.wake()
    return (
        f"reset {total} failed node(s) in {len(pipelines)} pipeline(s) of {request.head_sha[:12]}"
    )
