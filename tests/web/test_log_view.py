"""The log view's rendering in Chromium: ANSI colours become classes, other escape
sequences vanish, a carriage return keeps what came after it, and log text can
never become markup."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

ANSI_JS = REPO_ROOT / "ci_bot" / "web" / "static" / "ansi.js"
STAMP = "2026-01-02T03:04:05.678Z"


@pytest.fixture
def view(browser: Any) -> Iterator[Any]:
    page = browser.new_page()
    page.set_content('<div id="log"></div>')
    page.add_script_tag(path=str(ANSI_JS))
    yield page
    page.close()


def render(view: Any, text: str) -> dict[str, Any]:
    found: dict[str, Any] = view.evaluate(
        """(raw) => {
          const line = window.ciBotAnsi.line(raw);
          const spans = Array.from(line.querySelectorAll(".tx span")).map(
            (s) => ({text: s.textContent, classes: s.className, style: s.getAttribute("style")}));
          return {
            time: line.querySelector(".ts").textContent,
            text: line.querySelector(".tx").textContent,
            spans,
            note: line.classList.contains("note"),
            elements: line.querySelectorAll("img, script").length,
          };
        }""",
        text,
    )
    return found


def test_colours_become_classes_and_other_escapes_vanish(view: Any) -> None:
    line = render(
        view,
        f"{STAMP} \x1b[1;31mFAILED\x1b[0m plain \x1b[38;5;208morange\x1b[0m"
        "\x1b]0;title\x07\x1b[2K!",
    )
    assert line["time"] == "03:04:05"
    assert line["text"] == "FAILED plain orange!"
    assert line["spans"][0] == {"text": "FAILED", "classes": "ansi-bold ansi-fg-9", "style": None}
    assert line["spans"][1]["text"] == "orange" and "rgb(255,135,0)" in line["spans"][1][
        "style"
    ].replace(" ", "")


def test_a_carriage_return_keeps_what_came_after_it(view: Any) -> None:
    assert render(view, f"{STAMP} 10%\r50%\r100% done")["text"] == "100% done"


def test_log_text_never_becomes_markup(view: Any) -> None:
    line = render(
        view, f'{STAMP} <img src=x onerror="window.owned=1"><script>window.owned=1</script>'
    )
    assert line["elements"] == 0
    assert line["text"].startswith("<img src=x")
    assert view.evaluate("window.owned === undefined")


def test_ci_bots_own_notes_are_marked(view: Any) -> None:
    assert render(view, f"{STAMP} [ci-bot] exited with code 3")["note"] is True
    assert render(view, "no timestamp here")["time"] == ""
