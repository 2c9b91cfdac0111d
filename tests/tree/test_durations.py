"""Durations as written in conducto.cfg ("90s", "20m", "1h30m")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_bot.tree.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("20m", 1200),
        ("4h", 4 * 3600),
        ("2d", 2 * 86400),
        ("1h30m", 5400),
        ("1d2h3m4s", 86400 + 7200 + 180 + 4),
        ("1h 30m", 5400),
        (" 5m ", 300),
        ("90m", 5400),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", " ", "20", "20 minutes", "m", "1.5h", "-5m", "30s1m", "1x"])
def test_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["0s", "0h0m"])
def test_zero_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="longer than zero"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(1200, "20m"), (5400, "1h30m"), (90, "1m30s"), (86400, "1d"), (45.2, "45s"), (0, "0s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=1, max_value=10**9))
def test_format_then_parse_is_the_identity(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds
