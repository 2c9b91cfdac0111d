"""Valid conducto.cfg files: event entries and pipeline trees as the contract describes them."""

from __future__ import annotations

from textwrap import dedent

import pytest

from ci_bot.tree.config import CONFIG_FILES, Config, Duplicate, EventEntry, parse_config
from ci_bot.tree.nodes import Node, NodeType
from ci_bot.tree.params import Reuse
from tests.conftest import REPO_ROOT


def parse(text: str, file: str = "conducto.cfg") -> Config:
    return parse_config(dedent(text).lstrip("\n"), file)


def only_entry(config: Config, event: str) -> EventEntry:
    [entry] = config.entries_for(event)
    return entry


def at(root: Node, path: str) -> Node:
    node = root.find(path)
    assert node is not None, f"no node at {path}"
    return node


def child_names(node: Node) -> list[str]:
    return [child.name for child in node.children]


# The examples of design doc §1 and §2, together.
CONTRACT_EXAMPLE = """
[pr]
pipeline = "ci"
duplicate = "cancel-old"
slack_channel = "#ci"

[[push]]
filter = "{branch} == main || {branch} == release/*"
pipeline = "release"

[[push]]
pipeline = "ci"

[[cron]]
schedule = "0 3 * * *"
branch = "main"
pipeline = "nightly"

[pipeline.ci]
image = "python:3.12-slim"
env = { PIP_DISABLE_PIP_VERSION_CHECK = "1" }
timeout = "20m"

[pipeline.ci.lint]
parallel = true
[pipeline.ci.lint.ruff]
run = "ruff check ."
[pipeline.ci.lint.mypy]
run = "mypy src"

[pipeline.ci.build]
run = "python -m build --outdir $CI_DATA/dist"
sign = ["dist/*"]

[pipeline.ci.test]
parallel = true
max_concurrent = 2
[pipeline.ci.test.unit]
run = "pytest -q tests/unit"
retry = 1
[pipeline.ci.test.integration]
run = "pytest -q tests/integration"
timeout = "30m"

[pipeline.ci.deploy]
run = "./deploy.sh"
when = "{event} == push && {branch} == main"
secrets = ["DEPLOY_TOKEN"]
concurrency = "production"

[pipeline.release]
run = "./release.sh"

[pipeline.nightly]
run = "pytest -q --slow"
"""


def test_contract_example_entries() -> None:
    config = parse(CONTRACT_EXAMPLE)
    pr = only_entry(config, "pr")
    assert (pr.pipeline, pr.duplicate, pr.slack_channel) == ("ci", Duplicate.CANCEL_OLD, "#ci")
    first, second = config.entries_for("push")
    assert first.filter is not None
    assert first.filter.source == "{branch} == main || {branch} == release/*"
    assert (first.pipeline, second.pipeline, second.filter) == ("release", "ci", None)
    assert (first.index, second.index) == (0, 1)
    cron = only_entry(config, "cron")
    assert cron.schedule is not None and cron.schedule.source == "0 3 * * *"
    assert (cron.branch, cron.pipeline) == ("main", "nightly")


def test_contract_example_tree() -> None:
    root = parse(CONTRACT_EXAMPLE).pipelines["ci"]
    assert (root.name, root.type) == ("/", NodeType.SERIAL)
    assert child_names(root) == ["lint", "build", "test", "deploy"]  # file order
    assert at(root, "/lint").type is NodeType.PARALLEL
    assert child_names(at(root, "/lint")) == ["ruff", "mypy"]
    ruff = at(root, "/lint/ruff")
    assert (ruff.type, ruff.run) == (NodeType.EXEC, "ruff check .")
    assert root.params.timeout == 20 * 60
    assert root.params.env == {"PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def test_contract_example_parameters() -> None:
    root = parse(CONTRACT_EXAMPLE).pipelines["ci"]
    assert at(root, "/build").params.sign == ("dist/*",)
    assert at(root, "/test").params.max_concurrent == 2
    assert at(root, "/test/unit").params.retry == 1
    assert at(root, "/test/integration").params.timeout == 30 * 60
    deploy = at(root, "/deploy").params
    assert (deploy.secrets, deploy.concurrency) == (("DEPLOY_TOKEN",), "production")
    assert deploy.when is not None
    assert deploy.when.evaluate({"event": "push", "branch": "main"})
    assert not deploy.when.evaluate({"event": "pr", "branch": "main"})


def test_the_shipped_example_parses() -> None:
    config = parse_config((REPO_ROOT / "conducto.cfg.example").read_text(encoding="utf-8"))
    assert set(config.pipelines) == {"ci", "nightly", "cleanup"}
    assert {entry.event for entry in config.entries} == {
        "pr",
        "push",
        "create-tag",
        "delete-branch",
        "delete-tag",
        "cron",
    }


def test_every_parameter_kind_is_read() -> None:
    config = parse(
        """
        [push]
        [pipeline.main]
        run = "make"
        image = "debian:bookworm"
        env = { A = "1", B = "" }
        secrets = ["TOKEN", "OTHER_1"]
        timeout = "1h30m"
        skip = true
        stop_on_error = false
        suppress_errors = true
        max_concurrent = 3
        retry = 2
        when = "{branch} != main"
        concurrency = "db"
        reuse = { inputs = ["src/**"], outputs = ["dist"] }
        sign = ["dist/*.whl"]
        requires_docker = true
        cpu = 0.5
        mem = "512m"
        doc = "Builds *everything*."
        """
    )
    params = config.pipelines["main"].params
    assert params.image == "debian:bookworm"
    assert params.env == {"A": "1", "B": ""}
    assert params.secrets == ("TOKEN", "OTHER_1")
    assert params.timeout == 5400
    assert (params.skip, params.stop_on_error, params.suppress_errors) == (True, False, True)
    assert (params.max_concurrent, params.retry) == (3, 2)
    assert params.when is not None and params.when.source == "{branch} != main"
    assert params.concurrency == "db"
    assert params.reuse == Reuse(inputs=("src/**",), outputs=("dist",))
    assert params.sign == ("dist/*.whl",)
    assert params.requires_docker is True
    assert (params.cpu, params.mem) == (0.5, 512 * 1024**2)
    assert params.doc == "Builds *everything*."


def test_a_timeout_may_be_whole_seconds_and_cpu_a_whole_number() -> None:
    text = '[push]\n[pipeline.main]\nrun = "x"\ntimeout = 90\ncpu = 2\nmem = 1024\n'
    node = parse(text).pipelines["main"]
    assert (node.params.timeout, node.params.cpu, node.params.mem) == (90, 2.0, 1024)


@pytest.mark.parametrize(
    ("mem", "size"),
    [
        ('"512m"', 512 * 1024**2),
        ('"2g"', 2 * 1024**3),
        ('"2G"', 2 * 1024**3),
        ('"1.5g"', 3 * 1024**3 // 2),
        ('"64kb"', 64 * 1024),
        ('"1 GiB"', 1024**3),
        ('"1t"', 1024**4),
        ("1048576", 1024**2),
    ],
)
def test_mem_sizes(mem: str, size: int) -> None:
    node = parse(f'[push]\n[pipeline.main]\nrun = "x"\nmem = {mem}\n').pipelines["main"]
    assert node.params.mem == size


def test_nodes_may_be_inline_tables_and_dotted_keys() -> None:
    root = parse(
        """
        [push]
        [pipeline.main]
        lint = { ruff = { run = "ruff check ." }, mypy = { run = "mypy ." } }
        test.unit.run = "pytest"
        """
    ).pipelines["main"]
    assert child_names(root) == ["lint", "test"]
    assert at(root, "/lint/mypy").run == "mypy ."
    assert at(root, "/test/unit").run == "pytest"


def test_a_child_named_like_a_parameter_is_still_a_child() -> None:
    root = parse('[push]\n[pipeline.main.envs]\nrun = "printenv"\n').pipelines["main"]
    assert child_names(root) == ["envs"]


def test_an_env_table_may_be_written_as_its_own_section() -> None:
    root = parse(
        """
        [push]
        [pipeline.main]
        run = "pytest"
        [pipeline.main.env]
        HOME = "/tmp"
        """
    ).pipelines["main"]
    assert root.is_exec and root.params.env == {"HOME": "/tmp"}


@pytest.mark.parametrize(
    ("event", "duplicate"),
    [("pr", Duplicate.CANCEL_OLD), ("push", Duplicate.ALLOW), ("create-tag", Duplicate.ALLOW)],
)
def test_entry_defaults(event: str, duplicate: Duplicate) -> None:
    entry = only_entry(parse(f'[{event}]\n[pipeline.main]\nrun = "x"\n'), event)
    assert (entry.pipeline, entry.duplicate) == ("main", duplicate)
    assert (entry.filter, entry.command, entry.slack_channel) == (None, None, None)


@pytest.mark.parametrize("policy", list(Duplicate))
def test_every_duplicate_policy_is_accepted(policy: Duplicate) -> None:
    entry = only_entry(
        parse(f'[push]\nduplicate = "{policy}"\n[pipeline.main]\nrun = "x"\n'), "push"
    )
    assert entry.duplicate is policy


def test_entry_line_is_its_header() -> None:
    config = parse(
        """
        [pipeline.main]
        run = "x"

        [[push]]
        filter = "{branch} == main"

        [[push]]
        """
    )
    assert [entry.line for entry in config.entries_for("push")] == [4, 7]
    assert config.entries_for("push")[1].label == "[push] #2 (line 7)"


def test_conducto_style_generated_trees() -> None:
    config = parse(
        """
        [pr]
        command = "python pipeline.py pr"

        [[push]]
        filter = "{branch} == main"
        command = "python pipeline.py deploy"
        image = "python:3.12"

        [[push]]
        command = "python pipeline.py ci"
        """,
        file=".conducto.cfg",
    )
    assert config.file == ".conducto.cfg"
    assert config.pipelines == {}
    pr = only_entry(config, "pr")
    assert (pr.command, pr.pipeline, pr.image) == ("python pipeline.py pr", None, None)
    main, other = config.entries_for("push")
    assert (main.command, main.image) == ("python pipeline.py deploy", "python:3.12")
    assert other.command == "python pipeline.py ci"


def test_every_event_is_accepted() -> None:
    events = ["pr", "push", "create-branch", "delete-branch", "create-tag", "delete-tag"]
    text = "".join(f"[{event}]\n" for event in events) + '[pipeline.main]\nrun = "x"\n'
    assert [entry.event for entry in parse(text).entries] == events


def test_conducto_cfg_wins_over_the_dotted_name() -> None:
    assert CONFIG_FILES == ("conducto.cfg", ".conducto.cfg")
