"""The bot's secrets: masked everywhere they could be shown.

Nodes name the secrets they need (``secrets = ["DEPLOY_TOKEN"]``); the engine
gives them as environment variables, never to a pull request from a fork.
Values never appear in a message, a log line or an exception.

    masking.py   every form of a value hidden in logs, UI, API, GitHub, Slack (pure)
    values.py    what is accepted as a name, a repository, a value (pure)
    legacy.py    CI_BOT_SECRETS_FILE: NAME=value lines for every repository
"""

from ci_bot.secrets.legacy import load_secrets as load_secrets  # re-exported
