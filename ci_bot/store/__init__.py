"""The store: pipelines, nodes, executions, run events and deliveries
(SQLAlchemy 2; SQLite by default, any URL in ``CI_BOT_DATABASE_URL``).
"""
