"""Durations as people write them in conducto.cfg ("90s", "20m", "4h", "1h30m")."""

from __future__ import annotations

import re

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text: str) -> int:
    """Seconds in ``text``; raises ValueError with a sentence when it is not a duration."""
    cleaned = text.strip().replace(" ", "")
    match = _DURATION.fullmatch(cleaned)
    if not cleaned or match is None or not any(match.groups()):
        raise ValueError(f'{text!r} is not a duration; write it like "90s", "20m" or "1h30m"')
    counts = zip(match.groups(), _UNITS.values(), strict=True)
    seconds = sum(int(value) * unit for value, unit in counts if value)
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact spelling: 1200 → "20m", 5400 → "1h30m", 45.2 → "45s"."""
    remaining = max(0, round(seconds))
    if remaining == 0:
        return "0s"
    parts = []
    for suffix, unit in _UNITS.items():
        count, remaining = divmod(remaining, unit)
        if count:
            parts.append(f"{count}{suffix}")
    return "".join(parts)
