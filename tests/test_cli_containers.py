"""A repository's own containers through the CLI, as a person types it: a pulled image, a
Dockerfile build and a service in one pipeline; ``ci-bot debug`` in its command and
interactive forms; services cleaned up after an engine is SIGKILLed mid-node."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker import DockerClient

from ci_bot.executors.base import LABEL_BOT, LABEL_EXECUTION, LABEL_PIPELINE, LABEL_SERVICE_OF
from ci_bot.store.store import Store
from tests.containers import ci_bot_command, remove_leftovers
from tests.gitrepos import make_repo
from tests.registries import PushImage, Registry
from tests.test_cli_run import Cli

pytestmark = pytest.mark.docker

SERVICE = """
[pipeline.ci.svc]
run = "wget -q -O - http://web:8080/index.html && echo $GREETING"
env = {{ GREETING = "hello-env" }}
secrets = ["TOKEN"]
[pipeline.ci.svc.services.web]
image = "{busybox}"
run = "mkdir -p /www && echo served-by-web > /www/index.html && httpd -f -p 8080 -h /www"
ready = "wget -q -O /dev/null http://127.0.0.1:8080/index.html"
"""


@pytest.fixture
def cli(tmp_path: Path, docker_engine: DockerClient, busybox_image: str) -> Iterator[Cli]:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("TOKEN=debug-token-31415\n")
    runner = Cli(tmp_path / "data", secrets)
    yield runner
    database = runner.data_dir / "ci-bot.sqlite"
    if database.exists():
        store = Store(f"sqlite:///{database}")
        pipeline_ids = [pipeline.id for pipeline in store.pipelines()]
        bot_id = store.instance_id()
        store.engine.dispose()
        leftovers = remove_leftovers(docker_engine, pipeline_ids, runner.data_dir)
        assert not leftovers, f"containers left behind: {leftovers}"
        assert not services_of(docker_engine, pipeline_ids, bot_id)


def services_of(client: DockerClient, pipeline_ids: list[int], bot_id: str) -> list[str]:
    """Service containers and networks still there for these pipelines of the bot
    ``bot_id`` (other bots on this engine number their pipelines alike)."""
    found = []
    for pipeline_id in pipeline_ids:
        labels = [LABEL_SERVICE_OF, f"{LABEL_PIPELINE}={pipeline_id}", f"{LABEL_BOT}={bot_id}"]
        containers = client.containers.list(
            all=True, filters={"label": labels}, ignore_removed=True
        )
        found += [c.name for c in containers]
        found += [n.name for n in client.networks.list(filters={"label": labels})]
    return found


def bot_id_of(cli: Cli) -> str:
    store = Store(f"sqlite:///{cli.data_dir / 'ci-bot.sqlite'}")
    try:
        return store.instance_id()
    finally:
        store.engine.dispose()


def containers_repo(tmp_path: Path, busybox: str, image: str) -> Path:
    repo = tmp_path / "repo"
    config = (
        f'[[push]]\npipeline = "ci"\n[pipeline.ci]\nimage = "{image}"\n'
        '[pipeline.ci.pulled]\nrun = "echo in-the-pulled-image > $CI_DATA/pulled.txt"\n'
        '[pipeline.ci.built]\nbuild = "ci/Dockerfile"\nrun = "cat /marker"\n'
        + SERVICE.format(busybox=busybox)
    )
    files = {
        "conducto.cfg": config,
        "ci/Dockerfile": f"FROM {busybox}\nRUN echo built-marker > /marker\n",
        "notes.txt": "from the commit\n",
    }
    make_repo(repo, files)
    return repo


def test_a_pipeline_pulls_builds_and_starts_services_with_progress_shown(
    cli: Cli,
    tmp_path: Path,
    busybox_image: str,
    public_registry: Registry,
    push_image: PushImage,
) -> None:
    image = push_image(public_registry, "cli:1")
    repo = containers_repo(tmp_path, busybox_image, image)

    done = cli("run", repo, "--branch", "main")

    assert done.returncode == 0, done.stdout + done.stderr
    shown = done.stdout + done.stderr
    assert f"/pulled  pulling {image} from {public_registry.host} anonymously" in shown
    assert "/built  building ci/Dockerfile as ci-bot-build:" in shown
    assert "/svc  service web is ready" in shown
    assert (cli.data(1) / "pulled.txt").read_text() == "in-the-pulled-image\n"
    pipeline = cli.json("show", "1", "--json")
    svc = next(n for n in pipeline["nodes"] if n["path"] == "/svc")
    execution = svc["executions"][0]["id"]
    log = (cli.data_dir / "pipelines" / "1" / "logs" / f"{execution}.log").read_text()
    assert "served-by-web" in log
    assert "hello-env" in log


def test_debug_runs_a_command_in_the_node_and_exits_with_its_code(
    cli: Cli, tmp_path: Path, busybox_image: str
) -> None:
    repo = containers_repo(tmp_path, busybox_image, busybox_image)
    assert cli("run", repo, "--branch", "main").returncode == 0
    script = (
        "cat notes.txt; cat $CI_DATA/pulled.txt; wget -q -O - http://web:8080/index.html; "
        'echo "token=${TOKEN:-none}"; exit 3'
    )

    plain = cli("debug", "1", "/svc", "--", "sh", "-c", script)
    secret = cli("debug", "1", "/svc", "--with-secrets", "--", "sh", "-c", "echo $TOKEN")

    assert plain.returncode == 3, plain.stderr
    assert plain.stdout.splitlines() == [
        "from the commit",
        "in-the-pulled-image",
        "served-by-web",
        "token=none",
    ]
    assert "secrets TOKEN withheld; --with-secrets gives them" in plain.stderr
    assert secret.returncode == 0, secret.stderr
    assert secret.stdout == "debug-token-31415\n"


def test_debug_live_mounts_the_local_checkout(cli: Cli, tmp_path: Path, busybox_image: str) -> None:
    repo = containers_repo(tmp_path, busybox_image, busybox_image)
    assert cli("run", repo, "--branch", "main").returncode == 0
    (repo / "notes.txt").write_text("edited here, not committed\n")

    env = cli.environment()
    live = subprocess.run(
        [*ci_bot_command(), "debug", "1", "/pulled", "--live", "--", "cat", "notes.txt"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert live.returncode == 0, live.stderr
    assert live.stdout == "edited here, not committed\n"


def test_debug_without_a_command_is_an_interactive_shell_on_a_tty(
    cli: Cli, tmp_path: Path, busybox_image: str
) -> None:
    repo = containers_repo(tmp_path, busybox_image, busybox_image)
    assert cli("run", repo, "--branch", "main").returncode == 0
    env = cli.environment()

    pid, terminal = pty.fork()
    if pid == 0:  # the child: ci-bot on the pty
        os.execve(ci_bot_command()[0], [*ci_bot_command(), "debug", "1", "/pulled"], env)
    output = read_until(terminal, b"#", 120)  # busybox sh's root prompt
    os.write(terminal, b"cat notes.txt; [ -t 0 ] && echo on-a-tty; exit 7\n")
    output += read_until(terminal, b"", 60)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 7, output
    assert b"from the commit" in output
    assert b"on-a-tty" in output


def read_until(fd: int, marker: bytes, seconds: float) -> bytes:
    """What ``fd`` printed until ``marker`` appears (b"": until it closes)."""
    output = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the pty
            return output
        if not chunk:
            return output
        output += chunk
        if marker and marker in output:
            return output
    pytest.fail(f"no {marker!r} within {seconds}s; got {output!r}")


def test_services_are_removed_after_a_sigkilled_engine_is_resumed(
    cli: Cli, tmp_path: Path, busybox_image: str, docker_engine: DockerClient
) -> None:
    repo = tmp_path / "repo"
    config = (
        f'[[push]]\npipeline = "ci"\n[pipeline.ci]\nimage = "{busybox_image}"\n'
        '[pipeline.ci.svc]\nrun = "sleep 3; wget -q -O - http://web:8080/index.html"\n'
        f'[pipeline.ci.svc.services.web]\nimage = "{busybox_image}"\n'
        'run = "mkdir -p /www && echo up > /www/index.html && httpd -f -p 8080 -h /www"\n'
    )
    make_repo(repo, {"conducto.cfg": config})
    env = cli.environment()
    engine = subprocess.Popen(
        [*ci_bot_command(), "run", str(repo), "--branch", "main"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_exec_container(docker_engine, cli.data_dir)

    engine.send_signal(signal.SIGKILL)
    engine.wait(30)
    bot_id = bot_id_of(cli)
    assert services_of(docker_engine, [1], bot_id)  # the dead engine left them

    resumed = cli("resume", "1")

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert services_of(docker_engine, [1], bot_id) == []


def wait_for_exec_container(client: DockerClient, data_dir: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = client.containers.list(
            filters={"label": [LABEL_EXECUTION, f"{LABEL_PIPELINE}=1"]}, ignore_removed=True
        )
        mounts = [m.get("Source", "") for c in running for m in c.attrs.get("Mounts", [])]
        if any(source.startswith(str(data_dir.resolve())) for source in mounts):
            return
        time.sleep(0.2)
    pytest.fail("the node's container never started")
