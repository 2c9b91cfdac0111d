"""``reuse`` and ``sign`` with real containers (design doc §2): what Docker saw start,
what ends up in $CI_DATA, and signatures checked with ``ssh-keygen -Y verify``."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ci_bot.executors.base import LABEL_BOT, LABEL_PIPELINE
from ci_bot.store.views import pipeline_json
from ci_bot.tree.states import State
from tests.engine.bots import Bot, config, log
from tests.gitrepos import commit_files, make_repo

pytestmark = pytest.mark.docker

BUILD = """
[pipeline.main.build]
run = '''
mkdir -p "$CI_DATA/dist"
cat src/*.sh > "$CI_DATA/dist/app.tar.gz"
echo "built in pipeline $CI_PIPELINE_ID" > "$CI_DATA/dist/origin"
'''
reuse = { inputs = ["src/**"], outputs = ["dist"] }
"""
USE = """
[pipeline.main.use]
run = 'cat "$CI_DATA/dist/app.tar.gz" "$CI_DATA/dist/origin"'
"""


def exec_json(bot: Bot, pipeline_id: int, path: str) -> dict[str, object]:
    [node] = [n for n in pipeline_json(bot.store, pipeline_id)["nodes"] if n["path"] == path]
    [execution] = node["executions"]
    assert isinstance(execution, dict)
    return execution


def containers_created(bot: Bot, pipeline_id: int, since: float) -> list[str]:
    """What Docker created for this bot's pipeline since then: Exec, service and
    workspace-builder containers all carry the pipeline's and the bot's labels."""
    labels = [f"{LABEL_PIPELINE}={pipeline_id}", f"{LABEL_BOT}={bot.store.instance_id()}"]
    found = bot.docker.events(  # type: ignore[call-overload]
        since=since,
        until=time.time() + 0.2,
        decode=True,
        filters={"type": "container", "event": ["create"], "label": labels},
    )
    return [str(event["Actor"]["ID"]) for event in found]


def test_a_fully_reused_pipeline_creates_no_container_and_no_workspace_image(bot: Bot) -> None:
    both = BUILD + BUILD.replace("main.build", "main.pack").replace("dist", "pack")
    repo = bot.repo(config(both), {"src/app.sh": "echo v1\n"})
    start = time.time()
    first = bot.launch(repo)
    assert bot.run(first).state is State.DONE
    assert containers_created(bot, first, start)  # what the second must do without

    since = time.time()
    second = bot.launch(repo)
    assert bot.run(second).state is State.DONE

    assert containers_created(bot, second, since) == []  # not even to build /workspace
    assert [bot.only(second, path).reused_from for path in ("/build", "/pack")] == [
        bot.only(first, "/build").id,
        bot.only(first, "/pack").id,
    ]


def test_unchanged_inputs_reuse_the_result_and_a_changed_input_runs_again(bot: Bot) -> None:
    repo = bot.repo(config(BUILD + USE), {"src/app.sh": "echo v1\n", "README.md": "one\n"})
    first = bot.launch(repo)
    assert bot.run(first).state is State.DONE

    (repo / "README.md").write_text("not an input\n")
    since = time.time()
    second = bot.launch(repo)
    assert bot.run(second).state is State.DONE

    assert bot.starts(second, since) == ["/use"]  # no container for /build
    build = exec_json(bot, second, "/build")
    first_build = bot.only(first, "/build")
    assert build["reused_from"] == first_build.id and build["state"] == "done"
    assert build["message"] == (
        f"reused the result of pipeline {first}'s execution {first_build.id} "
        "(same image, command, env and inputs)"
    )
    assert log(bot.only(second, "/use")) == ["echo v1", f"built in pipeline {first}"]
    assert (bot.data(second) / "dist" / "origin").read_text() == f"built in pipeline {first}\n"

    (repo / "src" / "app.sh").write_text("echo v2\n")
    since = time.time()
    third = bot.launch(repo)
    assert bot.run(third).state is State.DONE

    assert bot.starts(third, since) == ["/build", "/use"]
    assert exec_json(bot, third, "/build")["reused_from"] is None
    assert log(bot.only(third, "/use")) == ["echo v2", f"built in pipeline {third}"]


def test_a_reset_of_a_reused_node_runs_its_container(bot: Bot) -> None:
    repo = bot.repo(config(BUILD), {"src/app.sh": "echo v1\n"})
    assert bot.run(bot.launch(repo)).state is State.DONE
    second = bot.launch(repo)
    assert bot.run(second).state is State.DONE
    assert bot.only(second, "/build").reused_from is not None

    bot.store.reset(second, "/build")
    since = time.time()
    assert bot.run(second).state is State.DONE

    assert bot.starts(second, since) == ["/build"]
    origin = (bot.data(second) / "dist" / "origin").read_text()
    assert origin == f"built in pipeline {second}\n"


# --- sign ---------------------------------------------------------------------------------------

SIGNED = BUILD + 'sign = ["dist/*.tar.gz"]\n'
CHECK = """
[pipeline.main.check]
run = 'test -s "$CI_DATA/dist/app.tar.gz.sig" && echo "signed before the next node ran"'
"""


@pytest.fixture
def signing_key(tmp_path: Path) -> Path:
    key = tmp_path / "signing-key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci-bot", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    return key


def verify(signing_key: Path, tmp_path: Path, artifact: Path) -> str:
    """``ssh-keygen -Y verify`` with an allowed_signers file holding the bot's public key."""
    public = signing_key.with_suffix(".pub").read_text().strip()
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'ci-bot namespaces="ci-bot" {public}\n')
    command = ["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "ci-bot", "-n", "ci-bot"]
    with artifact.open("rb") as data:
        done = subprocess.run(
            [*command, "-s", f"{artifact}.sig"], stdin=data, capture_output=True, text=True
        )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_signed_artifacts_verify_and_their_provenance_names_the_commit(
    make_bot: Callable[..., Bot], signing_key: Path, tmp_path: Path
) -> None:
    bot = make_bot(signing_key=signing_key)
    repo = bot.root / "repos" / "app"
    sha = make_repo(repo, {"conducto.cfg": config(SIGNED + CHECK), "src/app.sh": "echo v1\n"})
    pipeline_id = bot.launch(repo)

    assert bot.run(pipeline_id).state is State.DONE

    artifact = bot.data(pipeline_id) / "dist" / "app.tar.gz"
    assert 'Good "ci-bot" signature' in verify(signing_key, tmp_path, artifact)
    record = json.loads(Path(f"{artifact}.provenance.json").read_text())
    build = bot.only(pipeline_id, "/build")
    assert (record["sha"], record["repo"], record["pipeline_id"]) == (sha, "app", pipeline_id)
    assert (record["node_path"], record["execution_id"]) == ("/build", build.id)
    assert record["reused_from"] is None and record["artifact"] == "dist/app.tar.gz"
    assert record["signing_key"].startswith("SHA256:")
    assert log(bot.only(pipeline_id, "/check")) == ["signed before the next node ran"]
    assert any(line.startswith("[ci-bot] signed dist/app.tar.gz") for line in log(build))
    assert signing_key.read_text().splitlines()[1] not in Path(build.log_path).read_text()

    # A later commit that leaves the inputs alone reuses the build, and signs it anew.
    later = commit_files(repo, {"README.md": "docs only\n"}, "docs")
    again = bot.launch(repo)
    assert bot.run(again).state is State.DONE

    artifact = bot.data(again) / "dist" / "app.tar.gz"
    verify(signing_key, tmp_path, artifact)
    record = json.loads(Path(f"{artifact}.provenance.json").read_text())
    assert (record["sha"], record["pipeline_id"]) == (later, again)
    assert record["reused_from"] == build.id


def test_sign_without_a_key_is_an_error_saying_what_to_do(bot: Bot) -> None:
    repo = bot.repo(config(SIGNED + CHECK), {"src/app.sh": "echo v1\n"})
    pipeline_id = bot.launch(repo)
    since = time.time()

    pipeline = bot.run(pipeline_id)

    build = bot.only(pipeline_id, "/build")
    assert (pipeline.state, build.state, build.exit_code) == (State.ERROR, State.ERROR, 0)
    assert build.message.startswith(
        "sign: no signing key; set CI_BOT_SIGNING_KEY to an OpenSSH ed25519 private key file"
    )
    assert log(build)[-1] == f"[ci-bot] {build.message}"
    assert bot.starts(pipeline_id, since) == ["/build"]  # /check never ran
    # A build whose signing failed is not offered for reuse: the next one runs again.
    since = time.time()
    assert bot.run(bot.launch(repo)).state is State.ERROR
    assert bot.starts(pipeline_id + 1, since) == ["/build"]
