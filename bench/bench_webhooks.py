"""The webhook handler's time does not depend on the repository: it only stores and queues.

    .venv/bin/python bench/bench_webhooks.py [--files 3000] [--mb 50] [--deliveries 50]

Two bare repositories, one tiny and one large (many files and a big blob), are
each sent signed ``pull_request`` deliveries through the real Flask app.  The
request's time is measured, then the worker job's (fetch, read the config,
materialize, launch), which is where the repository's size shows.  Prints the
numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from ci_bot.executors.fake import FakeExecutor
from ci_bot.services import open_services
from ci_bot.settings import Settings
from ci_bot.web.app import create_app

SECRET = "bench-secret"
CONFIG = '[pr]\npipeline = "ci"\n[pipeline.ci]\nimage = "x"\n[pipeline.ci.a]\nrun = "true"\n'
ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(path: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(path), *args], env=ENV, check=True, capture_output=True)
    return done.stdout.decode().strip()


def make_remote(root: Path, files: int, megabytes: int) -> tuple[str, str]:
    work, bare = root / "work", root / "remote.git"
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "main")
    (work / "conducto.cfg").write_text(CONFIG)
    for number in range(files):
        (work / f"src/{number % 50}").mkdir(parents=True, exist_ok=True)
        (work / f"src/{number % 50}/f{number}.py").write_text(f"x = {number}\n" * 20)
    if megabytes:
        (work / "blob.bin").write_bytes(os.urandom(megabytes * 1024 * 1024))
    git(work, "add", "-A")
    git(work, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "init")
    git(root, "init", "-q", "--bare", str(bare))
    git(work, "push", "-q", str(bare), "main:main", "main:refs/pull/2/head")
    return bare.as_uri(), git(work, "rev-parse", "HEAD")


def payload(url: str, sha: str, number: int) -> bytes:
    repo = {"full_name": "acme/app", "clone_url": url, "default_branch": "main"}
    pull = {
        "number": 2,
        "draft": False,
        "user": {"login": "dev"},
        "head": {"sha": sha, "ref": f"b{number}", "repo": {"full_name": "acme/app"}},
        "base": {"ref": "main", "repo": repo},
    }
    body = {"action": "synchronize", "number": 2, "pull_request": pull, "repository": repo}
    return json.dumps(body).encode()


def measure(label: str, url: str, sha: str, deliveries: int, data: Path) -> None:
    settings = Settings.from_env(
        {}, data_dir=data, github_webhook_secret=SECRET, allow_local_clones=True
    )
    services = open_services(settings, executor=FakeExecutor())
    client = create_app(services).test_client()
    requests, jobs = [], []
    for number in range(deliveries):
        body = payload(url, sha, number)
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": f"{label}-{number}",
            "X-Hub-Signature-256": signature,
        }
        start = time.perf_counter()
        response = client.post(
            "/webhooks/github", data=body, headers=headers, content_type="application/json"
        )
        requests.append(time.perf_counter() - start)
        assert response.status_code == 202, response.get_json()
        start = time.perf_counter()
        services.queue.run_pending()
        jobs.append(time.perf_counter() - start)
    print(
        f"{label:>6}: request median {statistics.median(requests) * 1000:7.2f} ms, "
        f"p95 {sorted(requests)[int(len(requests) * 0.95) - 1] * 1000:7.2f} ms | "
        f"worker job median {statistics.median(jobs) * 1000:8.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--deliveries", type=int, default=30)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        small = make_remote(root / "small", 3, 0)
        large = make_remote(root / "large", options.files, options.mb)
        measure("small", *small, options.deliveries, root / "data-small")
        measure("large", *large, options.deliveries, root / "data-large")


if __name__ == "__main__":
    main()
