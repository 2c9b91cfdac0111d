"""A status badge as SVG, in the flat style READMEs are used to (pure: text in, text out).

Only the words of ``BADGES`` ever reach the picture, so nothing a repository or a
request says can become markup in it.
"""

from __future__ import annotations

from dataclasses import dataclass

LABEL = "ci-bot"
CHAR_WIDTH = 7  # Verdana 11px, about; badges need not be exact to the pixel
PADDING = 10


@dataclass(frozen=True)
class Badge:
    message: str
    colour: str


BADGES = {
    "done": Badge("passing", "#2da44e"),
    "error": Badge("failing", "#cf222e"),
    "worker_error": Badge("failing", "#cf222e"),
    "cancelled": Badge("cancelled", "#6e7781"),
    "skipped": Badge("skipped", "#6e7781"),
    "running": Badge("running", "#0969da"),
    "queued": Badge("running", "#0969da"),
    "pending": Badge("running", "#0969da"),
}
UNKNOWN = Badge("unknown", "#9f9f9f")


def badge_for(state: str | None) -> Badge:
    """The badge of a pipeline state; ``unknown`` when there is no pipeline to show."""
    return BADGES.get(state or "", UNKNOWN)


def render(badge: Badge, label: str = LABEL) -> str:
    left = len(label) * CHAR_WIDTH + PADDING
    right = len(badge.message) * CHAR_WIDTH + PADDING
    width = left + right
    title = f"{label}: {badge.message}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{title}"><title>{title}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{badge.colour}"/>'
        f'<rect width="{width}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f"{_text(left / 2, label)}{_text(left + right / 2, badge.message)}</g></svg>"
    )


def _text(x: float, words: str) -> str:
    """Words with the faint shadow beneath them that makes them readable on any colour."""
    return (
        f'<text x="{x:g}" y="15" fill="#010101" fill-opacity=".3">{words}</text>'
        f'<text x="{x:g}" y="14">{words}</text>'
    )
