"""A change counter on each pipeline, so an engine knows from one number whether the
states it holds in memory are still the stored ones.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("pipelines")}
    if "version" not in columns:
        op.add_column(
            "pipelines",
            sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        )


def downgrade() -> None:
    raise NotImplementedError("ci-bot's schema is only upgraded")
