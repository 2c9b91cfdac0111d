"""DockerExecutor.run against a real engine: outcomes, environment, workspace, limits."""

from __future__ import annotations

import gc
import re
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from docker import DockerClient

from ci_bot.executors.base import LABEL_PIPELINE, ExecResult, ExecSpec
from ci_bot.executors.docker import DockerExecutor
from ci_bot.executors.workspace import LABEL_BASE_IMAGE
from tests.executors.support import MakeSpec, containers_of, events_since, log_lines

pytestmark = pytest.mark.docker

TIMESTAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


@pytest.mark.parametrize(
    ("command", "state", "exit_code", "message"),
    [("exit 0", "done", 0, ""), ("echo oops >&2; exit 3", "error", 3, "exited with code 3")],
)
def test_exit_code_decides_the_state(
    executor: DockerExecutor,
    make_spec: MakeSpec,
    command: str,
    state: str,
    exit_code: int,
    message: str,
) -> None:
    result = executor.run(make_spec(command))

    assert (result.state, result.exit_code, result.message) == (state, exit_code, message)


def test_every_log_line_is_timestamped(executor: DockerExecutor, make_spec: MakeSpec) -> None:
    spec = make_spec("echo one; sleep 0.2; echo two >&2; printf 'no newline'; exit 1")

    executor.run(spec)

    lines = spec.log_path.read_text().splitlines()
    assert [TIMESTAMPED.sub("", line) for line in lines] == [
        "one",
        "two",
        "no newline",
        "[ci-bot] exited with code 1",
    ]
    assert all(TIMESTAMPED.match(line) for line in lines)


def test_env_and_ci_dirs_are_visible(
    executor: DockerExecutor, make_spec: MakeSpec, tmp_path: Path
) -> None:
    spec = make_spec(
        'echo "$GREETING|$CI_EVENT|$CI_DATA|$CI_CACHE|$(pwd)"; echo kept > "$CI_CACHE/pip"',
        env={"GREETING": "hello world", "CI_EVENT": "push"},
    )

    assert executor.run(spec).state == "done"

    assert log_lines(spec) == ["hello world|push|/ci/data|/ci/cache|/workspace"]
    assert (tmp_path / "cache" / "pip").read_text() == "kept\n"


def test_secrets_never_reach_the_log_file(executor: DockerExecutor, make_spec: MakeSpec) -> None:
    # The second secret is printed in two writes, half a second apart.
    spec = make_spec(
        'echo "token is $API_TOKEN"; printf "pw=hunter"; sleep 0.5; printf "2-two end\\n"',
        secrets={"API_TOKEN": "tok-3141592653", "PASSWORD": "hunter2-two"},
    )

    assert executor.run(spec).state == "done"

    raw = spec.log_path.read_bytes()
    assert b"tok-3141592653" not in raw
    assert b"hunter" not in raw
    assert log_lines(spec) == ["token is ***", "pw=*** end"]


def test_data_dir_carries_files_from_one_run_to_the_next(
    executor: DockerExecutor, make_spec: MakeSpec, tmp_path: Path
) -> None:
    build = make_spec('echo artifact-1 > "$CI_DATA/app.bin"')
    test = make_spec('cat "$CI_DATA/app.bin"')

    assert executor.run(build).state == "done"
    assert executor.run(test).state == "done"

    assert log_lines(test) == ["artifact-1"]
    assert (tmp_path / "data" / "app.bin").read_text() == "artifact-1\n"


def test_workspace_is_pristine_and_built_once_per_pipeline_and_image(
    executor: DockerExecutor,
    make_spec: MakeSpec,
    docker_engine: DockerClient,
    pipeline_id: str,
) -> None:
    since = time.time()
    vandal = make_spec('rm a.txt && echo changed > b.txt && touch "$CI_DATA/vandal-done"; sleep 1')
    sibling = make_spec(
        'i=0; until [ -e "$CI_DATA/vandal-done" ]; do sleep 0.1; i=$((i+1)); '
        "[ $i -gt 150 ] && exit 9; done; cat a.txt b.txt"
    )
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(executor.run, [vandal, sibling]))
    later = make_spec("cat a.txt b.txt src/main.sh")

    assert [r.state for r in [*results, executor.run(later)]] == ["done"] * 3

    assert log_lines(sibling) == ["alpha", "beta"]
    assert log_lines(later) == ["alpha", "beta", "echo main"]
    commits = events_since(
        docker_engine,
        since,
        type="container",
        event="commit",
        label=f"{LABEL_PIPELINE}={pipeline_id}",
    )
    assert len(commits) == 1


def test_each_image_gets_its_workspace_kept_on_release_and_removed_on_discard(
    executor: DockerExecutor,
    make_spec: MakeSpec,
    docker_engine: DockerClient,
    pipeline_id: str,
    python_image: str,
) -> None:
    assert executor.run(make_spec("cat a.txt")).state == "done"
    spec = make_spec("python3 -c \"print(open('b.txt').read().strip())\"", image=python_image)
    assert executor.run(spec).state == "done"
    assert log_lines(spec) == ["beta"]

    def workspace_images() -> list[str]:
        labels = [f"{LABEL_PIPELINE}={pipeline_id}", LABEL_BASE_IMAGE]
        return sorted(str(i.id) for i in docker_engine.images.list(filters={"label": labels}))

    built = workspace_images()
    assert len(built) == 2
    executor.release_pipeline(pipeline_id)  # settled: a reset node starts on them again
    assert workspace_images() == built
    executor.discard_pipeline(pipeline_id)  # archived
    assert workspace_images() == []


def test_limits_are_applied_and_no_socket_or_privilege(
    executor: DockerExecutor, make_spec: MakeSpec, docker_engine: DockerClient
) -> None:
    host_configs: list[dict[str, object]] = []
    spec = make_spec("test ! -e /var/run/docker.sock", cpu=0.5, mem_bytes=64 * 2**20)

    result = executor.run(spec, lambda cid: host_configs.append(_host_config(docker_engine, cid)))

    assert result.state == "done"
    (config,) = host_configs
    assert (config["NanoCpus"], config["Memory"], config["Privileged"]) == (5 * 10**8, 2**26, False)
    assert config["PidsLimit"] == 4096


def _host_config(client: DockerClient, container_id: str) -> dict[str, object]:
    return dict(client.containers.get(container_id).attrs["HostConfig"])


def test_timeout_kills_and_removes_the_container(
    executor: DockerExecutor, make_spec: MakeSpec, docker_engine: DockerClient
) -> None:
    spec = make_spec("echo waiting; sleep 60; echo woke up", timeout_seconds=2)

    result = executor.run(spec)

    # Killed, not waited for: the log stops before "woke up" (no clock is read).
    assert (result.state, result.message) == ("error", "timed out after 2s")
    assert executor.wait_for_removals(30)
    assert containers_of(docker_engine, spec) == []
    assert log_lines(spec) == ["waiting", "[ci-bot] timed out after 2s"]


def test_kill_cancels_a_running_execution(
    executor: DockerExecutor, make_spec: MakeSpec, docker_engine: DockerClient
) -> None:
    spec = make_spec("sleep 60")
    started = threading.Event()
    results: list[ExecResult] = []
    thread = threading.Thread(target=lambda: results.append(executor.run(spec, _set(started))))
    thread.start()
    assert started.wait(30)

    executor.kill(spec.execution_id)
    thread.join(30)

    assert results[0].state == "cancelled"
    assert executor.wait_for_removals(30)
    assert containers_of(docker_engine, spec) == []


def test_kill_before_start_means_it_never_starts(
    executor: DockerExecutor, make_spec: MakeSpec
) -> None:
    spec = make_spec("echo should not run")
    started = threading.Event()
    executor.kill(spec.execution_id)

    result = executor.run(spec, _set(started))

    assert result.state == "cancelled"
    assert not started.is_set()


def _set(event: threading.Event) -> Callable[[str], None]:
    return lambda _container_id: event.set()


def test_out_of_memory_is_the_nodes_error(executor: DockerExecutor, make_spec: MakeSpec) -> None:
    spec = make_spec("head -c 100m /dev/zero | tail", mem_bytes=16 * 2**20)

    result = executor.run(spec)

    assert result.state == "error"
    assert result.message == "ran out of memory (limit 16m); raise `mem` for this node"


def test_missing_image_with_pull_never_is_a_worker_error_and_nothing_is_pulled(
    executor: DockerExecutor, make_spec: MakeSpec, docker_engine: DockerClient
) -> None:
    since = time.time()
    spec = make_spec("true", image="ci-bot-test/never-built:1.0", pull="never")

    result = executor.run(spec)

    assert result.state == "worker_error"
    assert result.message == (
        "image ci-bot-test/never-built:1.0 is not on the Docker engine, "
        'and pull = "never" forbids pulling it'
    )
    assert events_since(docker_engine, since, type="image", event="pull") == []
    assert "never-built" in spec.log_path.read_text()


def test_docker_socket_is_refused_unless_allowed(
    executor: DockerExecutor, make_spec: MakeSpec, docker_engine: DockerClient
) -> None:
    spec = make_spec("test -S /var/run/docker.sock", requires_docker=True)
    started = threading.Event()

    refused = executor.run(spec, _set(started))
    allowing = DockerExecutor(docker_engine, allow_docker_socket=True)
    allowed = allowing.run(spec)
    assert allowing.wait_for_removals(30)

    assert refused.state == "error"
    assert "allow_docker_socket" in refused.message
    assert not started.is_set()
    assert allowed.state == "done"


def test_unreachable_engine_is_a_worker_error(tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/no-such-docker.sock"
    spec = ExecSpec(
        pipeline_id="p",
        node_path="/n",
        execution_id="e",
        image="ci-bot-test/busybox:latest",
        command="true",
        source_dir=tmp_path,
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        log_path=tmp_path / "n.log",
    )

    # docker-py leaks the socket of a failed connect (transport/unixconn.py); collect it here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        result = DockerExecutor(base_url=url).run(spec)
        gc.collect()

    assert result.state == "worker_error"
    assert result.message.startswith(f"the Docker engine at {url} could not be reached (")
    assert "scripts/ensure-docker.sh" in result.message
