"""Sealed secrets, changed commands, dirty trees, token roles, and what scaled-out
workers share (files, sources, log chunks, who runs an execution).

Revision ID: 0002
Revises: 0001

A store opened by a version between the baseline and this one may hold some of
these already (that version added columns in place), so each step is skipped
when what it makes is there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _tables() -> set[str]:
    return set(sa.inspect(op.get_bind()).get_table_names())


def _columns(table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)}


def _add_columns(table: str, *columns: sa.Column) -> None:  # type: ignore[type-arg]
    # A plain ALTER TABLE … ADD COLUMN, which SQLite has too (a "batch" copy of the
    # table would trip over the foreign keys pointing at it).
    for column in columns:
        if column.name not in _columns(table):
            op.add_column(table, column)


def _command_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    """Who changed an Exec's command, from what to what (a new set for each table)."""
    return [
        sa.Column("command_by", sa.String(length=255), nullable=True),
        sa.Column("command_old", sa.Text(), nullable=True),
        sa.Column("command_new", sa.Text(), nullable=True),
    ]


def upgrade() -> None:
    tables = _tables()
    if "secrets" not in tables:
        op.create_table(
            "secrets",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("repo", sa.String(length=200), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("sealed", sa.Text(), nullable=False),
            sa.Column("branches", sa.Text(), nullable=False),
            sa.Column("events", sa.Text(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("updated_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("repo", "name"),
        )
        op.create_index("ix_secrets_repo", "secrets", ["repo"])
    if "shared_blobs" not in tables:
        op.create_table(
            "shared_blobs",
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("data", sa.LargeBinary(), nullable=False),
            sa.PrimaryKeyConstraint("sha256"),
        )
    if "shared_files" not in tables:
        op.create_table(
            "shared_files",
            sa.Column("pipeline_id", sa.Integer(), nullable=False),
            sa.Column("path", sa.String(length=1000), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("mode", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["pipeline_id"], ["pipelines.id"]),
            sa.PrimaryKeyConstraint("pipeline_id", "path"),
        )
    if "shared_sources" not in tables:
        op.create_table(
            "shared_sources",
            sa.Column("pipeline_id", sa.Integer(), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.ForeignKeyConstraint(["pipeline_id"], ["pipelines.id"]),
            sa.PrimaryKeyConstraint("pipeline_id"),
        )
    if "log_chunks" not in tables:
        op.create_table(
            "log_chunks",
            sa.Column("execution_id", sa.Integer(), nullable=False),
            sa.Column("offset", sa.Integer(), nullable=False),
            sa.Column("data", sa.LargeBinary(), nullable=False),
            sa.PrimaryKeyConstraint("execution_id", "offset"),
        )
    _add_columns(
        "executions",
        *_command_columns(),
        sa.Column("worker", sa.String(length=255), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
    )
    _add_columns("nodes", *_command_columns())
    _add_columns(
        "pipelines", sa.Column("dirty", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    for table in ("ui_sessions", "ui_tokens"):  # made before roles: they could act
        role = sa.Column("role", sa.String(length=20), nullable=False, server_default="operator")
        _add_columns(table, role)


def downgrade() -> None:
    raise NotImplementedError("ci-bot's schema is only upgraded")
