"""Line numbers of key paths in TOML and JSON text (ci_bot.tree.locate)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import tomli
from hypothesis import given
from hypothesis import strategies as st

from ci_bot.tree.locate import Locations, Path, locate_json, locate_toml


def key_paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every key path a parsed document holds (tables, keys, array elements), root excluded."""
    if isinstance(value, dict):
        children: Iterator[tuple[str | int, Any]] = iter(value.items())
    elif isinstance(value, list):
        children = iter(enumerate(value))
    else:
        return
    for key, child in children:
        yield (*prefix, key)
        yield from key_paths(child, (*prefix, key))


def line_containing(text: str, fragment: str) -> int:
    """The 1-based line of the one line of ``text`` that contains ``fragment``."""
    found = [n for n, line in enumerate(text.split("\n"), start=1) if fragment in line]
    assert len(found) == 1, f"{fragment!r} is on lines {found}"
    return found[0]


def lines_of(source: str) -> dict[Path, int]:
    """The TOML source's located lines, after checking tomli accepts it."""
    tomli.loads(source)
    return dict(locate_toml(source).lines)


# --- Locations.line_of ---------------------------------------------------------------


def test_line_of_falls_back_to_nearest_known_ancestor_then_line_one() -> None:
    locations = Locations({("a",): 3, ("a", "b"): 5})

    assert locations.line_of(("a", "b")) == 5
    assert locations.line_of(("a", "b", "c", 0)) == 5
    assert locations.line_of(("a", "x")) == 3
    assert locations.line_of(("z",)) == 1
    assert locations.line_of(()) == 1
    assert Locations().line_of(("anything",)) == 1


@given(st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=6))
def test_line_of_never_raises(path: list[str | int]) -> None:
    locations = locate_toml("[a]\nb = 1\n[[c]]\n")
    assert locations.line_of(tuple(path)) >= 1


# --- TOML: tables ----------------------------------------------------------------------


def test_headers_with_bare_quoted_and_literal_segments_and_spaces_around_dots() -> None:
    source = '[a]\n\n[ a . "b c" . \'d.e\' ]\nx = 1\n\t[a."\\u0066"]  # comment\n'

    assert lines_of(source) == {
        ("a",): 1,
        ("a", "b c"): 3,
        ("a", "b c", "d.e"): 3,
        ("a", "b c", "d.e", "x"): 4,
        ("a", "f"): 5,
    }


def test_each_array_of_tables_header_adds_an_element() -> None:
    source = '[[push]]\npipeline = "release"\n\n[[push]]\npipeline = "ci"\n'

    assert lines_of(source) == {
        ("push",): 1,
        ("push", 0): 1,
        ("push", 0, "pipeline"): 2,
        ("push", 1): 4,
        ("push", 1, "pipeline"): 5,
    }


def test_sub_table_after_array_of_tables_belongs_to_its_last_element() -> None:
    source = (
        "[[pipeline.ci.steps]]\n"
        'run = "a"\n'
        "[[pipeline.ci.steps]]\n"
        'run = "b"\n'
        "[pipeline.ci.steps.sub]\n"
        "x = 1\n"
    )
    lines = lines_of(source)

    assert lines[("pipeline", "ci", "steps", 1, "sub")] == 5
    assert lines[("pipeline", "ci", "steps", 1, "sub", "x")] == 6
    assert ("pipeline", "ci", "steps", 0, "sub") not in lines


def test_nested_arrays_of_tables_restart_their_index_per_parent_element() -> None:
    source = "[[a]]\n[[a.b]]\n[[a.b]]\n[[a]]\n[[a.b]]\nk = 1\n"
    lines = lines_of(source)

    assert lines[("a", 0, "b", 0)] == 2
    assert lines[("a", 0, "b", 1)] == 3
    assert lines[("a", 1)] == 4
    assert lines[("a", 1, "b", 0)] == 5
    assert lines[("a", 1, "b", 0, "k")] == 6


def test_implicit_table_is_at_the_first_line_that_created_it() -> None:
    source = "[pipeline.ci.lint.ruff]\nrun = 'ruff'\n[pipeline.ci.lint.mypy]\nrun = 'mypy'\n"
    locations = locate_toml(source)

    assert locations.line_of(("pipeline",)) == 1
    assert locations.line_of(("pipeline", "ci", "lint")) == 1
    assert locations.line_of(("pipeline", "ci", "lint", "mypy")) == 3


def test_header_written_after_its_sub_table_is_the_table_line() -> None:
    source = "[a.b]\nx = 1\n[a]\ny = 2\n"

    assert lines_of(source) == {("a",): 3, ("a", "b"): 1, ("a", "b", "x"): 2, ("a", "y"): 4}


# --- TOML: keys and values -------------------------------------------------------------


def test_dotted_keys_record_every_prefix_on_their_line() -> None:
    source = "[t]\na.b.c = 1\na . b . d = 2\n\"x.y\".'z' = 3\n"

    assert lines_of(source) == {
        ("t",): 1,
        ("t", "a"): 2,
        ("t", "a", "b"): 2,
        ("t", "a", "b", "c"): 2,
        ("t", "a", "b", "d"): 3,
        ("t", "x.y"): 4,
        ("t", "x.y", "z"): 4,
    }


def test_quoted_keys_are_decoded_like_tomli_decodes_them() -> None:
    source = '"a\\"b" = 1\n"caf\\u00e9" = 2\n"tab\\there\\U0001F600" = 3\n\'c:\\\\x\' = 4\n"" = 5\n'

    assert lines_of(source) == {
        ('a"b',): 1,
        ("café",): 2,
        ("tab\there😀",): 3,
        ("c:\\\\x",): 4,
        ("",): 5,
    }


def test_inline_tables_nested_and_in_arrays() -> None:
    source = (
        "[n]\n"
        'env = { A = "1", "B C" = "2", sub = { D = "3" } }\n'
        'matrix = [ { py = "3.11" }, { py = "3.12", extra = [1, 2] } ]\n'
    )

    assert lines_of(source) == {
        ("n",): 1,
        ("n", "env"): 2,
        ("n", "env", "A"): 2,
        ("n", "env", "B C"): 2,
        ("n", "env", "sub"): 2,
        ("n", "env", "sub", "D"): 2,
        ("n", "matrix"): 3,
        ("n", "matrix", 0): 3,
        ("n", "matrix", 0, "py"): 3,
        ("n", "matrix", 1): 3,
        ("n", "matrix", 1, "py"): 3,
        ("n", "matrix", 1, "extra"): 3,
        ("n", "matrix", 1, "extra", 0): 3,
        ("n", "matrix", 1, "extra", 1): 3,
    }


def test_inline_table_spanning_lines_records_each_key_on_its_own_line() -> None:
    source = (
        "reuse = { inputs = [\n"
        '    "src/**",\n'
        '], outputs = ["dist"], note = """\n'
        "x = 1\n"
        '""", last = 1 }\n'
        "env = {\n"
        '  A = "1",  # comment\n'
        '  B = "2",\n'
        "}\n"
    )
    lines = lines_of(source)

    assert lines[("reuse",)] == 1
    assert lines[("reuse", "inputs", 0)] == 2
    assert lines[("reuse", "outputs")] == 3
    assert lines[("reuse", "last")] == 5
    assert lines[("env", "A")] == 7
    assert lines[("env", "B")] == 8
    assert ("x",) not in lines and ("reuse", "x") not in lines


def test_multiline_strings_hide_fake_headers_and_keys() -> None:
    source = (
        'a = """\n'
        "[fake.header]\n"
        'key = "value" \\"""\n'
        '[[fake.array]] ends with quotes""""\n'
        "b = '''\n"
        "c = 1 # \\\n"
        "[x]'''\n"
        'd = """"quoted" at both ends"""""\n'
        "e = 5\n"
    )

    assert lines_of(source) == {("a",): 1, ("b",): 5, ("d",): 8, ("e",): 9}


def test_multiline_arrays_with_comments_and_trailing_commas() -> None:
    source = 'sign = [\n  "dist/*",   # wheels ] not the end\n\n  "x,y",\n]\nafter = true\n'

    assert lines_of(source) == {("sign",): 1, ("sign", 0): 2, ("sign", 1): 4, ("after",): 6}


def test_comments_and_escaped_quotes_inside_basic_strings_are_not_structure() -> None:
    source = (
        'doc = "say \\"hi\\" # [not.a.header] k = v"  # a real comment = 1\n'
        "lit = 'C:\\path\\' # the backslash does not escape in a literal string\n"
        "# whole-line comment: z = 1\n"
        'when = "{event} == push" # \' still a comment\n'
        "n = 1979-05-27 07:32:00Z\n"
    )

    assert lines_of(source) == {("doc",): 1, ("lit",): 2, ("when",): 4, ("n",): 5}


def test_crlf_line_endings() -> None:
    source = '[pr]\r\npipeline = "ci"\r\n\r\n[[push]]\r\nfilter = "x"\r\n'

    assert lines_of(source) == {
        ("pr",): 1,
        ("pr", "pipeline"): 2,
        ("push",): 4,
        ("push", 0): 4,
        ("push", 0, "filter"): 5,
    }


# --- TOML: a realistic conducto.cfg ----------------------------------------------------

CONDUCTO_CFG = """\
# conducto.cfg for a small Python project
[pr]
pipeline = "ci"
duplicate = "cancel-old"   # the default for pr, written anyway

[[push]]
filter = "{branch} == main || {branch} == release/*"
pipeline = "release"

[[push]]
pipeline = "ci"

[pipeline.ci]
image = "python:3.12-slim"
env = { PIP_DISABLE_PIP_VERSION_CHECK = "1", "LANG" = 'C.UTF-8 # no comment' }
timeout = "20m"

[pipeline.ci.lint]
parallel = true
[pipeline.ci.lint.ruff]
run = "ruff check ."
[ pipeline . ci . "lint" . 'mypy' ]
run = 'mypy src'

[pipeline.ci.build]
run = \"\"\"
set -e
[fake.header]
key = value
python -m build --outdir "$CI_DATA/dist" \\
  --no-isolation   # "\\"\\"\\"" is not the end
\"\"\"
sign = [
  "dist/*.whl",     # wheels
  "dist/*.tar.gz",
]
reuse = { inputs = [
  "src/**",
  "pyproject.toml",
], outputs = ["dist"] }

[pipeline.ci.test.unit]   # creates pipeline.ci.test too
run = "pytest -q tests/unit"
retry = 1
env.PYTHONHASHSEED = "0"

[pipeline.ci.test.integration]
run = '''
pytest -q tests/integration -k "not slow"
[[not.an.array]]
'''
timeout = "30m"

[pipeline.ci.deploy]
run = "./deploy.sh"
when = "{event} == push && {branch} == main"
secrets = ["DEPLOY_TOKEN"]
doc = "Ships \\"main\\" # to production = yes"
"""


def conducto_cfg_expected_lines() -> dict[Path, int]:
    def at(fragment: str) -> int:
        return line_containing(CONDUCTO_CFG, fragment)

    ci = ("pipeline", "ci")
    build, unit = (*ci, "build"), (*ci, "test", "unit")
    integration, deploy = (*ci, "test", "integration"), (*ci, "deploy")
    return {
        ("pr",): at("[pr]"),
        ("pr", "pipeline"): at("[pr]") + 1,
        ("pr", "duplicate"): at("duplicate ="),
        ("push",): at("filter =") - 1,
        ("push", 0): at("filter =") - 1,
        ("push", 0, "filter"): at("filter ="),
        ("push", 0, "pipeline"): at('pipeline = "release"'),
        ("push", 1): at('pipeline = "release"') + 2,
        ("push", 1, "pipeline"): at('pipeline = "release"') + 3,
        ("pipeline",): at("[pipeline.ci]"),
        ci: at("[pipeline.ci]"),
        (*ci, "image"): at("image ="),
        (*ci, "env"): at("PIP_DISABLE"),
        (*ci, "env", "PIP_DISABLE_PIP_VERSION_CHECK"): at("PIP_DISABLE"),
        (*ci, "env", "LANG"): at("PIP_DISABLE"),
        (*ci, "timeout"): at('timeout = "20m"'),
        (*ci, "lint"): at("[pipeline.ci.lint]"),
        (*ci, "lint", "parallel"): at("parallel = true"),
        (*ci, "lint", "ruff"): at("[pipeline.ci.lint.ruff]"),
        (*ci, "lint", "ruff", "run"): at("ruff check"),
        (*ci, "lint", "mypy"): at("'mypy' ]"),
        (*ci, "lint", "mypy", "run"): at("mypy src"),
        build: at("[pipeline.ci.build]"),
        (*build, "run"): at("[pipeline.ci.build]") + 1,
        (*build, "sign"): at("sign = ["),
        (*build, "sign", 0): at("dist/*.whl"),
        (*build, "sign", 1): at("dist/*.tar.gz"),
        (*build, "reuse"): at("reuse ="),
        (*build, "reuse", "inputs"): at("reuse ="),
        (*build, "reuse", "inputs", 0): at('"src/**"'),
        (*build, "reuse", "inputs", 1): at('"pyproject.toml"'),
        (*build, "reuse", "outputs"): at("outputs ="),
        (*build, "reuse", "outputs", 0): at("outputs ="),
        (*ci, "test"): at("[pipeline.ci.test.unit]"),
        unit: at("[pipeline.ci.test.unit]"),
        (*unit, "run"): at("tests/unit"),
        (*unit, "retry"): at("retry ="),
        (*unit, "env"): at("PYTHONHASHSEED"),
        (*unit, "env", "PYTHONHASHSEED"): at("PYTHONHASHSEED"),
        integration: at("[pipeline.ci.test.integration]"),
        (*integration, "run"): at("[pipeline.ci.test.integration]") + 1,
        (*integration, "timeout"): at('timeout = "30m"'),
        deploy: at("[pipeline.ci.deploy]"),
        (*deploy, "run"): at("deploy.sh"),
        (*deploy, "when"): at("when ="),
        (*deploy, "secrets"): at("DEPLOY_TOKEN"),
        (*deploy, "secrets", 0): at("DEPLOY_TOKEN"),
        (*deploy, "doc"): at("Ships"),
    }


def test_every_key_path_tomli_produces_is_located_at_its_expected_line() -> None:
    parsed = tomli.loads(CONDUCTO_CFG)
    expected = conducto_cfg_expected_lines()
    locations = locate_toml(CONDUCTO_CFG)

    assert set(expected) == set(key_paths(parsed))
    assert set(locations.lines) == set(expected)
    assert {path: locations.line_of(path) for path in expected} == expected


def test_text_inside_the_multiline_run_strings_is_not_located() -> None:
    lines = locate_toml(CONDUCTO_CFG).lines

    assert not any(part in ("fake", "key", "not") for path in lines for part in path)
    assert line_containing(CONDUCTO_CFG, "[fake.header]") not in lines.values()


# --- TOML: generated documents ---------------------------------------------------------

key_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x7f"), max_size=8
)


def toml_key(key: str) -> str:
    """A TOML basic-string key: without surrogates or DEL, a JSON string is one."""
    return json.dumps(key, ensure_ascii=False)


@given(st.dictionaries(key_text, st.dictionaries(key_text, st.integers(), max_size=4), max_size=4))
def test_generated_tables_and_keys_match_tomli(doc: dict[str, dict[str, int]]) -> None:
    source = "".join(
        f"[{toml_key(table)}]\n" + "".join(f"{toml_key(k)} = {v}\n" for k, v in keys.items())
        for table, keys in doc.items()
    )
    lines = locate_toml(source).lines

    assert set(lines) == set(key_paths(tomli.loads(source)))
    text_lines = source.split("\n")
    for path, line in lines.items():
        match path:
            case (str(table),):
                assert text_lines[line - 1] == f"[{toml_key(table)}]"
            case (str(table), str(key)):
                assert text_lines[line - 1] == f"{toml_key(key)} = {doc[table][key]}"


# --- JSON ------------------------------------------------------------------------------


def test_json_keys_and_array_elements() -> None:
    source = (
        '{"name": "/",\n'
        ' "children": [\n'
        '   {"name": "a",\n'
        '    "runn": "x"},\n'
        '   [1, {"deep": {"er": null}}]\n'
        " ]\n"
        "}\n"
    )
    locations = locate_json(source)

    assert locations.line_of(("children", 0, "runn")) == 4
    assert dict(locations.lines) == {
        (): 1,
        ("name",): 1,
        ("children",): 2,
        ("children", 0): 3,
        ("children", 0, "name"): 3,
        ("children", 0, "runn"): 4,
        ("children", 1): 5,
        ("children", 1, 0): 5,
        ("children", 1, 1): 5,
        ("children", 1, 1, "deep"): 5,
        ("children", 1, 1, "deep", "er"): 5,
    }


def test_json_strings_hide_structure_and_keys_are_decoded() -> None:
    source = '\n{"a\\u0062": "x\\" , \\"c\\": [",\n "d": "}{]["}'

    assert dict(locate_json(source).lines) == {(): 2, ("ab",): 2, ("d",): 3}


def test_json_duplicate_key_is_at_its_last_line_as_json_keeps_the_last() -> None:
    assert locate_json('{"a": 1,\n"a": 2}').line_of(("a",)) == 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(json_values, st.sampled_from([None, 0, 1, 2]))
def test_json_from_dumps_locates_every_key_on_its_line(value: Any, indent: int | None) -> None:
    source = json.dumps(value, indent=indent)
    lines = locate_json(source).lines

    assert set(lines) == {(), *key_paths(value)}
    text_lines = source.split("\n")
    for path, line in lines.items():
        if path and isinstance(path[-1], str):
            assert json.dumps(path[-1]) + ": " in text_lines[line - 1]


# --- Never raise -----------------------------------------------------------------------

toml_ish = st.text(st.sampled_from(list("[]{}\"'=.,#\\\n\r\t abu0123")), max_size=80)


@given(st.one_of(st.text(), toml_ish))
def test_scanners_never_raise_on_arbitrary_text(text: str) -> None:
    for locations in (locate_toml(text), locate_json(text)):
        for path, line in locations.lines.items():
            assert 1 <= line <= text.count("\n") + 1
            assert locations.line_of(path) == line


def test_deep_nesting_does_not_exhaust_the_stack() -> None:
    for text in ("[" * 20_000, "a = " + "[" * 20_000, "a = " + "{b=" * 20_000, "{" * 20_000):
        locate_toml(text)
        locate_json(text)
    assert locate_toml("a = " + "[" * 20_000).line_of(("a", 0, 0)) == 1
