"""Five-field cron schedules, UTC (design doc §1, [[cron]])."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ci_bot.tree.cron import parse_cron

# 2024-01-01 was a Monday.
MONDAY = datetime(2024, 1, 1, tzinfo=UTC)


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment in January 2024 (the 7th and 14th are Sundays)."""
    return datetime(2024, 1, day, hour, minute, tzinfo=UTC)


def matches(schedule: str, moment: datetime) -> bool:
    return parse_cron(schedule).matches(moment)


@pytest.mark.parametrize(
    ("schedule", "moment", "expected"),
    [
        ("0 3 * * *", at(5, 3, 0), True),
        ("0 3 * * *", at(5, 3, 1), False),
        ("0 3 * * *", at(5, 4, 0), False),
        ("*/15 * * * *", at(5, 10, 45), True),
        ("*/15 * * * *", at(5, 10, 46), False),
        ("0-10/5 * * * *", at(5, 0, 10), True),
        ("0-10/5 * * * *", at(5, 0, 11), False),
        ("0 9 * * 1-5", at(1, 9), True),  # Monday
        ("0 9 * * 1-5", at(6, 9), False),  # Saturday
        ("0 0 * * 0", at(7), True),  # Sunday is 0...
        ("0 0 * * 7", at(7), True),  # ...and 7
        ("0 0 * * 7", at(8), False),
        ("0 0 1 1 *", at(1), True),
        ("0 0 1 2 *", at(1), False),
        ("0 0 1,15 * *", at(15), True),
        # when both day fields are restricted, either may match (as in every cron)
        ("0 0 15 * 0", at(7), True),  # a Sunday, not the 15th
        ("0 0 15 * 0", at(15), True),  # the 15th, a Monday
        ("0 0 15 * 0", at(16), False),
        # with one day field "*", only the other decides
        ("0 0 * * 0", at(15), False),
        ("0 0 15 * *", at(7), False),
        ("0 0 */2 * 1", at(3), False),  # "*/2" counts as unrestricted, as in Vixie cron
    ],
)
def test_matches(schedule: str, moment: datetime, expected: bool) -> None:
    assert matches(schedule, moment) is expected


def test_once_a_day_fires_once_a_day() -> None:
    schedule = parse_cron("30 3 * * *")
    minutes = [MONDAY + timedelta(minutes=n) for n in range(24 * 60)]
    assert [m for m in minutes if schedule.matches(m)] == [MONDAY.replace(hour=3, minute=30)]


def test_keeps_its_source() -> None:
    assert parse_cron("0 3 * * *").source == "0 3 * * *"


@pytest.mark.parametrize(
    ("schedule", "says"),
    [
        ("0 3 * *", "4 fields"),
        ("0 3 * * * *", "6 fields"),
        ("", "0 fields"),
        ("60 * * * *", "minute"),
        ("0 24 * * *", "hour"),
        ("0 0 0 * *", "day of month"),
        ("0 0 32 * *", "day of month"),
        ("0 0 * 13 *", "month"),
        ("0 0 * * 8", "day of week"),
        ("x * * * *", "minute"),
        ("*/0 * * * *", "minute"),
        ("5-1 * * * *", "minute"),
        ("1,,2 * * * *", "minute"),
        ("-1 * * * *", "minute"),
        ("0 3 * * mon", "day of week"),
    ],
)
def test_bad_schedule_names_the_field(schedule: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_cron(schedule)
