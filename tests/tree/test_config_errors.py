"""Broken conducto.cfg files: every problem names the exact line and the key (design doc §2).

Each text in the corpus marks the line the problem must be reported on with a
``# <-`` comment, so the expected line is visible right where it is written.
"""

from __future__ import annotations

from textwrap import dedent

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_bot.errors import ConfigError, ConfigProblem
from ci_bot.tree.build import MAX_DEPTH
from ci_bot.tree.config import parse_config

MARK = "# <-"


def cfg(text: str) -> str:
    return dedent(text).lstrip("\n")


def marked_lines(text: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), start=1) if line.rstrip().endswith(MARK)]


def problems_of(text: str, file: str = "conducto.cfg") -> tuple[ConfigProblem, ...]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, file)
    return caught.value.problems


def broken(case_id: str, text: str, key: str, says: str = "") -> object:
    """One corpus entry: ``text`` has one problem, on its ``# <-`` line, naming ``key``."""
    return pytest.param(cfg(text), key, says, id=case_id)


# A valid tail for texts whose problem is in an event section.
MAIN = """
[pipeline.main]
run = "pytest"
"""

CORPUS = [
    # --- the top level ---------------------------------------------------------------
    broken(
        "unknown-top-level-key",
        """
        [push]
        [pipelines.main]  # <-
        run = "pytest"
        [pipeline.main]
        run = "pytest"
        """,
        "pipelines",
        "did you mean 'pipeline'?",
    ),
    broken(
        "misspelt-event",
        """
        [pipeline.main]
        run = "pytest"

        [psuh]  # <-
        pipeline = "main"
        """,
        "psuh",
        "did you mean 'push'?",
    ),
    broken(
        "pipeline-is-not-tables",
        """
        pipeline = "main"  # <-
        """,
        "pipeline",
        "[pipeline.main]",
    ),
    broken(
        "event-section-is-a-string",
        """
        push = "main"  # <-
        """
        + MAIN,
        "push",
        "[[push]]",
    ),
    broken(
        "event-entry-is-not-a-table",
        """
        push = [1]  # <-
        """
        + MAIN,
        "push[0]",
    ),
    # --- event entries -----------------------------------------------------------------
    broken(
        "pipline-in-push",
        """
        [push]
        pipline = "main"  # <-
        """
        + MAIN,
        "push.pipline",
        "did you mean 'pipeline'?",
    ),
    broken(
        "second-push-entry",
        """
        [[push]]
        filter = "{branch} == main"
        pipeline = "main"

        [[push]]
        pipline = "main"  # <-
        """
        + MAIN,
        "push[1].pipline",
        "did you mean 'pipeline'?",
    ),
    broken(
        "missing-pipeline-named-by-event",
        """
        [pr]
        pipeline = "ci"  # <-
        """
        + MAIN,
        "pr.pipeline",
        "[pipeline.ci]",
    ),
    broken(
        "default-main-pipeline-missing",
        """
        [push]  # <-
        filter = "{branch} == main"

        [pipeline.ci]
        run = "pytest"
        """,
        "push",
        "'main'",
    ),
    broken(
        "command-with-pipeline",
        """
        [pr]
        pipeline = "main"
        command = "python pipeline.py pr"  # <-
        """
        + MAIN,
        "pr.command",
        "`pipeline`",
    ),
    broken(
        "image-without-command",
        """
        [push]
        image = "python:3.12"  # <-
        """
        + MAIN,
        "push.image",
        "`command`",
    ),
    broken(
        "schedule-on-push",
        """
        [push]
        schedule = "0 3 * * *"  # <-
        """
        + MAIN,
        "push.schedule",
        "[[cron]]",
    ),
    broken(
        "branch-on-pr",
        """
        [pr]
        branch = "main"  # <-
        """
        + MAIN,
        "pr.branch",
        "[[cron]]",
    ),
    broken(
        "cron-without-schedule",
        """
        [[cron]]  # <-
        branch = "main"
        """
        + MAIN,
        "cron[0]",
        "schedule",
    ),
    broken(
        "cron-hour-out-of-range",
        """
        [[cron]]
        schedule = "0 25 * * *"  # <-
        """
        + MAIN,
        "cron[0].schedule",
        "hour",
    ),
    broken(
        "cron-four-fields",
        """
        [[cron]]
        schedule = "0 3 * *"  # <-
        """
        + MAIN,
        "cron[0].schedule",
        "5",
    ),
    broken(
        "bad-duplicate-policy",
        """
        [pr]
        duplicate = "cancel"  # <-
        """
        + MAIN,
        "pr.duplicate",
        "cancel-old",
    ),
    broken(
        "filter-syntax-error",
        """
        [[push]]
        filter = "{branch} = main"  # <-
        """
        + MAIN,
        "push[0].filter",
        "'=='",
    ),
    broken(
        "filter-not-a-string",
        """
        [push]
        filter = true  # <-
        """
        + MAIN,
        "push.filter",
        "string",
    ),
    broken(
        "slack-channel-not-a-string",
        """
        [push]
        slack_channel = 5  # <-
        """
        + MAIN,
        "push.slack_channel",
        "string",
    ),
    # --- node structure ----------------------------------------------------------------
    broken(
        "runn",
        """
        [push]
        [pipeline.main]
        runn = "pytest"  # <-
        """,
        "pipeline.main.runn",
        "did you mean 'run'?",
    ),
    broken(
        "evn-table",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        evn = { DEBUG = "1" }  # <-
        """,
        "pipeline.main.evn",
        "did you mean 'env'?",
    ),
    broken(
        "dotted-key-typo",
        """
        [push]
        [pipeline.main]
        lint.ruff.runn = "ruff check ."  # <-
        """,
        "pipeline.main.lint.ruff.runn",
        "did you mean 'run'?",
    ),
    broken(
        "run-beside-children",
        """
        [push]
        [pipeline.main]
        run = "make"  # <-
        [pipeline.main.lint]
        run = "ruff check ."
        """,
        "pipeline.main.run",
        "child",
    ),
    broken(
        "empty-serial",
        """
        [push]
        [pipeline.main.lint]  # <-
        [pipeline.main.test]
        run = "pytest"
        """,
        "pipeline.main.lint",
        "empty",
    ),
    broken(
        "empty-pipeline",
        """
        [push]

        [pipeline.main]  # <-
        """,
        "pipeline.main",
        "empty",
    ),
    broken(
        "parallel-on-an-exec",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        parallel = true  # <-
        """,
        "pipeline.main.parallel",
        "Exec",
    ),
    broken(
        "parallel-not-a-bool",
        """
        [push]
        [pipeline.main]
        parallel = "yes"  # <-
        a.run = "true"
        """,
        "pipeline.main.parallel",
        "true or false",
    ),
    broken(
        "bad-node-name",
        """
        [push]
        [pipeline.main]
        [pipeline.main."unit tests"]  # <-
        run = "pytest"
        """,
        "pipeline.main.unit tests",
        "letters, digits",
    ),
    # --- parameters of every kind ------------------------------------------------------
    broken(
        "run-not-a-string",
        """
        [push]
        [pipeline.main]
        run = ["pytest"]  # <-
        """,
        "pipeline.main.run",
        "string",
    ),
    broken(
        "image-not-a-string",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        image = 3  # <-
        """,
        "pipeline.main.image",
        "string",
    ),
    broken(
        "concurrency-empty",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        concurrency = "  "  # <-
        """,
        "pipeline.main.concurrency",
        "empty",
    ),
    broken(
        "doc-not-a-string",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        doc = 1  # <-
        """,
        "pipeline.main.doc",
        "string",
    ),
    broken(
        "skip-not-a-bool",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        skip = "yes"  # <-
        """,
        "pipeline.main.skip",
        "true or false",
    ),
    broken(
        "stop-on-error-not-a-bool",
        """
        [push]
        [pipeline.main]
        stop_on_error = 0  # <-
        a.run = "true"
        """,
        "pipeline.main.stop_on_error",
        "true or false",
    ),
    broken(
        "suppress-errors-not-a-bool",
        """
        [push]
        [pipeline.main]
        suppress_errors = "false"  # <-
        a.run = "true"
        """,
        "pipeline.main.suppress_errors",
        "true or false",
    ),
    broken(
        "requires-docker-not-a-bool",
        """
        [push]
        [pipeline.main]
        run = "docker build ."
        requires_docker = 1  # <-
        """,
        "pipeline.main.requires_docker",
        "true or false",
    ),
    broken(
        "retry-a-string",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        retry = "2"  # <-
        """,
        "pipeline.main.retry",
        "whole number",
    ),
    broken(
        "retry-a-bool",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        retry = true  # <-
        """,
        "pipeline.main.retry",
        "whole number",
    ),
    broken(
        "retry-negative",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        retry = -1  # <-
        """,
        "pipeline.main.retry",
        "at least 0",
    ),
    broken(
        "max-concurrent-zero",
        """
        [push]
        [pipeline.main]
        parallel = true
        max_concurrent = 0  # <-
        a.run = "true"
        """,
        "pipeline.main.max_concurrent",
        "at least 1",
    ),
    broken(
        "env-not-a-table",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        env = "DEBUG=1"  # <-
        """,
        "pipeline.main.env",
        "table",
    ),
    broken(
        "env-value-not-a-string",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        env = { DEBUG = 1 }  # <-
        """,
        "pipeline.main.env.DEBUG",
        "quote it",
    ),
    broken(
        "env-value-not-a-string-in-an-env-table",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        [pipeline.main.env]
        HOME = "/tmp"
        WORKERS = 4  # <-
        LANG = "C"
        """,
        "pipeline.main.env.WORKERS",
        "quote it",
    ),
    broken(
        "env-bad-name",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        env = { "MY-VAR" = "1" }  # <-
        """,
        "pipeline.main.env.MY-VAR",
        "environment variable name",
    ),
    broken(
        "secrets-bad-name",
        """
        [push]
        [pipeline.main]
        run = "./deploy.sh"
        secrets = ["DEPLOY-TOKEN"]  # <-
        """,
        "pipeline.main.secrets[0]",
        "secret name",
    ),
    broken(
        "secrets-not-a-list",
        """
        [push]
        [pipeline.main]
        run = "./deploy.sh"
        secrets = "DEPLOY_TOKEN"  # <-
        """,
        "pipeline.main.secrets",
        "list",
    ),
    broken(
        "sign-absolute-path",
        """
        [push]
        [pipeline.main]
        run = "make dist"
        sign = ["/etc/passwd"]  # <-
        """,
        "pipeline.main.sign[0]",
        "$CI_DATA",
    ),
    broken(
        "sign-dot-dot-on-its-own-line",
        """
        [push]
        [pipeline.main]
        run = "make dist"
        sign = [
            "dist/*.whl",
            "dist/../../etc/passwd",  # <-
        ]
        """,
        "pipeline.main.sign[1]",
        "'..'",
    ),
    broken(
        "timeout-bad-duration",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        timeout = "20 minutes"  # <-
        """,
        "pipeline.main.timeout",
        "duration",
    ),
    broken(
        "timeout-zero",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        timeout = 0  # <-
        """,
        "pipeline.main.timeout",
        "zero",
    ),
    broken(
        "timeout-a-float",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        timeout = 1.5  # <-
        """,
        "pipeline.main.timeout",
        "duration",
    ),
    broken(
        "cpu-a-string",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        cpu = "two"  # <-
        """,
        "pipeline.main.cpu",
        "CPUs",
    ),
    broken(
        "cpu-infinite",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        cpu = inf  # <-
        """,
        "pipeline.main.cpu",
        "CPUs",
    ),
    broken(
        "mem-not-a-size",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        mem = "lots"  # <-
        """,
        "pipeline.main.mem",
        "size",
    ),
    broken(
        "mem-zero",
        """
        [push]
        [pipeline.main]
        run = "pytest"
        mem = "0g"  # <-
        """,
        "pipeline.main.mem",
        "size",
    ),
    broken(
        "reuse-missing-inputs",
        """
        [push]
        [pipeline.main]
        run = "make dist"
        reuse = { outputs = ["dist"] }  # <-
        """,
        "pipeline.main.reuse",
        "inputs",
    ),
    broken(
        "reuse-unknown-key",
        """
        [push]
        [pipeline.main]
        run = "make dist"
        [pipeline.main.reuse]
        inputs = ["src/**"]
        output = ["dist"]  # <-
        """,
        "pipeline.main.reuse.output",
        "'outputs'",
    ),
    broken(
        "reuse-output-outside-ci-data",
        """
        [push]
        [pipeline.main]
        run = "make dist"
        reuse = { inputs = ["src/**"], outputs = ["/dist"] }  # <-
        """,
        "pipeline.main.reuse.outputs[0]",
        "$CI_DATA",
    ),
    broken(
        "reuse-input-outside-the-repository",
        """
        [push]
        [pipeline.main]
        run = "make dist"
        reuse = { inputs = ["../secrets/*"], outputs = ["dist"] }  # <-
        """,
        "pipeline.main.reuse.inputs[0]",
        "relative to the repository",
    ),
    broken(
        "when-syntax-error",
        """
        [push]
        [pipeline.main]
        run = "./deploy.sh"
        when = "{branch} == main &&"  # <-
        """,
        "pipeline.main.when",
        "column 20",
    ),
    broken(
        "when-unknown-value",
        """
        [push]
        [pipeline.main]
        run = "./deploy.sh"
        when = "{brnach} == main"  # <-
        """,
        "pipeline.main.when",
        "{brnach}",
    ),
    # --- line numbers that text could confuse ------------------------------------------
    broken(
        "keys-inside-a-multi-line-string",
        '''
        [push]
        [pipeline.main]
        run = """
        runn = "not a key"
        [pipeline.fake]
        retry = "nor this"
        """
        doc = \'\'\'
        runn = 1
        \'\'\'
        runn = "pytest"  # <-
        ''',
        "pipeline.main.runn",
        "did you mean 'run'?",
    ),
    broken(
        "problem-in-an-inline-node",
        """
        [push]
        [pipeline.main]
        lint = { ruff = { run = "ruff check ." }, mypy = { run = 5 } }  # <-
        """,
        "pipeline.main.lint.mypy.run",
        "string",
    ),
    broken(
        "problem-deep-below-an-array-of-tables",
        """
        [[push]]
        pipeline = "main"
        [[push]]
        pipeline = "main"
        duplicate = "defer"
        [[push]]
        duplicate = "never"  # <-
        """
        + MAIN,
        "push[2].duplicate",
        "cancel-old",
    ),
]


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30


@pytest.mark.parametrize(("text", "key", "says"), CORPUS)
def test_problem_names_the_line_and_the_key(text: str, key: str, says: str) -> None:
    [expected_line] = marked_lines(text)
    [problem] = problems_of(text)
    assert problem.line == expected_line
    assert problem.key == key
    assert problem.message.startswith(f"{key}: ")
    assert says in problem.message
    assert problem.file == "conducto.cfg"


def test_invalid_toml_has_line_and_column_from_tomli() -> None:
    text = cfg(
        """
        [push]
        pipeline = "main"

        [pipeline.main]
        run = "pytest" -q
        """
    )
    [problem] = problems_of(text)
    assert (problem.line, problem.column) == (5, 16)
    assert "not valid TOML" in problem.message


def test_invalid_toml_names_the_file() -> None:
    [problem] = problems_of("[push\n", file=".conducto.cfg")
    assert (problem.file, problem.line) == (".conducto.cfg", 1)
    assert str(problem).startswith(".conducto.cfg:1: ")


def test_duplicate_table_is_invalid_toml_on_the_second_header() -> None:
    text = cfg(
        """
        [pipeline.main]
        run = "pytest"
        [pipeline.main]
        run = "ruff"
        """
    )
    [problem] = problems_of(text)
    assert problem.line == 3


def test_filter_error_has_the_line_of_the_key_and_the_column_in_the_filter() -> None:
    text = cfg(
        """
        [pipeline.main]
        run = "pytest"

        [[push]]
        filter = "{branch} == main || {branch} = release/*"
        """
    )
    [problem] = problems_of(text)
    assert problem.line == 5
    assert problem.key == "push[0].filter"
    assert problem.column == len("{branch} == main || {branch} =")


def test_problems_in_both_push_entries_are_reported_on_their_own_lines() -> None:
    text = cfg(
        """
        [[push]]
        filter = "{branch} == main"
        pipline = "main"  # <-

        [[push]]
        duplicate = "later"  # <-
        """
        + MAIN
    )
    problems = problems_of(text)
    assert [p.line for p in problems] == marked_lines(text)
    assert [p.key for p in problems] == ["push[0].pipline", "push[1].duplicate"]


def test_several_problems_are_reported_together_in_line_order() -> None:
    text = cfg(
        """
        [pipeline.main.test]
        run = "pytest"
        retry = "twice"  # <-

        [pipeline.main.lint]
        runn = "ruff check ."  # <-

        [pr]
        pipline = "main"  # <-

        [pipeline.main.deploy]
        run = "./deploy.sh"
        timeout = "soon"  # <-
        env = { TOKEN = 1 }  # <-
        """
    )
    problems = problems_of(text)
    assert [p.line for p in problems] == marked_lines(text)
    assert [p.key for p in problems] == [
        "pipeline.main.test.retry",
        "pipeline.main.lint.runn",
        "pr.pipline",
        "pipeline.main.deploy.timeout",
        "pipeline.main.deploy.env.TOKEN",
    ]


def test_an_empty_file_says_what_to_add() -> None:
    [problem] = problems_of("# nothing yet\n")
    assert "[pipeline.main]" in problem.message


def test_nesting_past_the_limit_is_a_config_error() -> None:
    depth = MAX_DEPTH + 1
    text = f'[push]\n[pipeline.main{".a" * depth}]\nrun = "true"\n'
    [problem] = problems_of(text)
    assert problem.line == 2
    assert f"at most {MAX_DEPTH}" in problem.message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("x = " + "[" * 2000 + "]" * 2000 + "\n", id="nested-arrays"),
        pytest.param("x = " + "{a = " * 2000 + "1" + "}" * 2000 + "\n", id="nested-tables"),
        pytest.param("[push]\n" + "a." * 3000 + "b = 1\n", id="long-dotted-key"),
        pytest.param('[pipeline.main]\nrun = "x"\nmem = "' + "9" * 5000 + '"\n', id="huge-mem"),
        pytest.param(
            '[pipeline.main]\nrun = "x"\ntimeout = "' + "9" * 5000 + 's"\n', id="huge-time"
        ),
    ],
)
def test_hostile_text_gets_a_config_error_on_its_line(text: str) -> None:
    problems = problems_of(text)
    assert problems[0].line == len(text.splitlines())


# --- arbitrary text --------------------------------------------------------------------

FRAGMENTS = [
    "[push]",
    "[[push]]",
    "[pr]",
    "[[cron]]",
    "[create-tag]",
    "[pipeline.main]",
    "[pipeline.main.lint]",
    "[pipeline.main.lint.ruff]",
    '[pipeline."a b"]',
    "[pipeline.main.env]",
    "[pipeline]",
    'run = "pytest"',
    "run = 1",
    "runn = 'x'",
    "parallel = true",
    'pipeline = "main"',
    'pipeline = "ci"',
    "pipeline = 3",
    'filter = "{branch} == main"',
    'filter = "{branch = "',
    'when = "!"',
    'when = "{event} == push"',
    'schedule = "0 3 * * *"',
    'schedule = "*/0 * * * *"',
    'duplicate = "defer"',
    'command = "python pipeline.py"',
    'image = "python:3.12"',
    'env = { A = "1" }',
    "env = { A = 1 }",
    'mem = "2g"',
    'mem = "99999999999999999999999999999999999999g"',
    "cpu = nan",
    "cpu = 0.5",
    'timeout = "1h30m"',
    'timeout = "0s"',
    'reuse = { inputs = ["src/**"], outputs = ["dist"] }',
    "reuse = { output = 1 }",
    'sign = ["/etc"]',
    'secrets = ["A", 1]',
    "retry = -1",
    "max_concurrent = 2",
    "skip = true",
    'push = "main"',
    "evn = { A = '1' }",
    "a.b.c = 1",
    "x = [[1], [2]]",
    'doc = """\nrunn = 1\n"""',
    "date = 1979-05-27",
    "=",
    "[",
    '"',
]

toml_ish = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8), max_size=14).map("\n".join)


def parses_or_config_error(text: str) -> None:
    try:
        parse_config(text)
    except ConfigError as error:
        assert error.problems
        assert all(problem.line >= 1 for problem in error.problems)


@given(st.text())
def test_arbitrary_text_raises_nothing_but_config_error(text: str) -> None:
    parses_or_config_error(text)


@given(toml_ish)
def test_toml_ish_text_raises_nothing_but_config_error(text: str) -> None:
    parses_or_config_error(text)
