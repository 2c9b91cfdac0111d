"""Five-field cron schedules (minute hour day-of-month month day-of-week, UTC)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)


@dataclass(frozen=True)
class CronSchedule:
    source: str
    allowed: tuple[frozenset[int], ...]

    def matches(self, moment: datetime) -> bool:
        weekday = (moment.weekday() + 1) % 7  # cron counts Sunday as 0 (and 7)
        minute, hour, day, month, dow = self.allowed
        day_ok = moment.day in day
        weekday_ok = weekday in dow or (weekday == 0 and 7 in dow)
        # As in every cron: when both day fields are restricted, either one may match.
        _, _, day_field, _, weekday_field = self.source.split()
        either = not day_field.startswith("*") and not weekday_field.startswith("*")
        days_ok = (day_ok or weekday_ok) if either else (day_ok and weekday_ok)
        return moment.minute in minute and moment.hour in hour and moment.month in month and days_ok


def parse_cron(text: str) -> CronSchedule:
    """Parse ``"0 3 * * *"``; raises ValueError naming the field that is wrong."""
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(
            f"{text!r} has {len(fields)} fields; a schedule has 5: minute hour day month weekday"
        )
    return CronSchedule(
        text, tuple(_parse_field(f, *spec) for f, spec in zip(fields, _FIELDS, strict=True))
    )


def _parse_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    allowed: set[int] = set()
    for part in text.split(","):
        allowed |= _parse_part(part, name, low, high)
    return frozenset(allowed)


def _parse_part(part: str, name: str, low: int, high: int) -> set[int]:
    span, _, step_text = part.partition("/")
    try:
        step = int(step_text) if step_text else 1
        if span == "*":
            start, end = low, high
        elif "-" in span:
            start, end = (int(x) for x in span.split("-", 1))
        else:
            start = end = int(span)
    except ValueError:
        raise ValueError(
            f"{part!r} is not a valid {name} (use numbers, '*', '-', ',' and '/')"
        ) from None
    if step < 1 or not low <= start <= end <= high:
        raise ValueError(f"{part!r} is out of range for the {name} ({low}-{high})")
    return set(range(start, end + 1, step))
