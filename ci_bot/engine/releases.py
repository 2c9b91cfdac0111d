"""``release``: after an Exec of a tag's pipeline ends done, publish what it made.

The files its globs match in ``$CI_DATA``, with what ``sign`` wrote beside each
(``.sig``, ``.provenance.json`` and its ``.sig``), become the assets of the
tag's release; the notes are the node's own file, or the commits since the
previous tag (recorded at launch: ``launch_facts``).  A ``Publisher`` does the
publishing — GitHub's is ``integrations/github/releases.py`` — so the engine
never speaks to GitHub itself.  Only a ``create-tag`` pipeline publishes, and
never a fork's.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ci_bot.engine.datafiles import is_regular, matches
from ci_bot.engine.launch_facts import ReleaseHistory
from ci_bot.engine.signing import PROVENANCE, SIGNATURE
from ci_bot.engine.trust import REFUSED, privileges_of
from ci_bot.errors import ReleaseError
from ci_bot.store.records import Pipeline
from ci_bot.tree.release import ReleaseSpec

COMPANIONS = (SIGNATURE, PROVENANCE, PROVENANCE + SIGNATURE)
MAX_NOTES = 125_000  # characters GitHub takes in a release's body
NO_PUBLISHER = (
    "release: cannot publish: the bot has no GitHub App or token "
    "(CI_BOT_GITHUB_APP_ID and CI_BOT_GITHUB_PRIVATE_KEY_FILE, or CI_BOT_GITHUB_TOKEN)"
)


@dataclass(frozen=True)
class Asset:
    name: str  # the file name on the release (GitHub's assets have no folders)
    path: Path


@dataclass(frozen=True)
class Release:
    tag: str
    name: str
    notes: str
    assets: tuple[Asset, ...]


class Publisher(Protocol):
    def publish(self, pipeline: Pipeline, release: Release) -> str:
        """Create the tag's release once (or find it) and replace its assets with these;
        where it can be seen.  ReleaseError with a sentence when it cannot."""
        ...


def refusal(pipeline: Pipeline) -> str | None:
    """Why ``pipeline`` does not publish (its node stays done), or None: it does."""
    if not privileges_of(pipeline).releases:
        return REFUSED["releases"]
    if pipeline.event != "create-tag" or not pipeline.tag:
        return f"release: not published: only a create-tag pipeline does (this is {pipeline.event})"
    return None


def prepare(
    pipeline: Pipeline,
    data_dir: Path,
    spec: ReleaseSpec,
    history: ReleaseHistory | None,
    node_path: str,
) -> Release:
    """The release the node's files make; ReleaseError when a glob matches nothing."""
    assets = gather(data_dir, spec.files)
    if spec.notes is not None:
        notes = _read_notes(data_dir, spec.notes)
    else:
        notes = generated_notes(pipeline, history, node_path, assets)
    return Release(tag=pipeline.tag, name=pipeline.tag, notes=notes, assets=assets)


def gather(data_dir: Path, patterns: Iterable[str]) -> tuple[Asset, ...]:
    """Every regular file the patterns match, and the signature files beside each."""
    found: dict[str, Path] = {}
    for pattern in patterns:
        matched = [path for path in matches(data_dir, pattern) if is_regular(path)]
        if not matched:
            raise ReleaseError(
                f"release: no file in $CI_DATA matches {pattern!r}; have the command write "
                "it there (under $CI_DATA), or fix the glob"
            )
        for path in matched:
            found[path.relative_to(data_dir).as_posix()] = path
            for suffix in COMPANIONS:
                companion = path.with_name(path.name + suffix)
                if is_regular(companion):
                    found[companion.relative_to(data_dir).as_posix()] = companion
    return _named(found)


def _named(found: dict[str, Path]) -> tuple[Asset, ...]:
    seen: dict[str, str] = {}  # asset name → the file's path in $CI_DATA
    for relative, path in sorted(found.items()):
        if path.name in seen:
            raise ReleaseError(
                f"release: {seen[path.name]} and {relative} would both be the asset "
                f"{path.name!r} (a release has no folders); narrow the globs"
            )
        seen[path.name] = relative
    return tuple(Asset(name, found[relative]) for name, relative in seen.items())


def generated_notes(
    pipeline: Pipeline, history: ReleaseHistory | None, node_path: str, assets: Iterable[Asset]
) -> str:
    """Markdown: the commits since the previous tag, how to check the signatures, and where
    the release came from."""
    lines = []
    if history is None:
        lines.append(f"Release {pipeline.tag}.")
    else:
        since = f"since {history.previous_tag}" if history.previous_tag else "(the first tag)"
        lines += [f"## Changes in {pipeline.tag} {since}", ""]
        lines += [f"- {c.title} ({c.sha[:7]}, {c.author})" for c in history.commits]
        if not history.commits:
            lines.append("- no commits")
    if any(asset.name.endswith(SIGNATURE) for asset in assets):
        lines += [
            "",
            "Each file comes with `FILE.sig`, an SSH signature (namespace `ci-bot`), and "
            "`FILE.provenance.json`, signed too; check them with `ssh-keygen -Y verify`.",
        ]
    lines += ["", f"Published by ci-bot: pipeline {pipeline.id}, {node_path}, {pipeline.sha[:12]}."]
    return "\n".join(lines)[:MAX_NOTES] + "\n"


def _read_notes(data_dir: Path, relative: str) -> str:
    path = data_dir / relative
    try:  # the node wrote it: no link is followed, nothing but a regular file is read
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise ReleaseError(
            f"release: cannot read the notes {relative} in $CI_DATA ({error.strerror}); "
            "have the command write them there, or drop `notes` to have them written"
        ) from None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ReleaseError(f"release: the notes {relative} are not a regular file")
        data = handle.read(MAX_NOTES * 4 + 1)
    text = data.decode("utf-8", "replace")
    if len(text) > MAX_NOTES:
        raise ReleaseError(f"release: the notes {relative} are longer than GitHub's {MAX_NOTES}")
    return text
