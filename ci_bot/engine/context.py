"""What one execution gets: its image, command, environment, secrets and directories."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from ci_bot.engine import launch_facts
from ci_bot.engine.trust import REFUSED, privileges_of
from ci_bot.errors import SecretError
from ci_bot.executors.base import ExecSpec
from ci_bot.executors.build_tags import build_tag
from ci_bot.secrets.source import SecretSource, as_source
from ci_bot.settings import Settings
from ci_bot.store.records import Execution, Pipeline
from ci_bot.tree.nodes import Resolved
from ci_bot.tree.params import write_mem


def pipeline_dir(settings: Settings, pipeline_id: int) -> Path:
    return settings.data_dir / "pipelines" / str(pipeline_id)


def log_dir(settings: Settings, pipeline_id: int) -> Path:
    return pipeline_dir(settings, pipeline_id) / "logs"


def cache_dir(settings: Settings, repo: str) -> Path:
    """The repository's $CI_CACHE, shared by its pipelines; the name cannot escape."""
    return settings.data_dir / "cache" / _safe(repo)


def cache_dir_of(settings: Settings, pipeline: Pipeline) -> Path:
    """The $CI_CACHE ``pipeline`` gets: the repository's shared one for the owner's
    pipelines; a fork's pull request gets one of its own, outside the shared tree, so it
    can neither read what trusted pipelines cached nor plant something they would use."""
    if privileges_of(pipeline).shared_cache:
        return cache_dir(settings, pipeline.repo)
    pull_request = _safe(f"pr-{pipeline.pr or 'none'}")
    return settings.data_dir / "cache-forks" / _safe(pipeline.repo) / pull_request


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "_"


def context_env(pipeline: Pipeline, path: str) -> dict[str, str]:
    """The CI_* variables of contract §3 (CI_BASE_SHA and CI_CHANGED_FILES: launch_facts)."""
    return {
        **launch_facts.change_env(Path(pipeline.source_dir)),
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
    privileges = privileges_of(pipeline)
    if resolved.secrets and not privileges.secrets:
        names = ", ".join(resolved.secrets)
        return f"needs secret {names}, and {REFUSED['secrets']}"
    if resolved.requires_docker and not privileges.docker_socket:
        return f"this node sets requires_docker, and {REFUSED['docker_socket']}"
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
    limits = resource_limits(settings, resolved)
    if isinstance(limits, str):
        return limits
    mem, pids = limits
    base = pipeline_dir(settings, pipeline.id)
    return ExecSpec(
        pipeline_id=str(pipeline.id),
        node_path=execution.path,
        execution_id=str(execution.id),
        image=image,
        command=command,
        source_dir=Path(pipeline.source_dir),
        workspace_extras=launch_facts.workspace_extras(
            Path(pipeline.source_dir), int(resolved.git_depth)
        ),
        data_dir=base / "data",
        cache_dir=cache_dir_of(settings, pipeline),
        log_path=Path(execution.log_path),
        env={**resolved.env, **context_env(pipeline, execution.path)},
        secrets={name: available[name] for name in resolved.secrets},
        also_mask=_every_value(secrets),
        timeout_seconds=resolved.timeout,
        cpu=resolved.cpu,
        mem_bytes=mem,
        requires_docker=bool(resolved.requires_docker),
        pull=resolved.pull,
        build=resolved.build,
        services=resolved.services or (),
        trusted=privileges.registry_credentials,
        pids_limit=pids,
        log_limit=settings.log_limit,
        runs_on=resolved.runs_on,
    )


def resource_limits(settings: Settings, resolved: Resolved) -> tuple[int, int] | str:
    """The node's memory and process limits, or why it may not have what it asks for."""
    mem = resolved.mem or settings.default_mem
    if settings.max_mem is not None:
        if resolved.mem and resolved.mem > settings.max_mem:
            return (
                f"mem {write_mem(resolved.mem)} is more than this bot allows "
                f"(CI_BOT_MAX_MEM={write_mem(settings.max_mem)})"
            )
        mem = min(mem, settings.max_mem)
    pids = resolved.pids or min(settings.default_pids, settings.max_pids)
    if pids > settings.max_pids:
        return f"pids {pids} is more than this bot allows (CI_BOT_MAX_PIDS={settings.max_pids})"
    return mem, pids


def _every_value(secrets: SecretSource | Mapping[str, str]) -> tuple[str, ...]:
    """Every secret the bot holds: a node's log hides them all, given to it or not."""
    try:
        return tuple(as_source(secrets).all_values())
    except SecretError:
        return ()  # a key that cannot open them: no node can be given them either


def image_of(pipeline: Pipeline, resolved: Resolved) -> str:
    """The image the node runs in: its ``image``, or the tag its ``build`` gets at this
    commit (a hash of the Dockerfile and context, so reuse keys follow the content)."""
    if resolved.build is None:
        return str(resolved.image or "")
    return build_tag(Path(pipeline.source_dir), resolved.build)
