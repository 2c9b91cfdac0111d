"""The filter language of conducto.cfg (design doc §1): evaluation, errors, hostile input."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_bot.tree.filters import MAX_DEPTH, VARIABLES, Filter, FilterSyntaxError, parse_filter

PUSH_MAIN = {"event": "push", "branch": "main", "repo": "acme/app", "sha": "abc123"}
PUSH_DEV = {"event": "push", "branch": "dev", "repo": "acme/app", "sha": "abc123"}
PUSH_RELEASE = {"event": "push", "branch": "release/1.2", "repo": "acme/app"}
PR_TO_MAIN = {"event": "pr", "branch": "feature-1.2", "base_branch": "main", "pr": "42"}
TAG = {"event": "create-tag", "tag": "v1.0", "author": "alice"}


def holds(text: str, values: Mapping[str, str]) -> bool:
    return parse_filter(text).evaluate(values)


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        # Conducto's own examples
        ("{branch} == main", PUSH_MAIN, True),
        ("{branch} == main", PUSH_DEV, False),
        ("{branch} == main || {branch} == release/*", PUSH_MAIN, True),
        ("{branch} == main || {branch} == release/*", PUSH_RELEASE, True),
        ("{branch} == main || {branch} == release/*", PUSH_DEV, False),
        # == and != in both directions, values on either side
        ("main == {branch}", PUSH_MAIN, True),
        ("{branch} != main", PUSH_DEV, True),
        ("{branch} != main", PUSH_MAIN, False),
        ("{base_branch} == main", PR_TO_MAIN, True),
        ("{branch} == {base_branch}", PR_TO_MAIN, False),
        ("{branch} != {base_branch}", PR_TO_MAIN, True),
        ("{tag} == {pr}", PUSH_MAIN, True),  # both missing, so both ""
        ("main == main", {}, True),
        # glob: * spans any run, / included, on either side
        ("{branch} == release/*", PUSH_RELEASE, True),
        ("release/* == {branch}", PUSH_RELEASE, True),
        ("{branch} == *", {}, True),
        ("{branch} == *.2", PR_TO_MAIN, True),
        ("{branch} == feat*-*.*", PR_TO_MAIN, True),
        ("{branch} == re*se*2", PUSH_RELEASE, True),
        ("{branch} == *", PUSH_RELEASE, True),
        ("{branch} == release*", PUSH_MAIN, False),
        ("{branch} != release/*", PUSH_RELEASE, False),
        ("{tag} == v*", TAG, True),
        ("{repo} == acme/*", PUSH_MAIN, True),
        ("{repo} == */app", PUSH_MAIN, True),
        ("{repo} == *acme", PUSH_MAIN, False),
        ("{branch} == ma*in", PUSH_MAIN, True),
        ("{branch} == main*n", PUSH_MAIN, False),  # prefix and suffix may not overlap
        ("{branch} == m*a*i*n", PUSH_MAIN, True),
        ("{branch} == m**n", PUSH_MAIN, True),
        # only * is special: ? and [ are plain characters
        ("{branch} == ma?n", PUSH_MAIN, False),
        ("{branch} == ma?n", {"branch": "ma?n"}, True),
        ("{branch} == [m]ain", PUSH_MAIN, False),
        ("{branch} == [m]ain", {"branch": "[m]ain"}, True),
        # the right side is the pattern when both hold *; a substituted value never is
        ("a*c == a*", {}, True),
        ("a* == a*c", {}, False),
        ("{branch} == main", {"branch": "*"}, False),
        ("main == {branch}", {"branch": "m*"}, False),
        # quoted strings
        ('{branch} == "main"', PUSH_MAIN, True),
        ("{branch} == 'main'", PUSH_MAIN, True),
        ('{branch} == "my branch"', {"branch": "my branch"}, True),
        ("{branch} == 'a \"quoted\" (word) && x'", {"branch": 'a "quoted" (word) && x'}, True),
        ('{branch} == "it\'s"', {"branch": "it's"}, True),
        ('{branch} == "{branch}"', {"branch": "{branch}"}, True),  # no substitution inside
        ('{branch} == "{branch}"', PUSH_MAIN, False),
        ('{branch} == "release/*"', PUSH_RELEASE, True),
        ('{tag} == ""', PUSH_MAIN, True),
        ('{tag} != ""', TAG, True),
        # bare words hold any character but whitespace and ( ) ! & | =
        ("{branch} == feature-1.2", PR_TO_MAIN, True),
        ("{branch}==main", PUSH_MAIN, True),
        ("{branch}!=main&&{event}==push", PUSH_DEV, True),
        ("{branch} == a{b}", {"branch": "a{b}"}, True),
        ("{author} == it's", {"author": "it's"}, True),
        # truthiness of a value alone
        ("{pr}", PR_TO_MAIN, True),
        ("{pr}", PUSH_MAIN, False),
        ("!{tag}", PUSH_MAIN, True),
        ("!{tag}", TAG, False),
        ("!!{tag}", TAG, True),
        ("main", {}, True),
        ('""', {}, False),
        ("''", {}, False),
        ("{pr}", {"pr": "0"}, True),  # non-empty text, whatever it says
        # ! negates a whole comparison
        ("!{branch} == main", PUSH_MAIN, False),
        ("!{branch} == main", PUSH_DEV, True),
        ("!({branch} == main)", PUSH_DEV, True),
        ("! ! {branch} == main", PUSH_MAIN, True),
        # && and ||
        ("{event} == push && {branch} == main", PUSH_MAIN, True),
        ("{event} == push && {branch} == main", PUSH_DEV, False),
        ("{event} == pr && {branch} == main", PUSH_MAIN, False),
        ("{event} == pr || {branch} == main", PUSH_MAIN, True),
        ("{event} == pr || {branch} == main", PUSH_DEV, False),
        ("{pr} || {tag} || {branch} == dev", PUSH_DEV, True),
        ("{event} && {repo} && {sha}", PUSH_MAIN, True),
        # precedence: && binds tighter than ||, ! tighter than both
        ("{tag} && {pr} || {branch}", PUSH_MAIN, True),  # (tag && pr) || branch
        ("{branch} || {tag} && {pr}", PUSH_MAIN, True),  # branch || (tag && pr)
        ("({branch} || {tag}) && {pr}", PUSH_MAIN, False),
        ("{tag} && ({pr} || {branch})", PUSH_MAIN, False),
        ("!{tag} && {branch}", PUSH_MAIN, True),  # (!tag) && branch
        ("!({tag} || {branch})", PUSH_MAIN, False),
        ("!{tag} || {branch} == dev", PUSH_MAIN, True),
        ("((({branch} == main)))", PUSH_MAIN, True),
        ("{event} == push && ({branch} == main || {branch} == release/*)", PUSH_RELEASE, True),
        ("{event} == pr && ({branch} == main || {branch} == release/*)", PUSH_RELEASE, False),
        # whitespace of any kind separates tokens
        ("\t{branch}\n==\r\nmain  ", PUSH_MAIN, True),
    ],
)
def test_evaluate(text: str, values: Mapping[str, str], expected: bool) -> None:
    assert holds(text, values) is expected


def test_filter_keeps_its_source() -> None:
    parsed = parse_filter("{branch} == main")
    assert isinstance(parsed, Filter)
    assert parsed.source == "{branch} == main"
    assert parsed == parse_filter("{branch} == main")


def test_every_variable_is_substituted() -> None:
    for name in VARIABLES:
        assert holds(f"{{{name}}} == x", {name: "x"})
        assert not holds(f"{{{name}}}", {})


@pytest.mark.parametrize(
    ("text", "values", "reason"),
    [
        ("{branch} == main", PUSH_DEV, "{branch} is 'dev', not == main"),
        ("{branch} == main", PUSH_MAIN, "{branch} is 'main', == main"),
        ("main == {branch}", PUSH_DEV, "{branch} is 'dev', not == main"),
        ("{branch} != main", PUSH_MAIN, "{branch} is 'main', not != main"),
        ("{tag} == v*", {}, "{tag} is empty, not == v*"),
        ('{branch} == "my branch"', PUSH_DEV, "{branch} is 'dev', not == 'my branch'"),
        (
            "{branch} == {base_branch}",
            PR_TO_MAIN,
            "{branch} is 'feature-1.2', not == {base_branch} ('main')",
        ),
        ("{pr}", PUSH_MAIN, "{pr} is empty"),
        ("{pr}", PR_TO_MAIN, "{pr} is '42'"),
        ("!{tag}", TAG, "{tag} is 'v1.0'"),
        ("{event} == pr && {pr}", PUSH_MAIN, "{event} is 'push', not == pr"),
        ("{pr} && {event} == pr", PR_TO_MAIN, "{pr} is '42'; {event} is 'pr', == pr"),
        ("{tag} || {branch} == main", PUSH_MAIN, "{branch} is 'main', == main"),
        (
            "{branch} == main || {branch} == release/*",
            PUSH_DEV,
            "{branch} is 'dev', not == main; {branch} is 'dev', not == release/*",
        ),
        ("x == y", {}, "'x', not == y"),
    ],
)
def test_explain_names_the_substituted_values(
    text: str, values: Mapping[str, str], reason: str
) -> None:
    assert parse_filter(text).explain(values) == reason


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("", 1, "the filter is empty"),
        ("   ", 1, "the filter is empty"),
        (
            "{branch} == main && {foo}",
            21,
            "unknown value '{foo}'; expected one of {event}, {branch}, {base_branch},"
            " {tag}, {sha}, {repo}, {pr}, {author}, {matrix.NAME} or {service.dir}",
        ),
        ("{branch", 8, "expected a value name and '}' after '{'"),
        ("{ branch } == main", 2, "expected a value name and '}' after '{'"),
        ("{branch} ==", 12, "expected a value after '==', found the end of the filter"),
        ("{branch} != )", 13, "expected a value after '!=', found ')'"),
        ("== main", 1, "expected a value, found '=='"),
        ("{branch} = main", 10, "'=' is not an operator; did you mean '=='?"),
        ("{pr} & {tag}", 6, "'&' is not an operator; did you mean '&&'?"),
        ("{pr} | {tag}", 6, "'|' is not an operator; did you mean '||'?"),
        ("{pr} &&", 8, "expected a value after '&&', found the end of the filter"),
        ("|| {pr}", 1, "expected a value, found '||'"),
        ("!", 2, "expected a value after '!', found the end of the filter"),
        ("()", 2, "expected a value after '(', found ')'"),
        (
            "({pr}",
            6,
            "expected '&&', '||' or ')' to close the '(' at column 1, found the end of the filter",
        ),
        (
            "{pr} && ({tag} {sha})",
            16,
            "expected an operator ('==', '!=', '&&' or '||'), found '{sha}'",
        ),
        ("{pr})", 5, "expected '&&', '||' or the end of the filter, found ')'"),
        ("{pr} {tag}", 6, "expected an operator ('==', '!=', '&&' or '||'), found '{tag}'"),
        ("{branch} main", 10, "expected an operator ('==', '!=', '&&' or '||'), found 'main'"),
        ("a == b == c", 8, "expected '&&', '||' or the end of the filter, found '=='"),
        ("{branch} == main 'x'", 18, "expected an operator ('==', '!=', '&&' or '||'), found 'x'"),
        ('{branch} == "main', 13, 'the quote " is never closed'),
        ("{branch} == 'main", 13, "the quote ' is never closed"),
        ("{branch} == (main)", 13, "expected a value after '==', found '('"),
        ("{branch} === main", 12, "'=' is not an operator; did you mean '=='?"),
    ],
)
def test_syntax_error_has_position_and_sentence(text: str, column: int, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    assert caught.value.column == column
    assert caught.value.message == message
    assert str(caught.value) == f"{message} (column {column})"


def test_syntax_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="column 1"):
        parse_filter("&&")


def nested(depth: int) -> str:
    return "(" * depth + "{branch} == main" + ")" * depth


def test_nesting_up_to_the_limit_parses_and_evaluates() -> None:
    half = MAX_DEPTH // 2
    for text in (nested(MAX_DEPTH), "!" * MAX_DEPTH + "{pr}", "!(" * half + "{pr}" + ")" * half):
        parsed = parse_filter(text)
        assert parsed.evaluate(PUSH_MAIN) in (True, False)
        assert parsed.explain(PUSH_MAIN)


@pytest.mark.parametrize(
    "text",
    [nested(MAX_DEPTH + 1), nested(10_000), "(" * 10_000, "!" * 10_000 + "{pr}", "!(" * 5_000],
)
def test_deep_nesting_is_a_syntax_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(FilterSyntaxError, match="nest deeper than 100") as caught:
        parse_filter(text)
    assert caught.value.column == MAX_DEPTH + 1


def test_long_chains_do_not_recurse() -> None:
    chain = parse_filter(" || ".join(["{tag}"] * 10_000 + ["{branch} == main"]))
    assert chain.evaluate(PUSH_MAIN)
    assert chain.explain(PUSH_MAIN) == "{branch} is 'main', == main"
    assert not parse_filter(" && ".join(["{branch}"] * 10_000 + ["{tag}"])).evaluate(PUSH_MAIN)


def test_glob_on_a_long_value_completes() -> None:
    # Patterns that make a backtracking matcher explode on a near-miss.
    value = "a" * 10_000
    assert not holds("{branch} == " + "*a" * 50 + "*b", {"branch": value})
    assert not holds("{branch} == " + "a*" * 5_000 + "b", {"branch": value})
    assert holds("{branch} == " + "a*" * 5_000, {"branch": value})
    assert holds("{sha} == *a*a*a*a*a", {"sha": value})
    assert not holds("{sha} == *a*a*a*a*b*a", {"sha": value})
    assert not holds("{sha} == *" + "a" * 1_000 + "b*", {"sha": value})
    assert not holds("{sha} == " + "*a" * 2_000 + "*b*", {"sha": value})


LANGUAGE_TOKENS = [
    *(f"{{{name}}}" for name in VARIABLES),
    "{foo}", "{", "}", "{}", "main", "release/*", "*", "?", "[", "'a b'", '"x"', "'", '"',
    "==", "!=", "!", "&&", "||", "(", ")", "=", "&", "|", " ", "\t",
]  # fmt: skip
token_text = st.lists(st.sampled_from(LANGUAGE_TOKENS), max_size=30)
values_strategy = st.dictionaries(st.sampled_from(VARIABLES), st.text(max_size=20))


def parse_or_none(text: str) -> Filter | None:
    """Parse, letting only FilterSyntaxError through as None; anything else fails the test."""
    try:
        return parse_filter(text)
    except FilterSyntaxError as error:
        assert error.message
        assert 1 <= error.column <= len(text) + 1
        return None


@given(st.text())
def test_arbitrary_text_raises_only_filter_syntax_error(text: str) -> None:
    parse_or_none(text)


@given(token_text, st.sampled_from(["", " "]), values_strategy)
def test_token_soup_parses_or_raises_syntax_error_and_evaluates(
    tokens: list[str], separator: str, values: dict[str, str]
) -> None:
    parsed = parse_or_none(separator.join(tokens))
    if parsed is not None:
        assert parsed.evaluate(values) in (True, False)
        assert isinstance(parsed.explain(values), str)


Oracle = Callable[[Mapping[str, str]], bool]
literals = st.text(alphabet="ab*/?[ ", max_size=6)


def glob_oracle(pattern: str, text: str) -> bool:
    """Reference glob on small inputs: * is .*, everything else literal."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, text, re.DOTALL) is not None


@st.composite
def comparisons(draw: st.DrawFn) -> tuple[str, Oracle]:
    name = draw(st.sampled_from(VARIABLES))
    literal = draw(literals)
    op = draw(st.sampled_from(["==", "!="]))
    wanted = op == "=="

    def oracle(values: Mapping[str, str]) -> bool:
        return glob_oracle(literal, values.get(name, "")) == wanted

    return f"{{{name}}} {op} '{literal}'", oracle


def truthy(name: str) -> tuple[str, Oracle]:
    return f"{{{name}}}", lambda values: values.get(name, "") != ""


def combine(
    children: st.SearchStrategy[tuple[str, Oracle]],
) -> st.SearchStrategy[tuple[str, Oracle]]:
    def both(op: str, a: tuple[str, Oracle], b: tuple[str, Oracle]) -> tuple[str, Oracle]:
        if op == "&&":
            return f"({a[0]}) && ({b[0]})", lambda v: a[1](v) and b[1](v)
        return f"({a[0]}) || ({b[0]})", lambda v: a[1](v) or b[1](v)

    def negate(a: tuple[str, Oracle]) -> tuple[str, Oracle]:
        return f"!({a[0]})", lambda v: not a[1](v)

    return st.one_of(
        st.builds(both, st.sampled_from(["&&", "||"]), children, children),
        st.builds(negate, children),
    )


well_formed = st.recursive(
    st.one_of(comparisons(), st.sampled_from(VARIABLES).map(truthy)), combine, max_leaves=8
)


@given(
    well_formed,
    st.dictionaries(st.sampled_from(VARIABLES), st.text(alphabet="ab*/?[ ", max_size=6)),
)
def test_well_formed_filters_evaluate_like_the_reference(
    case: tuple[str, Oracle], values: dict[str, str]
) -> None:
    text, oracle = case
    parsed = parse_filter(text)
    assert parsed.evaluate(values) is oracle(values)
    assert parsed.explain(values)
