"""``{matrix.NAME}`` and ``{service.dir}``: values a tree's expansion writes into it.

A node with ``matrix`` becomes one child per combination and a node with
``for_each`` one child per directory; inside each child these placeholders, in
``run``, ``image`` and ``when``, are replaced by that child's values.  A
placeholder that no expansion above it can fill is a config error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MATRIX = "matrix."
SERVICE = "service."
SERVICE_KEYS = ("dir", "name")
PLACEHOLDER = re.compile(r"\{((?:matrix\.[A-Za-z_][A-Za-z0-9_]*)|(?:service\.(?:dir|name)))\}")


def is_placeholder(name: str) -> bool:
    """``matrix.python`` or ``service.dir`` (the name between the braces)."""
    return PLACEHOLDER.fullmatch(f"{{{name}}}") is not None


def used_in(text: str) -> list[str]:
    """The placeholder names ``text`` holds, in order of appearance, each once."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each placeholder named in ``values`` replaced; others are left."""
    return PLACEHOLDER.sub(lambda found: values.get(found[1], found[0]), text)
