"""Every sink masks with ``ci_bot/secrets/masking.py``: text for GitHub follows the
secret store while the bot runs, and the UI's node environment hides each form."""

from __future__ import annotations

import base64

from ci_bot.github.bot import make_mask
from ci_bot.web.ui.nodes import _masked_env

TOKEN = "tok>>>???-s3cr3t"
B64 = base64.b64encode(TOKEN.encode()).decode()
HEX = TOKEN.encode().hex()


class Values:
    """A secret store as the sinks see it."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def all_values(self) -> list[str]:
        return list(self.values)


def test_text_for_github_hides_each_form_of_secrets_set_after_start() -> None:
    store = Values()
    hide = make_mask(store)
    assert hide(f"b64 {B64}") == f"b64 {B64}"

    store.values.append(TOKEN)

    assert hide(f"b64 {B64}, hex {HEX}, raw {TOKEN}") == "b64 ***, hex ***, raw ***"
    assert hide("https://x-access-token:ghs_abcdefgh@github.com/a/b") == (
        "https://x-access-token:***@github.com/a/b"
    )


def test_the_ui_environment_hides_each_form() -> None:
    env = {"PLAIN": "fast", "B64": B64, "URL": f"https://u:{TOKEN}@h/", "HEX": HEX.upper()}
    assert _masked_env(env, [TOKEN]) == {
        "PLAIN": "fast",
        "B64": "***",
        "URL": "https://u:***@h/",
        "HEX": "***",
    }
