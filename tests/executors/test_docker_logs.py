"""A started node's output, followed through Docker's attach stream into its log."""

from __future__ import annotations

import docker
import pytest

from ci_bot.executors.docker import DockerExecutor
from tests.executors.support import MakeSpec, log_lines

pytestmark = pytest.mark.docker

TOKEN = "tok-hunter22-XYZ"


def test_many_short_lines_each_get_a_stamp_in_order(
    executor: DockerExecutor, make_spec: MakeSpec
) -> None:
    spec = make_spec("seq 20000")

    result = executor.run(spec)

    assert result.state == "done"
    assert log_lines(spec) == [str(n) for n in range(1, 20001)]


def test_bytes_pass_as_they_are(executor: DockerExecutor, make_spec: MakeSpec) -> None:
    spec = make_spec(r"printf 'a\rb\r100%%\n\377\376 not utf-8\n\ttab\n'")

    executor.run(spec)

    lines = spec.log_path.read_bytes().split(b"\n")[:-1]
    assert [line.split(b" ", 1)[1] for line in lines] == [
        b"a\rb\r100%",
        b"\xff\xfe not utf-8",
        b"\ttab",
    ]


def test_a_secret_in_bulk_output_is_masked_on_every_line(
    executor: DockerExecutor, make_spec: MakeSpec
) -> None:
    script = 'i=0; while [ $i -lt 3000 ]; do echo "x $TOKEN y $i"; i=$((i+1)); done'
    spec = make_spec(script, secrets={"TOKEN": TOKEN})

    executor.run(spec)

    assert log_lines(spec) == [f"x *** y {n}" for n in range(3000)]
    assert b"hunter22" not in spec.log_path.read_bytes()


def test_a_node_quiet_for_longer_than_the_clients_timeout_is_followed(
    make_spec: MakeSpec,
) -> None:
    client = docker.from_env(timeout=2)
    try:
        spec = make_spec("echo before; sleep 4; echo after")
        executor = DockerExecutor(client)
        result = executor.run(spec)
        assert executor.wait_for_removals(30)
    finally:
        client.close()

    assert result.state == "done", result.message
    assert log_lines(spec) == ["before", "after"]
