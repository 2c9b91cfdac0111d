"""The JSON API of a pipeline's artifacts (docs/api.md): the list, and each file's download.

Downloads are always attachments of type ``application/octet-stream`` under a
sandboxing Content-Security-Policy: an artifact is whatever a pipeline wrote, and
an HTML file served inline from the bot's own address could act as the person
looking at it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, jsonify, send_file, url_for

from ci_bot.store.views import iso_time
from ci_bot.web.api import readable_pipeline
from ci_bot.web.ui.artifacts import (
    Artifact,
    DataFile,
    data_dir,
    list_artifacts,
    open_artifact,
    read_provenance,
)
from ci_bot.web.ui.state import services

blueprint = Blueprint("artifacts", __name__, url_prefix="/api")

DOWNLOAD_POLICY = "sandbox; default-src 'none'"


@blueprint.get("/pipelines/<int:pipeline_id>/artifacts")
def artifacts(pipeline_id: int) -> Response:
    readable_pipeline(pipeline_id)
    return jsonify(artifacts_json(pipeline_id))


@blueprint.get("/pipelines/<int:pipeline_id>/artifacts/<path:path>")
def download(pipeline_id: int, path: str) -> Response:
    readable_pipeline(pipeline_id)
    handle = open_artifact(data_dir(services().settings, pipeline_id), path)
    if handle is None:
        abort(404, f"pipeline {pipeline_id} has no artifact {path}")
    response = send_file(
        handle,
        mimetype="application/octet-stream",
        as_attachment=True,
        download_name=path.rsplit("/", 1)[-1],
    )
    response.headers["Content-Security-Policy"] = DOWNLOAD_POLICY
    return response


def artifacts_json(pipeline_id: int) -> dict[str, Any]:
    """What ``GET /api/pipelines/ID/artifacts`` answers (the pipeline page shows it too)."""
    pipeline = services().store.pipeline(pipeline_id)
    root = data_dir(services().settings, pipeline_id)
    found = list_artifacts(root)
    return {
        "pipeline": pipeline_id,
        "archived": pipeline.archived_at is not None,
        "total_bytes": found.total_bytes,
        "truncated": found.truncated,
        "artifacts": [_artifact_json(pipeline_id, root, artifact) for artifact in found.artifacts],
    }


def _artifact_json(pipeline_id: int, root: Path, artifact: Artifact) -> dict[str, Any]:
    provenance = _file_json(pipeline_id, artifact.provenance)
    if provenance is not None and artifact.provenance is not None:
        provenance["says"] = read_provenance(root, artifact.provenance.path)
    return {
        **_download(pipeline_id, artifact.file),
        "signature": _file_json(pipeline_id, artifact.signature),
        "provenance": provenance,
        "provenance_signature": _file_json(pipeline_id, artifact.provenance_signature),
    }


def _file_json(pipeline_id: int, found: DataFile | None) -> dict[str, Any] | None:
    return None if found is None else _download(pipeline_id, found)


def _download(pipeline_id: int, found: DataFile) -> dict[str, Any]:
    return {
        "path": found.path,
        "size": found.size,
        "modified_at": iso_time(found.modified_at),
        "url": url_for("ui.artifacts.download", pipeline_id=pipeline_id, path=found.path),
    }
