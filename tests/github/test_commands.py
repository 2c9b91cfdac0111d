"""Comment commands: a line that starts with one; code blocks and quotes are not commands."""

from __future__ import annotations

import pytest

from ci_bot.github.commands import Command, may_command, parse_commands, refusal


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/rerun", [Command("rerun")]),
        ("/rerun all", [Command("rerun-all")]),
        ("/rerun /test/unit", [Command("rerun-node", "/test/unit")]),
        ("/rerun test/unit", [Command("rerun-node", "/test/unit")]),
        ("/ok-to-test", [Command("ok-to-test")]),
        ("Flaky again.\n\n/rerun\n", [Command("rerun")]),
        ("  /rerun  ", [Command("rerun")]),
        ("/rerun\r\n/rerun", [Command("rerun")]),
        ("/rerun\n/rerun all", [Command("rerun"), Command("rerun-all")]),
        ("please /rerun", []),
        ("/rerunning", []),
        ("/rerun all of it", []),
        ("/rerun $(curl evil)", []),
        ("/ok-to-test now", []),
        ("> /rerun", []),
        ("    /rerun", []),
        ("\t/rerun", []),
        ("```\n/rerun\n```", []),
        ("~~~sh\n/rerun all\n~~~\n/rerun", [Command("rerun")]),
        ("```\n~~~\n/rerun\n```", []),
        ("", []),
    ],
)
def test_parse_commands(body: str, expected: list[Command]) -> None:
    assert parse_commands(body) == expected


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("admin", True), ("maintain", True), ("write", True), ("triage", False), ("read", False),
     ("none", False), ("", False)],
)  # fmt: skip
def test_only_write_maintain_or_admin_may_command(role: str, allowed: bool) -> None:
    assert may_command(role) is allowed


def test_the_refusal_is_polite_and_says_who_may() -> None:
    text = refusal("octocat", "acme/app", Command("rerun-node", "/test"))
    assert text.startswith("@octocat, thanks")
    assert "write, maintain or admin permission on acme/app" in text
    assert "`/rerun /test`" in text
    assert parse_commands(text) == []  # the bot's own words never command it
