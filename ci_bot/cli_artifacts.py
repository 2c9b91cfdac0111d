"""``ci-bot artifacts``: what a pipeline left in $CI_DATA, with sizes, and the signature
and provenance ``sign`` wrote beside each file it signed; ``--download`` copies them.

The listing and the reading are the web UI's (``web/ui/artifacts.py``): no link in
$CI_DATA is ever followed, whatever a container left there.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import click

from ci_bot.cli_common import pipeline_or_fail, services
from ci_bot.store.views import iso_time
from ci_bot.text import printable
from ci_bot.web.ui.artifacts import (
    Artifact,
    Artifacts,
    DataFile,
    data_dir,
    list_artifacts,
    open_artifact,
)


@click.command("artifacts")
@click.argument("pipeline_id", type=int)
@click.option(
    "--download",
    "target",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Copy the files (with their signatures and provenance) into this directory.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def artifacts(pipeline_id: int, target: Path | None, as_json: bool) -> None:
    """The files the pipeline left in $CI_DATA, with sizes, and the signature and
    provenance of each one it signed (`sign` in conducto.cfg)."""
    svc = services()
    pipeline = pipeline_or_fail(svc, pipeline_id)
    if pipeline.archived_at is not None:
        raise click.ClickException(
            f"pipeline {pipeline_id} was archived on {iso_time(pipeline.archived_at)}: "
            "its $CI_DATA was removed"
        )
    root = data_dir(svc.settings, pipeline_id)
    found = list_artifacts(root)
    if as_json:
        click.echo(json.dumps([_artifact_json(item) for item in found.artifacts], indent=2))
    else:
        for line in describe_artifacts(pipeline_id, found):
            click.echo(printable(line))
    if target is not None:
        copied = download(root, found, target)
        plural = "s" if copied != 1 else ""
        click.echo(f"copied {copied} file{plural} into {target}", err=as_json)


def describe_artifacts(pipeline_id: int, found: Artifacts) -> list[str]:
    """A line for the whole, then one per artifact: its path, size, and signing files."""
    if not found.artifacts:
        return [f"pipeline {pipeline_id} left nothing in $CI_DATA"]
    count = len(found.artifacts)
    more = " (and more, not listed)" if found.truncated else ""
    lines = [
        f"pipeline {pipeline_id}: {count} file{'s' if count != 1 else ''}{more} in $CI_DATA, "
        f"{human_size(found.total_bytes)} with signatures and provenance"
    ]
    width = max(len(item.file.path) for item in found.artifacts)
    sizes = [human_size(item.file.size) for item in found.artifacts]
    size_width = max(len(size) for size in sizes)
    for item, size in zip(found.artifacts, sizes, strict=True):
        extras = [extra.path for extra in _extras(item)]
        note = f"signed: {', '.join(extras)}" if item.signature is not None else ", ".join(extras)
        lines.append(f"{item.file.path.ljust(width)}  {size.rjust(size_width)}  {note}".rstrip())
    return lines


def download(root: Path, found: Artifacts, target: Path) -> int:
    """Copy every listed file into ``target`` at its relative path; the number copied.
    Each is opened as ``open_artifact`` allows (never through a link)."""
    copied = 0
    for item in found.artifacts:
        for file in [item.file, *_extras(item)]:
            source = open_artifact(root, file.path)
            if source is None:
                continue  # replaced by a link or removed since it was listed
            dest = target / file.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.is_symlink():
                dest.unlink()  # never written through
            with source, dest.open("wb") as out:
                shutil.copyfileobj(source, out)
            copied += 1
    return copied


def _extras(item: Artifact) -> list[DataFile]:
    found = (item.signature, item.provenance, item.provenance_signature)
    return [extra for extra in found if extra is not None]


def _artifact_json(item: Artifact) -> dict[str, Any]:
    def described(file: DataFile | None) -> dict[str, Any] | None:
        return None if file is None else {"path": file.path, "size": file.size}

    return {
        **(described(item.file) or {}),
        "signature": described(item.signature),
        "provenance": described(item.provenance),
        "provenance_signature": described(item.provenance_signature),
    }


def human_size(size: int) -> str:
    """``512 B``, ``12.4 KiB``, ``3.0 MiB``."""
    amount = float(size)
    for unit in ("B", "KiB", "MiB"):
        if amount < 1024:
            return f"{size} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GiB"
