#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`, installing and starting one if needed.
#
# Idempotent, run as root: returns at once when an engine answers; otherwise installs
# Debian's docker.io (when dockerd is absent), starts dockerd in the background
# (log: /var/log/ci-bot-dockerd.log) and waits up to ~60 s for it to answer.
# Overrides (for tests of this script): DOCKERD_LOG, DOCKERD_PIDFILE, DOCKERD_WAIT_SECONDS.
set -euo pipefail

LOG=${DOCKERD_LOG:-/var/log/ci-bot-dockerd.log}
PIDFILE=${DOCKERD_PIDFILE:-/var/run/docker.pid}
WAIT_SECONDS=${DOCKERD_WAIT_SECONDS:-60}

say() { echo "ensure-docker: $*" >&2; }

# A live dockerd owns the pid file; a pid left by a killed one may be a zombie or
# belong to another process by now, so look at what that pid is.
dockerd_alive() {
    local pid state comm
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    read -r state comm < <(ps -o stat= -o comm= -p "$pid" 2>/dev/null) || return 1
    [ "$comm" = dockerd ] && [ "${state:0:1}" != Z ]
}

if docker info >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    say "no Docker engine answers, and starting one needs root: run 'sudo $0'"
    exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
    say "installing Debian's docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q docker.io
fi

if dockerd_alive; then
    say "dockerd (pid $(cat "$PIDFILE")) is running but not answering yet; waiting"
else
    rm -f "$PIDFILE"
    say "starting dockerd (log: $LOG)"
    nohup dockerd >>"$LOG" 2>&1 </dev/null &
fi

for _ in $(seq "$WAIT_SECONDS"); do
    if docker info >/dev/null 2>&1; then
        say "the Docker engine is up"
        exit 0
    fi
    sleep 1
done

say "the Docker engine did not answer within ${WAIT_SECONDS}s; the end of $LOG says why:"
tail -n 20 "$LOG" >&2 || true
exit 1
