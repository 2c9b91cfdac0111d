"""The schema of ci-bot before migrations (the store as the first releases made it).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from pathlib import Path

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BASELINE = Path(__file__).resolve().parent.parent / "baseline"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    script = BASELINE / f"{'postgresql' if dialect == 'postgresql' else 'sqlite'}.sql"
    for statement in script.read_text(encoding="utf-8").split(";\n"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("the baseline is not undone")
