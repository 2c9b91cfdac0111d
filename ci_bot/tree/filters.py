"""The filter language of conducto.cfg: when an event entry, or a node's ``when``, applies.

A filter is a boolean expression over the event's substituted values::

    {event} == push && ({branch} == main || {branch} == release/*)

Grammar (EBNF; whitespace separates tokens and is otherwise ignored)::

    filter     = or_expr , END ;
    or_expr    = and_expr , { "||" , and_expr } ;
    and_expr   = unary , { "&&" , unary } ;
    unary      = { "!" } , primary ;
    primary    = "(" , or_expr , ")" | changed | comparison ;
    changed    = "changed" , "(" , value , ")" ;
    comparison = value , [ ( "==" | "!=" ) , value ] ;
    value      = variable | word | quoted ;
    variable   = "{" , name , "}" ;     (* one of VARIABLES, or a placeholder: placeholders.py *)
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
* ``changed(GLOB)`` holds when a file changed since the pipeline's base matches
  the glob (``paths.py``; ``changes.py`` says what "changed" means when there is
  no base).  Without change facts (``evaluate`` given none) it holds.
* ``{matrix.NAME}`` and ``{service.dir}`` are filled in by ``substitute`` when a
  tree is expanded; unfilled, they read as "".
* ``(`` and ``!`` may nest at most ``MAX_DEPTH`` deep, so hostile input gets a
  FilterSyntaxError, never a RecursionError.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from ci_bot.tree.changes import ChangeSet
from ci_bot.tree.paths import check_pattern
from ci_bot.tree.placeholders import fill, is_placeholder, used_in

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
CHANGED = "changed"
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
class _Facts:
    """What a filter is evaluated against: the event's values and, maybe, its changes."""

    values: Mapping[str, str]
    changes: ChangeSet | None


@dataclass(frozen=True)
class _Var:
    name: str

    def resolve(self, facts: _Facts) -> str:
        return facts.values.get(self.name, "")

    def subject(self, facts: _Facts) -> str:
        value = self.resolve(facts)
        return f"{{{self.name}}} is {value!r}" if value else f"{{{self.name}}} is empty"


@dataclass(frozen=True)
class _Lit:
    text: str

    def resolve(self, facts: _Facts) -> str:
        return self.text

    def subject(self, facts: _Facts) -> str:
        return f"{self.text!r} is non-empty" if self.text else "'' is empty"


_Operand: TypeAlias = _Var | _Lit


def _is_pattern(operand: _Operand) -> bool:
    return isinstance(operand, _Lit) and "*" in operand.text


@dataclass(frozen=True)
class _Truthy:
    operand: _Operand

    def holds(self, facts: _Facts) -> bool:
        return self.operand.resolve(facts) != ""

    def reason(self, facts: _Facts) -> str:
        return self.operand.subject(facts)


@dataclass(frozen=True)
class _Changed:
    """``changed(GLOB)``: a file changed since the base matches the glob."""

    operand: _Operand

    def holds(self, facts: _Facts) -> bool:
        return facts.changes is None or facts.changes.touches(self.operand.resolve(facts))

    def reason(self, facts: _Facts) -> str:
        pattern = self.operand.resolve(facts)
        if facts.changes is None:
            return "what changed is not known here, so every file counts as changed"
        return facts.changes.explain(pattern)


@dataclass(frozen=True)
class _Compare:
    left: _Operand
    op: str
    right: _Operand

    def _equal(self, facts: _Facts) -> bool:
        left, right = self.left.resolve(facts), self.right.resolve(facts)
        if _is_pattern(self.right):
            return _glob(right, left)
        if _is_pattern(self.left):
            return _glob(left, right)
        return left == right

    def holds(self, facts: _Facts) -> bool:
        return self._equal(facts) == (self.op == "==")

    def reason(self, facts: _Facts) -> str:
        first, second = self.left, self.right
        if isinstance(first, _Lit) and isinstance(second, _Var):
            first, second = second, first  # lead with the substituted value
        lead = first.subject(facts) if isinstance(first, _Var) else repr(first.text)
        if isinstance(second, _Var):
            other = f"{{{second.name}}} ({second.resolve(facts)!r})"
        else:
            other = _show(second.text)
        verb = self.op if self.holds(facts) else f"not {self.op}"
        return f"{lead}, {verb} {other}"


@dataclass(frozen=True)
class _Not:
    expr: _Expr

    def holds(self, facts: _Facts) -> bool:
        return not self.expr.holds(facts)

    def reason(self, facts: _Facts) -> str:
        return self.expr.reason(facts)  # the inner fact explains both outcomes


@dataclass(frozen=True)
class _Chain:
    """``&&`` (every term holds) or ``||`` (some term holds) over two or more terms."""

    op: str
    terms: tuple[_Expr, ...]

    def holds(self, facts: _Facts) -> bool:
        results = (term.holds(facts) for term in self.terms)
        return all(results) if self.op == "&&" else any(results)

    def reason(self, facts: _Facts) -> str:
        decisive = self.op == "||"  # the outcome of one term that settles the whole chain
        for term in self.terms:
            if term.holds(facts) == decisive:
                return term.reason(facts)
        return "; ".join(term.reason(facts) for term in self.terms)


_Expr: TypeAlias = _Truthy | _Changed | _Compare | _Not | _Chain


@dataclass(frozen=True)
class Filter:
    """A parsed filter; ``source`` is the text it came from."""

    source: str
    _root: _Expr = field(repr=False)

    def evaluate(self, values: Mapping[str, str], changes: ChangeSet | None = None) -> bool:
        """Whether the filter holds; a name missing from ``values`` is "", and without
        ``changes`` every ``changed(…)`` holds."""
        return self._root.holds(_Facts(values, changes))

    def explain(self, values: Mapping[str, str], changes: ChangeSet | None = None) -> str:
        """A short reason for what ``evaluate`` returns, naming substituted values."""
        return self._root.reason(_Facts(values, changes))

    def placeholders(self) -> list[str]:
        """The placeholders (``matrix.python``…) used, as variables or inside literals."""
        return used_in(self.source)

    def substitute(self, values: Mapping[str, str]) -> Filter:
        """This filter with the placeholders named in ``values`` filled in: a variable
        becomes a quoted literal, and a literal's text is filled in place."""
        pieces, last = [], 0
        for token in _tokenize(self.source):
            if token.kind not in ("var", "word", "quoted"):
                continue
            text = f"{{{token.text}}}" if token.kind == "var" else token.text
            filled = fill(text, values)
            if filled != text:
                pieces += [self.source[last : token.column - 1], _quoted(filled)]
                last = token.end
        return parse_filter("".join([*pieces, self.source[last:]])) if pieces else self


def _quoted(text: str) -> str:
    for quote in "\"'":
        if quote not in text:
            return f"{quote}{text}{quote}"
    raise ValueError(f"{text!r} holds both kinds of quote, so a filter cannot quote it")


@dataclass(frozen=True)
class _Token:
    kind: str  # "var", "word", "quoted", "op" or "end"
    text: str  # the name, the literal's text or the operator
    column: int
    end: int = 0  # the index just after the token in the filter text

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
    tokens.append(_Token("end", "", len(text) + 1, len(text)))
    return tokens


def _read_token(text: str, i: int) -> tuple[_Token, int]:
    char = text[i]
    if char == "{":
        return _read_variable(text, i)
    if char in "\"'":
        end = text.find(char, i + 1)
        if end < 0:
            raise FilterSyntaxError(f"the quote {char} is never closed", i + 1)
        return _Token("quoted", text[i + 1 : end], i + 1, end + 1), end + 1
    if char in _SPECIAL:
        return _read_operator(text, i)
    end = i
    while end < len(text) and not text[end].isspace() and text[end] not in _SPECIAL:
        end += 1
    return _Token("word", text[i:end], i + 1, end), end


def _read_variable(text: str, i: int) -> tuple[_Token, int]:
    end = i + 1
    while end < len(text) and (text[end].isalnum() or text[end] in "_."):
        end += 1
    if end == len(text) or text[end] != "}":
        raise FilterSyntaxError("expected a value name and '}' after '{'", end + 1)
    name = text[i + 1 : end]
    if name not in VARIABLES and not is_placeholder(name):
        known = ", ".join(f"{{{known}}}" for known in VARIABLES)
        message = f"unknown value '{{{name}}}'; expected one of {known}"
        raise FilterSyntaxError(f"{message}, {{matrix.NAME}} or {{service.dir}}", i + 1)
    return _Token("var", name, i + 1, end + 1), end + 1


def _read_operator(text: str, i: int) -> tuple[_Token, int]:
    if text[i : i + 2] in _PAIRS:
        return _Token("op", text[i : i + 2], i + 1, i + 2), i + 2
    if text[i] in "()!":
        return _Token("op", text[i], i + 1, i + 1), i + 1
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
            if self._peek().is_op("("):
                return self._group()
            return self._changed() if self._is_call() else self._comparison()
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

    def _is_call(self) -> bool:
        token, after = self._peek(), self._tokens[min(self._pos + 1, len(self._tokens) - 1)]
        return token.kind == "word" and token.text == CHANGED and after.is_op("(")

    def _changed(self) -> _Expr:
        opening = self._tokens[self._pos + 1]
        self._pos += 2  # `changed` and `(`
        pattern = self._value()
        if isinstance(pattern, _Lit) and not used_in(pattern.text):
            try:
                check_pattern(pattern.text)
            except ValueError as error:
                raise FilterSyntaxError(str(error), opening.column + 1) from None
        if not self._accept(")"):
            raise self._unexpected(f"')' to close changed( at column {opening.column}")
        return _Changed(pattern)

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
