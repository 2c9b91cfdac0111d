"""``ci-bot debug``: a container of a node as the pipeline saw it, for a person at a terminal.

The container gets the node's image (pulled or built as for a run), its pristine
/workspace (or, ``live``, the person's own checkout mounted there, as Conducto's
``livedebug``), the pipeline's $CI_DATA and $CI_CACHE, the node's environment and
its services, ready. It runs through the ``docker`` command so the person's
terminal is the container's: with no command, an interactive shell on a TTY.
Values travel in the child's environment (``-e NAME``), never on a command line.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from ci_bot.errors import ExecutorError
from ci_bot.executors.base import LABEL_BOT, LABEL_NODE, LABEL_PIPELINE, ExecSpec
from ci_bot.executors.privileges import CAPABILITIES
from ci_bot.executors.workspace import WORKSPACE

logger = logging.getLogger(__name__)

LABEL_DEBUG = "ci-bot.debug"
# bash where the image has it, else sh.
SHELL = ["sh", "-c", "if command -v bash >/dev/null; then exec bash; else exec sh; fi"]


def docker_run_argv(
    spec: ExecSpec,
    image_id: str,
    command: Sequence[str],
    *,
    tty: bool,
    network: str | None,
    live: Path | None,
) -> list[str]:
    """The ``docker run`` command line: names only, the values come from the environment."""
    docker = shutil.which("docker")
    if docker is None:
        raise ExecutorError("`ci-bot debug` needs the docker command (Debian's docker.io)")
    argv = [docker, "run", "--rm", "-i", *(["-t"] if tty else [])]
    argv += ["--workdir", WORKSPACE, "--pids-limit", str(spec.pids_limit or 4096)]
    argv += ["--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
    argv += [f"--cap-add={capability}" for capability in CAPABILITIES]
    argv += ["--label", f"{LABEL_DEBUG}={spec.execution_id}"]
    argv += [
        "--label",
        f"{LABEL_PIPELINE}={spec.pipeline_id}",
        "--label",
        f"{LABEL_NODE}={spec.node_path}",
    ]
    if spec.bot_id:
        argv += ["--label", f"{LABEL_BOT}={spec.bot_id}"]
    for host_dir, target in ((spec.data_dir, "/ci/data"), (spec.cache_dir, "/ci/cache")):
        host_dir.mkdir(parents=True, exist_ok=True)
        argv += ["--mount", f"type=bind,source={host_dir.resolve()},target={target}"]
    if live is not None:
        argv += ["--mount", f"type=bind,source={live.resolve()},target={WORKSPACE}"]
    if network:
        argv += ["--network", network]
    if spec.cpu:
        argv += ["--cpus", str(spec.cpu)]
    if spec.mem_bytes:
        argv += ["--memory", str(spec.mem_bytes)]
    for name in debug_env(spec):
        argv += ["--env", name]
    return [*argv, image_id, *(command or SHELL)]


def debug_env(spec: ExecSpec) -> dict[str, str]:
    return {**spec.env, **spec.secrets, "CI_DATA": "/ci/data", "CI_CACHE": "/ci/cache"}


def run_docker(argv: list[str], env: Mapping[str, str], engine_url: str | None) -> int:
    """Run ``argv`` on this terminal; its exit code."""
    child_env = {**os.environ, **env}
    if engine_url:
        child_env["DOCKER_HOST"] = engine_url
    logger.info("docker run (debug): %d arguments", len(argv))
    return subprocess.run(argv, env=child_env, check=False).returncode
