"""The bot's secrets: stored per repository, sealed at rest, masked everywhere.

Nodes name the secrets they need (``secrets = ["DEPLOY_TOKEN"]``); the engine
gives a pipeline only its own repository's secrets whose scope allows its event
and branch, as environment variables, and never to a pull request from a fork.
Values never appear in a message, a log line or an exception.

    source.py    the seam the engine and the sinks use: ``SecretSource``
    store.py     ``SecretStore``: the database's secrets and the legacy file's
    crypto.py    Fernet sealing; the key from CI_BOT_SECRET_KEY or its file
    scope.py     branches and events a secret is limited to (pure)
    values.py    what is accepted as a name, a repository, a value (pure)
    masking.py   every form of a value hidden in logs, UI, API, GitHub, Slack (pure)
    legacy.py    CI_BOT_SECRETS_FILE: NAME=value lines for every repository
"""

from ci_bot.secrets.legacy import load_secrets as load_secrets  # re-exported
