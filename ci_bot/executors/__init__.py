"""Executors run one Exec each: the ``Executor`` protocol, ``DockerExecutor``
(a real container per Exec) and ``FakeExecutor`` for the scheduler's tests.

    base.py       the protocol and its dataclasses (ExecSpec in, ExecResult out)
    docker.py     DockerExecutor: image → services → create → start → follow → remove
    deferred.py   made on first use: a fully reused pipeline never loads Docker's client
    image_ids.py  an image's id over the engine's Unix socket, without docker-py
    pulls.py      an image pulled by the node's `pull` policy, once for concurrent nodes
    registry.py   the operator's registry credentials (Docker's config.json), per host
    build_tags.py the tag of a Dockerfile build: a hash of its inputs
    builds.py     an image built from the repository's Dockerfile, once per content hash
    sidecars.py   a node's services: its own network, ready checks, logs kept, removal
    flights.py    one piece of work per key at a time, shared by whoever waits for it
    workspace.py  a pristine copy-on-write /workspace: one derived image per (pipeline, image)
    follow.py     output into the log exactly once; kills on cancel and at the deadline
    logs.py       the log file: timestamped lines, secrets masked before disk, ``tail``
    outcomes.py   how a container's end becomes a state and a sentence (pure)
    images.py     the base images ci-bot builds without a registry (scripts/build-images.sh)
"""
