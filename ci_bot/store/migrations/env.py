"""Alembic's environment: migrations run on the connection ci-bot hands it."""

from __future__ import annotations

from alembic import context

from ci_bot.store.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
