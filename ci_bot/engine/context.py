"""What one execution gets: its image, command, environment, secrets and directories."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from ci_bot.errors import SecretError
from ci_bot.executors.base import ExecSpec
from ci_bot.executors.builds import build_tag
from ci_bot.secrets.source import SecretSource, as_source
from ci_bot.settings import Settings
from ci_bot.store.records import Execution, Pipeline
from ci_bot.tree.nodes import Resolved


def pipeline_dir(settings: Settings, pipeline_id: int) -> Path:
    return settings.data_dir / "pipelines" / str(pipeline_id)


def log_dir(settings: Settings, pipeline_id: int) -> Path:
    return pipeline_dir(settings, pipeline_id) / "logs"


def cache_dir(settings: Settings, repo: str) -> Path:
    """The repository's $CI_CACHE, shared by its pipelines; the name cannot escape."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", repo).strip(".") or "_"
    return settings.data_dir / "cache" / safe


def context_env(pipeline: Pipeline, path: str) -> dict[str, str]:
    """The CI_* variables of contract §3."""
    return {
        "CI": "true",
        "CI_BOT": "1",
        "CI_EVENT": pipeline.event,
        "CI_REPO": pipeline.repo,
        "CI_BRANCH": pipeline.branch,
        "CI_SHA": pipeline.sha,
        "CI_PR": pipeline.pr,
        "CI_TAG": pipeline.tag,
        "CI_PIPELINE_ID": str(pipeline.id),
        "CI_NODE_PATH": path,
    }


def build_spec(
    settings: Settings,
    pipeline: Pipeline,
    execution: Execution,
    command: str,
    resolved: Resolved,
    secrets: SecretSource | Mapping[str, str],
) -> ExecSpec | str:
    """The ExecSpec, or a sentence saying why this node cannot run as configured."""
    if pipeline.archived_at is not None or not Path(pipeline.source_dir).is_dir():
        return (
            "this pipeline's files were removed by retention (CI_BOT_RETENTION_DAYS); "
            "start a new pipeline for this commit instead"
        )
    image = image_of(pipeline, resolved)
    if not image:
        return "no image: set `image` (or `build`) on this node or one above it"
    if resolved.secrets and not pipeline.trusted:
        names = ", ".join(resolved.secrets)
        return f"needs secret {names}, and secrets are never given to pull requests from forks"
    try:  # only this repository's secrets, for this event and branch
        available = as_source(secrets).for_pipeline(pipeline) if resolved.secrets else {}
    except SecretError as error:
        return str(error)
    missing = [name for name in resolved.secrets if name not in available]
    if missing:
        return (
            f"secret {', '.join(missing)} is not in the bot's secret store for {pipeline.repo} "
            f"({pipeline.event} on {pipeline.branch or 'no branch'}): "
            f"`ci-bot secrets list {pipeline.repo}` shows its secrets and their scopes"
        )
    if resolved.requires_docker and not settings.allow_docker_socket:
        return (
            "this node sets requires_docker, but the bot does not mount the Docker socket; "
            "an operator can allow it with CI_BOT_ALLOW_DOCKER_SOCKET=true"
        )
    base = pipeline_dir(settings, pipeline.id)
    return ExecSpec(
        pipeline_id=str(pipeline.id),
        node_path=execution.path,
        execution_id=str(execution.id),
        image=image,
        command=command,
        source_dir=Path(pipeline.source_dir),
        data_dir=base / "data",
        cache_dir=cache_dir(settings, pipeline.repo),
        log_path=Path(execution.log_path),
        env={**resolved.env, **context_env(pipeline, execution.path)},
        secrets={name: available[name] for name in resolved.secrets},
        timeout_seconds=resolved.timeout,
        cpu=resolved.cpu,
        mem_bytes=resolved.mem,
        requires_docker=bool(resolved.requires_docker),
        pull=resolved.pull,
        build=resolved.build,
        services=resolved.services or (),
        trusted=pipeline.trusted,
    )


def image_of(pipeline: Pipeline, resolved: Resolved) -> str:
    """The image the node runs in: its ``image``, or the tag its ``build`` gets at this
    commit (a hash of the Dockerfile and context, so reuse keys follow the content)."""
    if resolved.build is None:
        return str(resolved.image or "")
    return build_tag(Path(pipeline.source_dir), resolved.build)
