"""Executors run one Exec each: the ``Executor`` protocol, ``DockerExecutor``
(a real container per Exec) and ``FakeExecutor`` for the scheduler's tests.
"""
