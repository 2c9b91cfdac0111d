"""Secrets in real containers: a node that prints its secret's base64 and hex forms
(with busybox's own ``base64``, ``od`` and ``hexdump``) leaves only *** in its log."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest

from ci_bot.secrets.masking import encoded_forms
from ci_bot.secrets.scope import Scope
from ci_bot.secrets.store import SecretStore
from ci_bot.tree.states import State
from tests.engine.bots import Bot, config, log

pytestmark = pytest.mark.docker

TOKEN = "tok>>>???-s3cr3t-42"  # its base64 holds + and /, so base64url differs

PRINT_FORMS = """
[pipeline.main.deploy]
secrets = ["DEPLOY_TOKEN"]
run = '''
printf %s "$DEPLOY_TOKEN" | base64
echo "$DEPLOY_TOKEN" | base64
printf %s "$DEPLOY_TOKEN" | base64 | tr '+/' '-_' | tr -d '='
printf %s "$DEPLOY_TOKEN" | od -An -tx1 | tr -d ' \\n'; echo
printf %s "$DEPLOY_TOKEN" | hexdump -ve '/1 "%02X"'; echo
printf 'x%s!' "$DEPLOY_TOKEN" | base64
printf 'xy%s!' "$DEPLOY_TOKEN" | base64
printf %s "$DEPLOY_TOKEN" | base64 > "$CI_DATA/b64"
'''
[pipeline.main.release]
secrets = ["RELEASE_TOKEN"]
run = "echo never"
[pipeline.main.other]
secrets = ["OTHER_TOKEN"]
run = "echo never"
"""


def test_encoded_forms_printed_by_a_node_are_masked_and_scopes_hold(
    make_bot: Callable[..., Bot],
) -> None:
    bot = make_bot()
    secrets = SecretStore(bot.store, bot.settings)
    secrets.set("app", "DEPLOY_TOKEN", TOKEN, Scope(("main",), ("push",)))
    secrets.set("app", "RELEASE_TOKEN", "release-value", Scope(("release/*",)))
    secrets.set("elsewhere", "OTHER_TOKEN", "other-value")
    repo = bot.repo(config(PRINT_FORMS, root="parallel = true"), name="app")
    pipeline_id = bot.launch(repo)

    bot.run(pipeline_id)

    deploy = bot.only(pipeline_id, "/deploy")
    assert deploy.state is State.DONE, log(deploy)
    lines = log(deploy)
    assert len(lines) == 7 and all("***" in line for line in lines), lines
    text = Path(deploy.log_path).read_text()
    raw = TOKEN.encode()
    for printed in [*encoded_forms(TOKEN), base64.b64encode(b"x" + raw + b"!").decode()]:
        assert printed not in text
    # The container had the real value: its base64, written to $CI_DATA, decodes to it.
    assert base64.b64decode((bot.data(pipeline_id) / "b64").read_text()) == raw
    for path in ("/release", "/other"):
        refused = bot.only(pipeline_id, path)
        assert refused.state is State.ERROR
        assert refused.message.startswith("secret ")
        assert "is not in the bot's secret store for app (push on main)" in refused.message


HANDED_ON = """
[pipeline.main.write]
secrets = ["DEPLOY_TOKEN"]
run = 'printf "%s\\n" "$DEPLOY_TOKEN" > "$CI_DATA/token"'
[pipeline.main.read]
run = 'echo "read: $(cat "$CI_DATA/token")"; echo "env: ${DEPLOY_TOKEN:-unset}"'
"""


def test_a_secret_handed_on_through_ci_data_is_masked_in_a_node_without_it(
    make_bot: Callable[..., Bot],
) -> None:
    bot = make_bot()
    SecretStore(bot.store, bot.settings).set("app", "DEPLOY_TOKEN", TOKEN)
    repo = bot.repo(config(HANDED_ON), name="app")
    pipeline_id = bot.launch(repo)

    bot.run(pipeline_id)

    read = bot.only(pipeline_id, "/read")
    assert read.state is State.DONE
    assert log(read) == ["read: ***", "env: unset"]
