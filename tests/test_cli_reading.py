"""Reading pipelines from a shell: ``ci-bot log`` (an execution, its time stamps, and ``-f``
following a running node to its end) and ``ci-bot artifacts`` (the files in $CI_DATA with
their signatures and provenance, listed and downloaded).

Real subprocesses, real containers, real ssh-keygen signatures.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from docker import DockerClient

from ci_bot.store.store import Store
from tests.containers import ci_bot_command, remove_leftovers
from tests.gitrepos import make_repo
from tests.test_cli_run import Cli

pytestmark = pytest.mark.docker

CONFIG = """
[[push]]
pipeline = "ci"
[pipeline.ci]
image = "{image}"
[pipeline.ci.build]
run = '''
mkdir -p $CI_DATA/dist
printf 'artifact body\\n' > $CI_DATA/dist/app.txt
echo notes > $CI_DATA/notes.txt
ln -s /etc/passwd $CI_DATA/dist/escape
echo built
'''
sign = ["dist/app.txt"]
[pipeline.ci.count]
run = '''
i=1
while [ $i -le 5 ]; do echo "line $i"; i=$((i+1)); [ -f $CI_DATA/fast ] || sleep 1; done
[ -f $CI_DATA/fast ] || exit 3
'''
"""


class KeyedCli(Cli):
    """``ci-bot`` with a signing key, so ``sign`` signs."""

    key: Path

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CI_BOT_")}
        env.update(
            CI_BOT_DATA_DIR=str(self.data_dir),
            CI_BOT_SECRETS_FILE=str(self.secrets_file),
            CI_BOT_SIGNING_KEY=str(self.key),
        )
        return env

    def __call__(self, *args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*ci_bot_command(), *map(str, args)],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def cli(tmp_path: Path, docker_engine: DockerClient, busybox_image: str) -> Iterator[KeyedCli]:
    secrets = tmp_path / "secrets.env"
    secrets.write_text("")
    key = tmp_path / "signing"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    runner = KeyedCli(tmp_path / "data", secrets)
    runner.key = key
    yield runner
    database = runner.data_dir / "ci-bot.sqlite"
    if database.exists():
        store = Store(f"sqlite:///{database}")
        pipeline_ids = [pipeline.id for pipeline in store.pipelines()]
        store.engine.dispose()
        leftovers = remove_leftovers(docker_engine, pipeline_ids, runner.data_dir)
        assert not leftovers, f"containers left behind: {leftovers}"


@pytest.fixture
def repo(tmp_path: Path, busybox_image: str) -> Path:
    path = tmp_path / "app"
    make_repo(path, {"conducto.cfg": CONFIG.format(image=busybox_image)})
    return path


def wait_for_pipeline(data_dir: Path) -> None:
    """Until ``ci-bot run`` has stored pipeline 1 (its nodes have not run yet)."""
    database = data_dir / "ci-bot.sqlite"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        # Read only, never through Store: opening one would race ci-bot's own schema setup.
        try:
            with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
                if db.execute("SELECT count(*) FROM pipelines").fetchone()[0]:
                    return
        except sqlite3.Error:
            pass  # not made yet
        time.sleep(0.2)
    pytest.fail("ci-bot run stored no pipeline")


def test_log_follows_a_running_node_to_its_end_and_reads_any_execution(
    cli: KeyedCli, repo: Path
) -> None:
    run = subprocess.Popen(
        [*ci_bot_command(), "run", str(repo)],
        env=cli.environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_pipeline(cli.data_dir)
        followed = cli("log", "1", "/count", "-f", timeout=180)  # waits for it to start
    finally:
        run.wait(180)

    assert followed.returncode == 0, followed.stderr
    assert followed.stdout == "".join(f"line {i}\n" for i in range(1, 6)) + (
        "[ci-bot] exited with code 3\n"
    )
    assert run.returncode == 1
    (cli.data(1) / "fast").touch()
    assert cli("reset", "1", "/count").returncode == 0
    assert cli("resume", "1").returncode == 0

    second = cli("log", "1", "/count")
    first = cli("log", "1", "/count", "--execution", "1", "--timestamps")

    assert second.stdout == "".join(f"line {i}\n" for i in range(1, 6))
    stamped = first.stdout.splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z line 1", stamped[0])
    assert stamped[-1].endswith(" [ci-bot] exited with code 3")
    missing = cli("log", "1", "/count", "--execution", "3")
    assert missing.stderr.strip() == "Error: /count has 2 executions, no 3"


def test_artifacts_lists_and_downloads_the_files_with_their_signatures(
    cli: KeyedCli, repo: Path, tmp_path: Path
) -> None:
    (repo / "conducto.cfg").write_text(
        (repo / "conducto.cfg").read_text().replace("[ -f $CI_DATA/fast ] ||", "true ||")
    )
    assert cli("run", repo).returncode == 0

    listed = cli("artifacts", "1")
    as_json = json.loads(cli("artifacts", "1", "--json").stdout)
    downloaded = cli("artifacts", "1", "--download", tmp_path / "out")

    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert re.fullmatch(r"pipeline 1: 2 files in \$CI_DATA, \S+ \S+ with signatures.*", lines[0])
    assert re.fullmatch(
        r"dist/app\.txt +14 B  signed: dist/app\.txt\.sig, dist/app\.txt\.provenance\.json, "
        r"dist/app\.txt\.provenance\.json\.sig",
        lines[1],
    )
    assert re.fullmatch(r"notes\.txt +6 B", lines[2])
    assert [item["path"] for item in as_json] == ["dist/app.txt", "notes.txt"]
    assert as_json[0]["signature"]["path"] == "dist/app.txt.sig"
    assert downloaded.stdout.splitlines()[-1] == f"copied 5 files into {tmp_path / 'out'}"
    out = tmp_path / "out"
    assert (out / "dist" / "app.txt").read_text() == "artifact body\n"
    provenance = json.loads((out / "dist" / "app.txt.provenance.json").read_text())
    assert provenance["pipeline_id"] == 1 and provenance["dirty"] is True
    assert not (out / "dist" / "escape").exists(), "a link in $CI_DATA is never followed"
    assert sorted(p.name for p in (out / "dist").iterdir()) == [
        "app.txt",
        "app.txt.provenance.json",
        "app.txt.provenance.json.sig",
        "app.txt.sig",
    ]
