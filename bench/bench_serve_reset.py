"""A reset while ``ci-bot serve`` runs: the node runs again at once, in the same process.

    .venv/bin/python bench/run.py --only serve_reset [--quick]

The issue asks that a reset from the UI, GitHub or Slack while ``serve`` runs start
the container "in well under a second".  All three end in the same in-process call
(``web/ui/actions.perform``), which wakes the serving engine.  This row posts the
UI's reset of one leaf of a finished 50-node pipeline to serve's JSON API (as the
page's button does) and times it until the pipeline is done again: the HTTP request,
the wish, the engine waking, the container's create/start/wait/remove and the
result stored.  The baseline is one ``docker run`` of the same image, run alternately.
The pipeline's state is polled through the API every 10 ms, so up to that much of the
figure is the poll's.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_engine import RESET_NODES, Bot, ci_bot_command, cleanup, config, docker_run, make_repo  # noqa: E402
from harness import Row, interleave, timed  # noqa: E402

TOKEN = "bench-ui-token-0123456789"
POLL_SECONDS = 0.01
LIMIT_SECONDS = 120.0  # give up (and say so) rather than hang


class Serve:
    """``ci-bot serve`` on a free port over ``bot``'s data dir."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.log = bot.data_dir / "serve.log"

    def __enter__(self) -> Serve:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {**self.bot.env, "CI_BOT_UI_TOKENS": TOKEN, "CI_BOT_GITHUB_WEBHOOK_SECRET": TOKEN}
        self._log = open(self.log, "wb")
        self.process = subprocess.Popen(
            [*ci_bot_command(), "serve", "--port", str(self.port)],
            env=env,
            stdout=self._log,
            stderr=self._log,
        )
        deadline = time.perf_counter() + LIMIT_SECONDS
        while not self._healthy():
            if self.process.poll() is not None or time.perf_counter() > deadline:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"ci-bot serve did not start:\n{tail}")
            time.sleep(0.1)
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        self.process.wait(60)
        self._log.close()

    def _healthy(self) -> bool:
        try:
            return self.request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def request(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        try:
            data = None if body is None else json.dumps(body)
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        return response.status, json.loads(raw) if raw.startswith(b"{") else raw

    def reset_until_done(self, pipeline_id: int, path: str) -> None:
        status, answer = self.request("POST", f"/api/pipelines/{pipeline_id}/reset", {"path": path})
        if status != 200:
            raise RuntimeError(f"the reset was refused ({status}): {answer}")
        deadline = time.perf_counter() + LIMIT_SECONDS
        while True:
            _, shown = self.request("GET", f"/api/pipelines/{pipeline_id}")
            state = shown.get("state") if isinstance(shown, dict) else None
            if state == "done":
                return
            if state not in ("running", "queued", "pending") or time.perf_counter() > deadline:
                raise RuntimeError(f"the pipeline ended {state} after the reset: see {self.log}")
            time.sleep(POLL_SECONDS)


def run(quick: bool) -> list[Row]:
    rounds = 3 if quick else 7
    with tempfile.TemporaryDirectory(prefix="bench-serve-reset-") as folder:
        root = Path(folder)
        repo = make_repo(root / "wide", config(RESET_NODES, parallel=True))
        bot = Bot(root, CI_BOT_MAX_PARALLEL="4")
        pipeline_id = bot.run(repo)
        leaf = f"/n{RESET_NODES // 2:02d}"
        with Serve(bot) as serve:
            serve.reset_until_done(pipeline_id, leaf)  # the first: serve's lazy imports
            mine, theirs = interleave(
                rounds,
                lambda: timed(lambda: serve.reset_until_done(pipeline_id, leaf)),
                lambda: timed(
                    lambda: subprocess.run(docker_run(), check=True, capture_output=True)
                ),
            )
        cleanup([bot])
    return [
        Row(
            f"reset one leaf of a finished {RESET_NODES}-node pipeline while serve runs "
            "(UI/API reset until done)",
            mine,
            theirs,
            target=1.5,
            baseline_label="docker run",
            notes=[f"polled every {POLL_SECONDS * 1000:.0f} ms through the API; same engine"],
        )
    ]


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print("\n".join(row.lines()), flush=True)
