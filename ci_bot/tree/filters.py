"""The filter language of conducto.cfg: when an event entry, or a node's ``when``, applies.

A filter is a boolean expression over the event's substituted values::

    {event} == push && ({branch} == main || {branch} == release/*)

Grammar (EBNF; whitespace separates tokens and is otherwise ignored)::

    filter     = or_expr , END ;
    or_expr    = and_expr , { "||" , and_expr } ;
    and_expr   = unary , { "&&" , unary } ;
    unary      = { "!" } , primary ;
    primary    = "(" , or_expr , ")" | comparison ;
    comparison = value , [ ( "==" | "!=" ) , value ] ;
    value      = variable | word | quoted ;
    variable   = "{" , name , "}" ;                (* name is one of VARIABLES *)
    word       = word_char - ( "{" | '"' | "'" ) , { word_char } ;
    word_char  = ? any character but whitespace and ( ) ! & | = ? ;
    quoted     = '"' , { ? any but '"' ? } , '"' | "'" , { ? any but "'" ? } , "'" ;

Meaning:

* ``!`` negates a whole comparison: ``!{branch} == main`` is ``!({branch} == main)``.
* A value alone is true when non-empty: ``{pr}`` means "this is a pull request".
  A value missing from the mapping is "".
* ``==`` and ``!=`` compare text. A literal (word or quoted) holding ``*`` is a glob
  whose ``*`` matches any run of characters, ``/`` included; the right side is tried
  first, then the left. A substituted value is never a pattern, so a branch named
  ``*`` cannot match everything. ``?`` and ``[`` are plain characters.
* ``(`` and ``!`` may nest at most ``MAX_DEPTH`` deep, so hostile input gets a
  FilterSyntaxError, never a RecursionError.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

VARIABLES: tuple[str, ...] = (
    "event",
    "branch",
    "base_branch",
    "tag",
    "sha",
    "repo",
    "pr",
    "author",
)
MAX_DEPTH = 100
_SPECIAL = frozenset("()!&|=")
_PAIRS = ("==", "!=", "&&", "||")


class FilterSyntaxError(ValueError):
    """A filter that does not parse; ``column`` is 1-based in the filter text."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (column {column})")
        self.message = message
        self.column = column


def _glob(pattern: str, text: str) -> bool:
    """``*``-only glob without backtracking: anchor both ends, then find each middle leftmost."""
    first, *middle, last = pattern.split("*")
    if len(text) < len(first) + len(last) or not text.startswith(first):
        return False
    if not text.endswith(last):
        return False
    pos, end = len(first), len(text) - len(last)
    for part in middle:
        found = text.find(part, pos, end)
        if found < 0:
            return False
        pos = found + len(part)
    return True


def _show(text: str) -> str:
    """A literal as the user would write it: bare when it is a plain word."""
    plain = text and text[0] not in "{\"'" and not any(c.isspace() or c in _SPECIAL for c in text)
    return text if plain else repr(text)


@dataclass(frozen=True)
class _Var:
    name: str

    def resolve(self, values: Mapping[str, str]) -> str:
        return values.get(self.name, "")

    def subject(self, values: Mapping[str, str]) -> str:
        value = self.resolve(values)
        return f"{{{self.name}}} is {value!r}" if value else f"{{{self.name}}} is empty"


@dataclass(frozen=True)
class _Lit:
    text: str

    def resolve(self, values: Mapping[str, str]) -> str:
        return self.text

    def subject(self, values: Mapping[str, str]) -> str:
        return f"{self.text!r} is non-empty" if self.text else "'' is empty"


_Operand: TypeAlias = _Var | _Lit


def _is_pattern(operand: _Operand) -> bool:
    return isinstance(operand, _Lit) and "*" in operand.text


@dataclass(frozen=True)
class _Truthy:
    operand: _Operand

    def holds(self, values: Mapping[str, str]) -> bool:
        return self.operand.resolve(values) != ""

    def reason(self, values: Mapping[str, str]) -> str:
        return self.operand.subject(values)


@dataclass(frozen=True)
class _Compare:
    left: _Operand
    op: str
    right: _Operand

    def _equal(self, values: Mapping[str, str]) -> bool:
        left, right = self.left.resolve(values), self.right.resolve(values)
        if _is_pattern(self.right):
            return _glob(right, left)
        if _is_pattern(self.left):
            return _glob(left, right)
        return left == right

    def holds(self, values: Mapping[str, str]) -> bool:
        return self._equal(values) == (self.op == "==")

    def reason(self, values: Mapping[str, str]) -> str:
        first, second = self.left, self.right
        if isinstance(first, _Lit) and isinstance(second, _Var):
            first, second = second, first  # lead with the substituted value
        lead = first.subject(values) if isinstance(first, _Var) else repr(first.text)
        if isinstance(second, _Var):
            other = f"{{{second.name}}} ({second.resolve(values)!r})"
        else:
            other = _show(second.text)
        verb = self.op if self.holds(values) else f"not {self.op}"
        return f"{lead}, {verb} {other}"


@dataclass(frozen=True)
class _Not:
    expr: _Expr

    def holds(self, values: Mapping[str, str]) -> bool:
        return not self.expr.holds(values)

    def reason(self, values: Mapping[str, str]) -> str:
        return self.expr.reason(values)  # the inner fact explains both outcomes


@dataclass(frozen=True)
class _Chain:
    """``&&`` (every term holds) or ``||`` (some term holds) over two or more terms."""

    op: str
    terms: tuple[_Expr, ...]

    def holds(self, values: Mapping[str, str]) -> bool:
        results = (term.holds(values) for term in self.terms)
        return all(results) if self.op == "&&" else any(results)

    def reason(self, values: Mapping[str, str]) -> str:
        decisive = self.op == "||"  # the outcome of one term that settles the whole chain
        for term in self.terms:
            if term.holds(values) == decisive:
                return term.reason(values)
        return "; ".join(term.reason(values) for term in self.terms)


_Expr: TypeAlias = _Truthy | _Compare | _Not | _Chain


@dataclass(frozen=True)
class Filter:
    """A parsed filter; ``source`` is the text it came from."""

    source: str
    _root: _Expr = field(repr=False)

    def evaluate(self, values: Mapping[str, str]) -> bool:
        """Whether the filter holds; a name missing from ``values`` is ""."""
        return self._root.holds(values)

    def explain(self, values: Mapping[str, str]) -> str:
        """A short reason for what ``evaluate`` returns, naming substituted values."""
        return self._root.reason(values)


@dataclass(frozen=True)
class _Token:
    kind: str  # "var", "word", "quoted", "op" or "end"
    text: str  # the name, the literal's text or the operator
    column: int

    def shown(self) -> str:
        if self.kind == "end":
            return "the end of the filter"
        if self.kind == "var":
            return f"'{{{self.text}}}'"
        return repr(self.text) if self.kind == "quoted" else f"'{self.text}'"

    def is_op(self, *texts: str) -> bool:
        return self.kind == "op" and self.text in texts


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        token, i = _read_token(text, i)
        tokens.append(token)
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


def _read_token(text: str, i: int) -> tuple[_Token, int]:
    char = text[i]
    if char == "{":
        return _read_variable(text, i)
    if char in "\"'":
        end = text.find(char, i + 1)
        if end < 0:
            raise FilterSyntaxError(f"the quote {char} is never closed", i + 1)
        return _Token("quoted", text[i + 1 : end], i + 1), end + 1
    if char in _SPECIAL:
        return _read_operator(text, i)
    end = i
    while end < len(text) and not text[end].isspace() and text[end] not in _SPECIAL:
        end += 1
    return _Token("word", text[i:end], i + 1), end


def _read_variable(text: str, i: int) -> tuple[_Token, int]:
    end = i + 1
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    if end == len(text) or text[end] != "}":
        raise FilterSyntaxError("expected a value name and '}' after '{'", end + 1)
    name = text[i + 1 : end]
    if name not in VARIABLES:
        known = ", ".join(f"{{{known}}}" for known in VARIABLES)
        raise FilterSyntaxError(f"unknown value '{{{name}}}'; expected one of {known}", i + 1)
    return _Token("var", name, i + 1), end + 1


def _read_operator(text: str, i: int) -> tuple[_Token, int]:
    if text[i : i + 2] in _PAIRS:
        return _Token("op", text[i : i + 2], i + 1), i + 2
    if text[i] in "()!":
        return _Token("op", text[i], i + 1), i + 1
    meant = text[i] * 2
    raise FilterSyntaxError(f"'{text[i]}' is not an operator; did you mean '{meant}'?", i + 1)


class _Parser:
    """Recursive descent over the token list, one method per grammar rule."""

    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._pos = 0
        self._depth = 0

    def parse(self) -> _Expr:
        if self._peek().kind == "end":
            raise FilterSyntaxError("the filter is empty", 1)
        expr = self._or()
        if self._peek().kind != "end":
            raise self._unexpected("'&&', '||' or the end of the filter")
        return expr

    def _peek(self) -> _Token:
        return self._tokens[self._pos]

    def _accept(self, *ops: str) -> _Token | None:
        token = self._peek()
        if not token.is_op(*ops):
            return None
        self._pos += 1
        return token

    def _enter(self, token: _Token) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise FilterSyntaxError(f"'(' and '!' nest deeper than {MAX_DEPTH}", token.column)

    def _unexpected(self, wanted: str) -> FilterSyntaxError:
        token = self._peek()
        if token.kind in ("var", "word", "quoted"):
            wanted = "an operator ('==', '!=', '&&' or '||')"
        return FilterSyntaxError(f"expected {wanted}, found {token.shown()}", token.column)

    def _or(self) -> _Expr:
        terms = [self._and()]
        while self._accept("||"):
            terms.append(self._and())
        return terms[0] if len(terms) == 1 else _Chain("||", tuple(terms))

    def _and(self) -> _Expr:
        terms = [self._unary()]
        while self._accept("&&"):
            terms.append(self._unary())
        return terms[0] if len(terms) == 1 else _Chain("&&", tuple(terms))

    def _unary(self) -> _Expr:
        bang = self._accept("!")
        if bang is None:
            return self._group() if self._peek().is_op("(") else self._comparison()
        self._enter(bang)
        expr = _Not(self._unary())
        self._depth -= 1
        return expr

    def _group(self) -> _Expr:
        opening = self._tokens[self._pos]
        self._pos += 1
        self._enter(opening)
        expr = self._or()
        if not self._accept(")"):
            raise self._unexpected(f"'&&', '||' or ')' to close the '(' at column {opening.column}")
        self._depth -= 1
        return expr

    def _comparison(self) -> _Expr:
        left = self._value()
        op = self._accept("==", "!=")
        return _Truthy(left) if op is None else _Compare(left, op.text, self._value())

    def _value(self) -> _Operand:
        token = self._peek()
        if token.kind in ("var", "word", "quoted"):
            self._pos += 1
            return _Var(token.text) if token.kind == "var" else _Lit(token.text)
        after = f" after '{self._tokens[self._pos - 1].text}'" if self._pos else ""
        raise FilterSyntaxError(f"expected a value{after}, found {token.shown()}", token.column)


def parse_filter(text: str) -> Filter:
    """Parse ``text``; raise FilterSyntaxError (and nothing else) when it is not a filter."""
    return Filter(text, _Parser(_tokenize(text)).parse())
