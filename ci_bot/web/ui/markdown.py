"""A node's ``doc`` as HTML.  The text comes from a repository, maybe a fork's pull
request, so raw HTML is escaped and only safe link schemes become links."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

# CommonMark with tables and strikethrough; "html": False escapes any raw HTML, and
# markdown-it's validateLink drops javascript:, vbscript:, file: and data: links.
_RENDERER = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
    ["table", "strikethrough"]
)


def render_doc(text: str) -> Markup:
    return Markup(_RENDERER.render(text))  # safe: the renderer escapes all raw HTML
