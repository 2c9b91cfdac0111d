"""Executors run one Exec each: the ``Executor`` protocol, ``DockerExecutor``
(a real container per Exec) and ``FakeExecutor`` for the scheduler's tests.

    base.py       the protocol and its dataclasses (ExecSpec in, ExecResult out)
    docker.py     DockerExecutor: create → start → follow → remove, never a pull
    workspace.py  a pristine copy-on-write /workspace: one derived image per (pipeline, image)
    follow.py     output into the log exactly once; kills on cancel and at the deadline
    logs.py       the log file: timestamped lines, secrets masked before disk, ``tail``
    outcomes.py   how a container's end becomes a state and a sentence (pure)
    images.py     the base images ci-bot builds without a registry (scripts/build-images.sh)
"""
