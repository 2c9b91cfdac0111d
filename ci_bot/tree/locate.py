"""Line numbers for key paths in TOML and JSON text.

A config error must name the line of the offending key, but ``tomli`` and
``json`` hand back plain values with no positions. So after the real parser has
accepted a text, a small scanner walks the same text once more and records the
line where each key path was written: :func:`locate_toml` for ``conducto.cfg``,
:func:`locate_json` for generated trees. The scanners validate nothing; on
malformed text they record what they can and never raise.
"""

from __future__ import annotations

import bisect
import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

Path = tuple[str | int, ...]

# Deeper nesting than any real config; it keeps hostile text from exhausting the stack.
_MAX_DEPTH = 100
_BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_TOML_SCALAR_END = frozenset(",]}#\n")
_JSON_SCALAR_END = frozenset(',]}:[{" \t\r\n')
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", "e": "\x1b"}
_HEX_WIDTHS = {"x": 2, "u": 4, "U": 8}


@dataclass(frozen=True)
class Locations:
    """Where each key path was written in a source text."""

    lines: Mapping[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int:
        """The 1-based line of ``path``, else of its nearest known ancestor, else 1."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return 1


def locate_toml(source: str) -> Locations:
    """Record the line of every table, array-of-tables element, key and array element."""
    scanner = _TomlScanner(source)
    scanner.scan()
    return Locations(scanner.lines)


def locate_json(source: str) -> Locations:
    """Record the line of the root value, every object key and every array element."""
    scanner = _JsonScanner(source)
    scanner.scan()
    return Locations(scanner.lines)


class _Scanner:
    """A cursor over ``text`` that knows the line of any position."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines: dict[Path, int] = {}
        self._newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    def line(self) -> int:
        return bisect.bisect_left(self._newlines, self.pos) + 1

    def peek(self, ahead: int = 0) -> str:
        index = self.pos + ahead
        return self.text[index] if index < len(self.text) else ""

    def skip_while(self, chars: str | frozenset[str]) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def skip_until(self, chars: frozenset[str]) -> None:
        while self.pos < len(self.text) and self.text[self.pos] not in chars:
            self.pos += 1

    def skip_blank(self) -> None:
        """Skip whitespace, newlines and ``#`` comments."""
        while True:
            self.skip_while(" \t\r\n")
            if self.peek() != "#":
                return
            self.skip_until(frozenset("\n"))

    def value(self, path: Path, depth: int) -> None:
        raise NotImplementedError

    def items(self, close: str, item: Callable[[], None]) -> None:
        """At an opening bracket: call ``item`` at each element until ``close``."""
        self.pos += 1
        while True:
            self.skip_blank()
            char = self.peek()
            if char in ("", close):
                self.pos += len(char)
                return
            start = self.pos
            if char != ",":
                item()
            if self.pos == start:  # a comma, or text no rule took: step over it
                self.pos += 1

    def array(self, path: Path, depth: int) -> None:
        """At ``[``: record each element as ``path + (index,)``."""
        indices = itertools.count()
        self.items("]", lambda: self.element((*path, next(indices)), depth))

    def element(self, path: Path, depth: int) -> None:
        self.lines[path] = self.line()
        self.value(path, depth)


class _TomlScanner(_Scanner):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.table: Path = ()
        self.arrays: dict[Path, int] = {}  # array-of-tables path -> index of its last element
        self.implicit: set[Path] = set()  # tables only created by a deeper header, so far

    def scan(self) -> None:
        while True:
            self.skip_blank()
            if self.pos >= len(self.text):
                return
            if self.peek() == "[":
                self.header()
            else:
                self.keyval(self.table, 0)
            self.skip_until(frozenset("\n"))  # a comment, or what a malformed line left

    def header(self) -> None:
        """``[a.b]`` or ``[[a.b]]``: record the table and make it the current one."""
        line = self.line()
        is_array = self.peek(1) == "["
        self.pos += 2 if is_array else 1
        keys = self.key()
        if not keys:
            return
        parent = self.resolve(keys[:-1])
        for end in range(1, len(parent) + 1):
            self.define(parent[:end], line, implicit=True)
        table: Path = (*parent, keys[-1])
        if is_array:
            self.lines.setdefault(table, line)
            self.arrays[table] = self.arrays.get(table, -1) + 1
            table = (*table, self.arrays[table])
        self.define(table, line, implicit=False)
        self.table = table

    def resolve(self, keys: list[str]) -> Path:
        """Header keys to a path, stepping into the last element of each array of tables."""
        path: Path = ()
        for key in keys:
            path = (*path, key)
            if path in self.arrays:
                path = (*path, self.arrays[path])
        return path

    def define(self, path: Path, line: int, *, implicit: bool) -> None:
        """Record a table: a header's own line beats the line that only created it implicitly."""
        if path in self.lines and (implicit or path not in self.implicit):
            return
        self.lines[path] = line
        if implicit:
            self.implicit.add(path)
        else:
            self.implicit.discard(path)

    def keyval(self, base: Path, depth: int) -> None:
        """``a.b = value``: record ``base + a``, ``base + a.b`` and what the value holds."""
        line = self.line()
        keys = self.key()
        if not keys or self.peek() != "=":
            return
        self.pos += 1
        path = base
        for key in keys:  # a.b.c = 1 and a.b.d = 2 both create a.b; the first line wins
            path = (*path, key)
            self.lines.setdefault(path, line)
        self.lines[path] = line
        self.skip_while(" \t")
        self.value(path, depth)

    def key(self) -> list[str]:
        """A dotted key (spaces and tabs around dots); empty when there is none."""
        keys: list[str] = []
        while True:
            self.skip_while(" \t")
            char = self.peek()
            if char in ('"', "'"):
                keys.append(self.string())
            else:
                start = self.pos
                self.skip_while(_BARE_KEY_CHARS)
                if self.pos == start:
                    return []
                keys.append(self.text[start : self.pos])
            self.skip_while(" \t")
            if self.peek() != ".":
                return keys
            self.pos += 1

    def value(self, path: Path, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        char = self.peek()
        if char == "{":
            self.inline_table(path, depth + 1)
        elif char == "[":
            self.array(path, depth + 1)
        elif self.text.startswith(('"""', "'''"), self.pos):
            self.multiline_string()
        elif char in ('"', "'"):
            self.string()
        else:
            self.skip_until(_TOML_SCALAR_END)

    def inline_table(self, path: Path, depth: int) -> None:
        """At ``{``: record each key, on its own line if the table spans lines."""
        self.items("}", lambda: self.keyval(path, depth))

    def string(self) -> str:
        """At a quote: a one-line basic or literal string, returned decoded."""
        quote = self.peek()
        self.pos += 1
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in (quote, "\n"):
            self.pos += 2 if quote == '"' and self.text[self.pos] == "\\" else 1
        raw = self.text[start : self.pos]
        self.pos = min(self.pos, len(self.text))
        if self.peek() == quote:
            self.pos += 1
        return _unescape(raw) if quote == '"' else raw

    def multiline_string(self) -> None:
        """At ``\"\"\"`` or ``'''``: skip to the closing delimiter (plus up to two quotes)."""
        delimiter = self.text[self.pos : self.pos + 3]
        self.pos += 3
        while self.pos < len(self.text) and not self.text.startswith(delimiter, self.pos):
            self.pos += 2 if delimiter == '"""' and self.peek() == "\\" else 1
        self.pos += 3
        for _ in range(2):
            if self.peek() == delimiter[0]:
                self.pos += 1
        self.pos = min(self.pos, len(self.text))


def _unescape(raw: str) -> str:
    """Decode the escapes of a TOML basic string; a malformed escape is kept as written."""
    out: list[str] = []
    index = 0
    while index < len(raw):
        char, code = raw[index], raw[index + 1 : index + 2]
        if char != "\\" or not code:
            out.append(char)
            index += 1
        elif code in _HEX_WIDTHS:
            end = index + 2 + _HEX_WIDTHS[code]
            try:
                out.append(chr(int(raw[index + 2 : end], 16)))
            except (ValueError, OverflowError):
                out.append(raw[index:end])
            index = end
        else:
            out.append(_ESCAPES.get(code, code))
            index += 2
    return "".join(out)


class _JsonScanner(_Scanner):
    def scan(self) -> None:
        self.skip_blank()
        if self.pos < len(self.text):
            self.lines[()] = self.line()
            self.value((), 0)

    def value(self, path: Path, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        char = self.peek()
        if char == "{":
            self.object(path, depth + 1)
        elif char == "[":
            self.array(path, depth + 1)
        elif char == '"':
            self.string()
        else:
            self.skip_until(_JSON_SCALAR_END)

    def object(self, path: Path, depth: int) -> None:
        """At ``{``: record each key's line, then scan its value."""
        self.items("}", lambda: self.member(path, depth))

    def member(self, path: Path, depth: int) -> None:
        if self.peek() != '"':
            return
        line = self.line()
        key = (*path, self.string())
        self.skip_blank()
        if self.peek() == ":":
            self.pos += 1
            self.skip_blank()
            self.lines[key] = line
            self.value(key, depth)

    def string(self) -> str:
        """At ``"``: skip the string and return it decoded (as written if it will not decode)."""
        start = self.pos
        self.pos += 1
        while self.pos < len(self.text) and self.text[self.pos] not in '"\n':
            self.pos += 2 if self.text[self.pos] == "\\" else 1
        self.pos = min(self.pos, len(self.text))
        if self.peek() == '"':
            self.pos += 1
        token = self.text[start : self.pos]
        try:
            decoded = json.loads(token)
        except ValueError:
            return token.strip('"')
        return decoded if isinstance(decoded, str) else token
