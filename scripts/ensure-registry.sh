#!/usr/bin/env bash
# Debian's docker-registry (Docker's Distribution registry) and htpasswd, for the tests
# that pull images from a real registry. The tests start their own registries on
# loopback with their own config; nothing is started here.
#
# Idempotent, as root: installs the packages when the binaries are absent.
set -euo pipefail

say() { echo "ensure-registry: $*" >&2; }

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    say "${missing[*]} missing, and installing needs root: run 'sudo $0'"
    exit 1
fi
say "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
