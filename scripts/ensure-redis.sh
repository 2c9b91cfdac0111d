#!/usr/bin/env bash
# Debian's redis-server, for the scaled-out tests (Celery's broker). The tests start
# their own server on a free loopback port; nothing is started here.
#
# Idempotent, as root: installs the package when redis-server is absent.
set -euo pipefail

say() { echo "ensure-redis: $*" >&2; }

command -v redis-server >/dev/null 2>&1 && exit 0
if [ "$(id -u)" -ne 0 ]; then
    say "redis-server is missing, and installing it needs root: run 'sudo $0'"
    exit 1
fi
say "installing Debian's redis-server"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends redis-server
