"""The database tables (SQLAlchemy 2 declarative).  Rows never leave the store:
``records.py`` holds the dataclasses the rest of ci-bot sees."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class PipelineRow(Base):
    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(200), index=True)
    event: Mapped[str] = mapped_column(String(40))
    branch: Mapped[str] = mapped_column(String(255), default="")
    base_branch: Mapped[str] = mapped_column(String(255), default="")
    tag: Mapped[str] = mapped_column(String(255), default="")
    pr: Mapped[str] = mapped_column(String(20), default="")
    sha: Mapped[str] = mapped_column(String(64), default="")
    # ``ci-bot run`` of a working tree with uncommitted changes: the source is not ``sha``.
    dirty: Mapped[bool] = mapped_column(Boolean, default=False)
    author: Mapped[str] = mapped_column(String(255), default="")
    title: Mapped[str] = mapped_column(Text, default="")  # the commit's first line
    entry: Mapped[str] = mapped_column(String(200), default="")  # "[push] #1 (line 5)"
    config_file: Mapped[str] = mapped_column(String(255), default="")
    tree_json: Mapped[str] = mapped_column(Text)
    source_dir: Mapped[str] = mapped_column(Text, default="")
    # A cache of the root's derived state, rewritten in every transaction that
    # changes an Exec, so lists and crash recovery need not load every tree.
    state: Mapped[str] = mapped_column(String(20), index=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped by every write that changes an Exec's state, a kill request, a skip or the
    # tree: a process that cached the states of one version knows from this one number
    # whether they still hold (``Store.snapshot``).
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # False for a pull request from a fork: its Execs never get secrets.
    trusted: Mapped[bool] = mapped_column(Boolean, default=True)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Set when retention removed its source snapshot, $CI_DATA and logs.
    archived_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class NodeRow(Base):
    """One per node.  ``state`` is stored for Execs only; parents derive theirs."""

    __tablename__ = "nodes"
    __table_args__ = (UniqueConstraint("pipeline_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"), index=True)
    path: Mapped[str] = mapped_column(String(1000))
    type: Mapped[str] = mapped_column(String(10))
    state: Mapped[str | None] = mapped_column(String(20), nullable=True)
    skip: Mapped[bool] = mapped_column(Boolean, default=False)
    skip_reason: Mapped[str] = mapped_column(Text, default="")
    message: Mapped[str] = mapped_column(Text, default="")
    failures: Mapped[int] = mapped_column(Integer, default=0)  # since the last reset: for `retry`
    # A reset that changed the command (``reset --run``), waiting for the next
    # execution: ``queue`` moves it onto that execution and clears it here.
    command_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    command_old: Mapped[str | None] = mapped_column(Text, nullable=True)
    command_new: Mapped[str | None] = mapped_column(Text, nullable=True)


class ExecutionRow(Base):
    """One run of an Exec; a reset adds one and never erases one."""

    __tablename__ = "executions"
    __table_args__ = (Index("ix_executions_pipeline_path", "pipeline_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"))
    path: Mapped[str] = mapped_column(String(1000))
    attempt: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), index=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    log_path: Mapped[str] = mapped_column(Text, default="")
    container_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    reused_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Set on the first execution after a reset that changed the command: who, and
    # the command before and after (the run itself is the pipeline's tree).
    command_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    command_old: Mapped[str | None] = mapped_column(Text, nullable=True)
    command_new: Mapped[str | None] = mapped_column(Text, nullable=True)
    kill_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Scaled out: the worker that claimed it, and when that worker last said it lives.
    worker: Mapped[str | None] = mapped_column(String(255), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class ReuseRow(Base):
    """An Exec with ``reuse`` that ended done and saved its outputs: a later pipeline of
    the same repository whose run has the same key takes them instead of running."""

    __tablename__ = "reuse_results"
    __table_args__ = (Index("ix_reuse_results_repo_key", "repo", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(64))  # sha256 hex (ci_bot/engine/reuse.py)
    execution_id: Mapped[int] = mapped_column(ForeignKey("executions.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class RunEventRow(Base):
    """Append-only, ordered: what reporters and the UI follow."""

    __tablename__ = "run_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"), index=True)
    path: Mapped[str] = mapped_column(String(1000), default="/")
    kind: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class DeliveryRow(Base):
    """Webhook deliveries: stored before they are answered, so none is lost, and a
    redelivery (same id) is answered and ignored."""

    __tablename__ = "deliveries"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    event: Mapped[str] = mapped_column(String(60))
    payload: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="received", index=True)
    outcome: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(DateTime)
    handled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class PipelineMetaRow(Base):
    """What integrations remember about a pipeline (check run ids, Slack message ts)."""

    __tablename__ = "pipeline_meta"
    __table_args__ = (UniqueConstraint("pipeline_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(Text)


class BotIdentityRow(Base):
    """One row: this database's bot id, which labels its containers and images."""

    __tablename__ = "bot_identity"

    key: Mapped[str] = mapped_column(String(10), primary_key=True)  # always "bot": one row
    id: Mapped[str] = mapped_column(String(40))


class CursorRow(Base):
    """How far each reporter has read the run events, so a restart loses none."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class UiTokenRow(Base):
    """Sign-in tokens for the web UI made with ``ci-bot ui-token create``; only a hash
    is kept, so a copy of the database signs nobody in."""

    __tablename__ = "ui_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # viewer | operator.  Tokens made before roles existed could act: they stay operators.
    role: Mapped[str] = mapped_column(String(20), default="operator")


class UiSessionRow(Base):
    """A signed-in browser.  The cookie holds a random id; only its hash is kept here,
    with the session's CSRF token, so signing out really ends it."""

    __tablename__ = "ui_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20))  # token | github
    role: Mapped[str] = mapped_column(String(20), default="operator")  # a token's role
    csrf_token: Mapped[str] = mapped_column(String(100))
    # A GitHub user's OAuth token: asked for repository permissions, never shown.
    github_token: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class SecretRow(Base):
    """A repository's secret, its value sealed with Fernet (``ci_bot/secrets/crypto.py``);
    names and scopes are plain, so listing them needs no key."""

    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("repo", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(200), index=True)  # lower case
    name: Mapped[str] = mapped_column(String(200))
    sealed: Mapped[str] = mapped_column(Text)
    branches: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of globs
    events: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of event names
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
