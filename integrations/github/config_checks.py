"""Check runs for commits that get no pipeline: a broken ``conducto.cfg`` (failed,
annotated on the offending lines, so a person sees the error on the diff) or a
pull request no entry selects (neutral, saying why)."""

from __future__ import annotations

from typing import Any

from ci_bot.errors import ConfigError
from ci_bot.text import printable
from integrations.github.annotations import batches
from integrations.github.api import GitHubApi
from integrations.github.statuses import config_error_status, short

NO_PIPELINE_CHECK = "ci-bot"


def config_annotations(error: ConfigError, config_file: str) -> list[dict[str, Any]]:
    """One failure annotation per problem, on its line of the file."""
    annotations = []
    for problem in error.problems:
        line = max(problem.line, 1)
        annotation: dict[str, Any] = {
            "path": config_file,
            "start_line": line,
            "end_line": line,
            "annotation_level": "failure",
            "message": problem.message,
            "title": f"{config_file} is invalid",
        }
        if problem.column:
            annotation["start_column"] = annotation["end_column"] = problem.column
        annotations.append(annotation)
    return annotations


def report_config_error(
    api: GitHubApi,
    repo: str,
    installation: int | None,
    sha: str,
    config_file: str,
    error: ConfigError,
) -> None:
    if api.mode != "app":
        api.create_status(repo, installation, sha, config_error_status(error, config_file))
        return
    problems = "\n".join(f"- line {p.line}: {printable(p.message)}" for p in error.problems)
    output: dict[str, Any] = {
        "title": f"{config_file} is invalid ({len(error.problems)} problem(s))",
        "summary": f"No pipeline ran. Fix these and push again:\n\n{problems}"[:65535],
    }
    parts = list(batches(config_annotations(error, config_file)))
    first = {**output, "annotations": parts[0]} if parts else output
    body = {
        "name": config_file,
        "head_sha": sha,
        "status": "completed",
        "conclusion": "failure",
        "output": first,
    }
    check_run_id = api.create_check_run(repo, installation, body)
    for part in parts[1:]:
        update = {"output": {**output, "annotations": part}}
        api.update_check_run(repo, installation, check_run_id, update)


def report_no_pipeline(
    api: GitHubApi, repo: str, installation: int | None, sha: str, reason: str
) -> None:
    if api.mode != "app":
        body = {"state": "success", "description": short(reason), "context": NO_PIPELINE_CHECK}
        api.create_status(repo, installation, sha, body)
        return
    api.create_check_run(
        repo,
        installation,
        {
            "name": NO_PIPELINE_CHECK,
            "head_sha": sha,
            "status": "completed",
            "conclusion": "neutral",
            "output": {"title": "no pipeline for this event", "summary": f"```\n{reason}\n```"},
        },
    )
