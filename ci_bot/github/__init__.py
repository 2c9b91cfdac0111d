"""GitHub events → pipelines: routing deliveries, launching at the commit, duplicate
policies, comment commands and fork approval.

The webhook handler (``ci_bot/web/github_webhooks.py``) only verifies, stores and
enqueues; ``dispatch.handle_delivery`` does the work in a queue worker.  Talking
to GitHub's API (auth, check runs, statuses, comments) lives in
``integrations/github``.

- ``events``      payload → typed event, or why it is ignored (pure)
- ``commands``    comment commands and who may give them (pure; shared with Slack)
- ``duplicates``  cancel-old / defer / suppress-new / allow
- ``launching``   fetch, read the config at the commit, launch, remember
- ``approval``    pull requests from forks
- ``comment_commands``, ``controls``  what commands and GitHub's buttons do
- ``dispatch``    the queue job, replay after a restart, wiring into ``Services``
"""
