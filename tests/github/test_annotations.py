"""Annotations from the common ``path:line[:col]: message`` forms, only for files at the commit."""

from __future__ import annotations

from integrations.github.annotations import PER_REQUEST, batches, clean_path, parse_annotations

FILES = {"src/app.py", "src/main.c", "tests/test_app.py", "setup.cfg"}
LOG = """\
2024-05-01T12:00:00.000Z src/app.py:3:8: F401 [*] `os` imported but unused
2024-05-01T12:00:00.001Z F841 Local variable `y` is assigned to but never used
2024-05-01T12:00:00.001Z  --> src/app.py:4:1
2024-05-01T12:00:00.002Z src/app.py:10: error: Incompatible return value type  [return-value]
2024-05-01T12:00:00.003Z src/app.py:11: note: Revealed type is "int"
2024-05-01T12:00:00.004Z ./src/app.py:12:80: E501 line too long (88 > 79 characters)
2024-05-01T12:00:00.005Z tests/test_app.py:7: AssertionError
2024-05-01T12:00:00.006Z /workspace/src/main.c:5:12: warning: unused variable 'x' [-Wunused]
2024-05-01T12:00:00.007Z \x1b[1msrc/main.c:9:1:\x1b[0m error: expected ';' before '}' token
2024-05-01T12:00:00.008Z vendor/lib.py:1:1: E999 not in the repository
2024-05-01T12:00:00.009Z /usr/lib/python3/x.py:1: error: outside the checkout
2024-05-01T12:00:00.010Z ../etc/passwd:1: error: escapes the checkout
2024-05-01T12:00:00.011Z Found 3 errors in 1 file (checked 2 source files)
2024-05-01T12:00:00.012Z [ci-bot] exited with code 1
src/app.py:3:8: F401 [*] `os` imported but unused
"""


def test_each_tool_format_becomes_an_annotation() -> None:
    found = parse_annotations(LOG.splitlines(), FILES.__contains__)
    summary = [
        (a["path"], a["start_line"], a.get("start_column"), a["annotation_level"]) for a in found
    ]
    assert summary == [
        ("src/app.py", 3, 8, "failure"),  # ruff concise
        ("src/app.py", 4, 1, "failure"),  # ruff full
        ("src/app.py", 10, None, "failure"),  # mypy
        ("src/app.py", 11, None, "notice"),  # mypy note
        ("src/app.py", 12, 80, "failure"),  # flake8
        ("tests/test_app.py", 7, None, "failure"),  # pytest
        ("src/main.c", 5, 12, "warning"),  # gcc warning, in the container's /workspace
        ("src/main.c", 9, 1, "failure"),  # gcc error, coloured
    ]
    assert found[0]["message"] == "F401 [*] `os` imported but unused"
    assert found[1]["message"] == "F841 Local variable `y` is assigned to but never used"
    assert all(a["end_line"] == a["start_line"] for a in found)


def test_paths_outside_the_checkout_are_refused() -> None:
    assert clean_path("/etc/passwd") is None
    assert clean_path("../x.py") is None
    assert clean_path("a/../../x.py") is None
    assert clean_path("/workspace/a/./b.py") == "a/b.py"


def test_annotations_go_out_fifty_per_request() -> None:
    lines = [f"src/app.py:{n}: error: number {n}" for n in range(1, 121)]
    found = parse_annotations(lines, FILES.__contains__)
    assert [len(batch) for batch in batches(found)] == [PER_REQUEST, PER_REQUEST, 20]
