"""Scaled out: Execs run on Celery workers over Redis, on as many hosts as there are.

With ``CI_BOT_BROKER_URL`` set, ``ci-bot serve`` receives, plans, reports and serves
the UI, and its engine hands every Exec to :class:`~ci_bot.workers.remote.CeleryExecutor`:
one Celery task per execution, acknowledged late, so a worker that dies mid-node
gives its task back to the broker. ``ci-bot worker`` runs those tasks on its host's
Docker engine. What a node needs from other hosts travels through the database
(PostgreSQL): the source snapshot, $CI_DATA, and the log as it is written.

    app.py       the Celery app, its settings, queue names from labels
    specs.py     an ExecSpec as JSON, and the worker's local paths for it
    datasync.py  $CI_DATA and the source between a host's disk and the database
    logship.py   a log shipped chunk by chunk as it grows, and followed elsewhere
    tasks.py     the task a worker runs, and the control commands it answers
    remote.py    CeleryExecutor: the Executor the engine talks to when scaled out
"""
