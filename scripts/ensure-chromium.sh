#!/usr/bin/env bash
# Make sure Debian's Chromium is installed, for the web UI's browser tests.
#
# Idempotent, run as root: returns at once when /usr/bin/chromium runs; otherwise
# installs Debian's `chromium` package (Playwright drives it through its
# executable path: Playwright's own browser download cannot be used here).
# Override the binary checked with CHROMIUM (default /usr/bin/chromium).
set -euo pipefail

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

say() { echo "ensure-chromium: $*" >&2; }

if "$CHROMIUM" --version >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    say "$CHROMIUM is missing, and installing it needs root: run 'sudo $0'"
    exit 1
fi

say "installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core

"$CHROMIUM" --version >&2
