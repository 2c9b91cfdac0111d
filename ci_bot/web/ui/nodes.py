"""One node as the UI and the API show it: command, image, environment (secret values
never), documentation, children, and its executions with where their logs are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import url_for

from ci_bot.engine.scheduler import node_states
from ci_bot.secrets.masking import Masker
from ci_bot.services import Services
from ci_bot.store.store import NotFound
from ci_bot.store.views import execution_json
from ci_bot.tree.containers import SERVICE_NAME
from ci_bot.tree.nodes import Node, Resolved, walk
from ci_bot.tree.params import PARAMS
from ci_bot.web.ui.logs import log_file

SHOWN_PARAMS = (
    "pull",
    "build",
    "services",
    "timeout",
    "retry",
    "stop_on_error",
    "suppress_errors",
    "max_concurrent",
    "when",
    "concurrency",
    "reuse",
    "sign",
    "requires_docker",
    "cpu",
    "mem",
)


def normalize_path(path: str) -> str:
    """``lint/ruff``, ``/lint/ruff/`` → ``/lint/ruff``; the root is ``/``."""
    parts = [part for part in path.split("/") if part]
    return "/" + "/".join(parts)


def find_node(services: Services, pipeline_id: int, path: str) -> tuple[str, Node, Resolved]:
    """The node at ``path`` with its resolved parameters; NotFound when there is none."""
    wanted = normalize_path(path)
    for found_path, node, resolved in walk(services.store.tree(pipeline_id)):
        if found_path == wanted:
            return found_path, node, resolved
    raise NotFound(f"pipeline {pipeline_id} has no node {wanted}")


def node_json(services: Services, pipeline_id: int, path: str) -> dict[str, Any]:
    path, node, resolved = find_node(services, pipeline_id, path)
    store = services.store
    tree = store.tree(pipeline_id)
    states = node_states(tree, store.exec_states(pipeline_id))
    record = next(n for n in store.nodes(pipeline_id) if n.path == path)
    prefix = "/" if path == "/" else path + "/"
    item: dict[str, Any] = {
        "pipeline_id": pipeline_id,
        "path": path,
        "name": node.name if path != "/" else "/",
        "type": node.type.value,
        "state": states[path].value,
        "skip": record.skip,
        "skip_reason": record.skip_reason,
        "doc": node.params.doc or "",
        "image": resolved.image,
        "env": _masked_env(resolved.env, services.secrets.all_values()),
        "secrets": list(resolved.secrets),
        "params": _params(resolved),
        "children": [
            {"path": p, "type": n.type.value, "state": states[p].value}
            for p, n, _ in walk(tree)
            if p.startswith(prefix) and "/" not in p[len(prefix) :] and p != path
        ],
    }
    if node.is_exec:
        item["run"] = node.run or ""
        item["message"] = record.message
        item["executions"] = _executions(services, pipeline_id, path)
    return item


def _executions(services: Services, pipeline_id: int, path: str) -> list[dict[str, Any]]:
    """The node's executions (the fields of ``GET /api/pipelines/ID``) and their logs."""
    items = []
    for execution in services.store.executions(pipeline_id, path):
        found = log_file(services.settings, execution)
        items.append(
            {
                **execution_json(execution),
                "log_bytes": found.stat().st_size if found and found.is_file() else 0,
                "log_url": url_for(
                    "ui.api.execution_log", pipeline_id=pipeline_id, execution_id=execution.id
                ),
                "download_url": url_for(
                    "ui.api.execution_log_download",
                    pipeline_id=pipeline_id,
                    execution_id=execution.id,
                ),
                "service_logs": [
                    {
                        "name": name,
                        "url": url_for(
                            "ui.api.service_log",
                            pipeline_id=pipeline_id,
                            execution_id=execution.id,
                            service=name,
                        ),
                    }
                    for name in service_logs(found)
                ],
            }
        )
    return items


def service_logs(log: Path | None) -> list[str]:
    """The names of the services whose logs were kept beside ``log`` (``12.db.log``)."""
    if log is None or not log.parent.is_dir():
        return []
    names = (
        found.name[len(log.stem) + 1 : -len(".log")]
        for found in log.parent.glob(f"{log.stem}.*.log")
    )
    return sorted(name for name in names if SERVICE_NAME.fullmatch(name))


def _masked_env(env: dict[str, str], secrets: list[str]) -> dict[str, str]:
    """The node's environment, with every form of the bot's secrets hidden."""
    hide = Masker(secrets).hide
    return {name: hide(value) for name, value in env.items()}


def _params(resolved: Resolved) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for name in SHOWN_PARAMS:
        value = resolved.values.get(name)
        if value is None or (value == PARAMS[name].default and name != "timeout"):
            continue  # defaults are noise; the timeout always matters
        shown[name] = PARAMS[name].write(value)
    return shown
