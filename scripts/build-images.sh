#!/usr/bin/env bash
# Build ci-bot's base images without a registry (nothing is ever pulled).
#
#   ci-bot-test/busybox:latest     busybox-static, its applets, /tmp: tiny and fast, for tests
#   ci-bot/debian-python:bookworm  Debian bookworm with python3 and git, made with mmdebstrap
#
# Fast when both exist. `--rebuild` builds them again. Installs busybox-static and
# mmdebstrap with apt-get when missing (needs root and a Debian mirror).
# The names must match ci_bot/executors/images.py.
set -euo pipefail

BUSYBOX_IMAGE=ci-bot-test/busybox:latest
DEBIAN_PYTHON_IMAGE=ci-bot/debian-python:bookworm
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PATH_ENV='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

REBUILD=0
[ "${1:-}" = "--rebuild" ] && REBUILD=1

say() { echo "build-images: $*" >&2; }

have_image() { [ "$REBUILD" = 0 ] && docker image inspect "$1" >/dev/null 2>&1; }

APT_UPDATED=0
need_package() {  # need_package FILE PACKAGE
    [ -e "$1" ] && return 0
    export DEBIAN_FRONTEND=noninteractive
    if [ "$APT_UPDATED" = 0 ]; then apt-get update -q; APT_UPDATED=1; fi
    apt-get install -y -q --no-install-recommends "$2"
}

build_busybox() {
    need_package /bin/busybox busybox-static
    if ldd /bin/busybox >/dev/null 2>&1; then  # Debian's dynamic busybox: swap in the static one
        APT_UPDATED=1 && apt-get update -q && apt-get install -y -q busybox-static
    fi
    local root
    root=$(mktemp -d)
    mkdir -p "$root"/{bin,etc,tmp,root,workspace}
    chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    tar -C "$root" --numeric-owner --owner=0 --group=0 -c . |
        docker import --change "$PATH_ENV" --change 'CMD ["/bin/sh"]' - "$BUSYBOX_IMAGE" >/dev/null
    rm -rf "$root"
}

build_debian_python() {
    need_package /usr/bin/mmdebstrap mmdebstrap
    # The mirror is named explicitly: without one, mmdebstrap would read sources from stdin.
    mmdebstrap --variant=apt --include=python3,git "$SUITE" - "$MIRROR" </dev/null |
        docker import --change "$PATH_ENV" --change 'CMD ["/bin/bash"]' - "$DEBIAN_PYTHON_IMAGE" >/dev/null
}

docker info >/dev/null 2>&1 || { say "no Docker engine answers; run scripts/ensure-docker.sh first"; exit 1; }

ensure_image() {  # ensure_image NAME BUILDER: build when absent (or --rebuild), drop the old one
    local name=$1 builder=$2 previous
    if have_image "$name"; then say "$name is there"; return; fi
    previous=$(docker image inspect --format '{{.Id}}' "$name" 2>/dev/null || true)
    say "building $name"
    "$builder"
    if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect --format '{{.Id}}' "$name")" ]; then
        docker rmi "$previous" >/dev/null 2>&1 || say "the previous $name is still in use; kept"
    fi
}

ensure_image "$BUSYBOX_IMAGE" build_busybox
ensure_image "$DEBIAN_PYTHON_IMAGE" build_debian_python  # mmdebstrap: about half a minute
