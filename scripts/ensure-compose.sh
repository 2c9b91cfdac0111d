#!/usr/bin/env bash
# Docker Compose, for the test that validates deploy/compose.yaml (`config` only:
# nothing is pulled or started). Either `docker compose` (the plugin) or
# `docker-compose` will do.
#
# Idempotent, as root: installs Debian's docker-compose when neither answers.
set -euo pipefail

say() { echo "ensure-compose: $*" >&2; }

docker compose version >/dev/null 2>&1 && exit 0
command -v docker-compose >/dev/null 2>&1 && exit 0
if [ "$(id -u)" -ne 0 ]; then
    say "neither docker compose nor docker-compose is installed, and installing needs root: run 'sudo $0'"
    exit 1
fi
say "installing Debian's docker-compose"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends docker-compose
