"""The base images ci-bot's own setup builds without a registry, and where to get a missing one.

Other images are pulled (``pulls.py``); these two exist on no registry, so a
missing one is a ``worker_error`` whose message comes from :func:`missing_image_hint`.
"""

from __future__ import annotations

BUSYBOX_IMAGE = "ci-bot-test/busybox:latest"
"""A tiny root filesystem (busybox-static and its applets) for fast tests."""

DEBIAN_PYTHON_IMAGE = "ci-bot/debian-python:bookworm"
"""Debian bookworm with python3 and git, made with mmdebstrap and ``docker import``."""

BUILT_HERE = (BUSYBOX_IMAGE, DEBIAN_PYTHON_IMAGE)


def missing_image_hint(image: str) -> str:
    """How a person gets ``image`` onto this machine's Docker engine."""
    if image in BUILT_HERE:
        return "build it with `make images` (scripts/build-images.sh); it needs no registry"
    return (
        f'ci-bot pulls it unless the node says pull = "never"; otherwise load it onto this '
        f"machine's engine first: `docker pull {image}`, or `docker import` / `docker load` a file"
    )


def missing_image_message(image: str) -> str:
    """The sentence a node's result carries when its image is not on the engine."""
    return f"image {image} is missing on the Docker engine: {missing_image_hint(image)}"
