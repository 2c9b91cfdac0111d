"""Images built from the repository's Dockerfile: once per content hash, again when a
line changes, and a broken Dockerfile failing every waiting node on its line."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from docker import DockerClient

from ci_bot.executors.base import ExecResult, ExecSpec
from ci_bot.executors.builds import base_images, build_tag, dockerfile_lines
from ci_bot.executors.docker import DockerExecutor
from ci_bot.tree.containers import BuildSpec
from tests.executors.support import MakeSpec


def write_dockerfile(source: Path, text: str, name: str = "ci/Dockerfile") -> BuildSpec:
    (source / name).parent.mkdir(parents=True, exist_ok=True)
    (source / name).write_text(text)
    return BuildSpec(dockerfile=name)


def build_spec_for(
    make_spec: MakeSpec, source: Path, build: BuildSpec, **changes: object
) -> ExecSpec:
    return make_spec("cat /marker", image=build_tag(source, build), build=build, **changes)


def run_together(executor: DockerExecutor, specs: list[ExecSpec]) -> list[ExecResult]:
    results: dict[str, ExecResult] = {}
    threads = [
        threading.Thread(target=lambda s=s: results.__setitem__(s.node_path, executor.run(s)))
        for s in specs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [results[s.node_path] for s in specs]


@pytest.fixture
def built_images(docker_engine: DockerClient) -> list[str]:
    """Tags built by the test, removed after."""
    tags: list[str] = []
    yield tags  # type: ignore[misc]
    for tag in tags:
        docker_engine.images.remove(tag, force=True)


@pytest.mark.docker
def test_two_parallel_nodes_build_once_and_both_run_in_it(
    executor: DockerExecutor,
    make_spec: MakeSpec,
    source_dir: Path,
    busybox_image: str,
    built_images: list[str],
) -> None:
    build = write_dockerfile(
        source_dir, f"FROM {busybox_image}\n# a comment\nRUN echo built-marker > /marker\n"
    )
    specs = [build_spec_for(make_spec, source_dir, build, node_path=f"/n{i}") for i in range(2)]
    built_images.append(specs[0].image)

    results = run_together(executor, specs)

    assert [r.state for r in results] == ["done", "done"]
    logs = [spec.log_path.read_text() for spec in specs]
    assert sum("Successfully built" in log for log in logs) == 1
    assert all("built-marker" in log for log in logs)


@pytest.mark.docker
def test_a_changed_dockerfile_line_builds_again_an_unchanged_one_does_not(
    executor: DockerExecutor,
    make_spec: MakeSpec,
    source_dir: Path,
    busybox_image: str,
    built_images: list[str],
    tmp_path: Path,
) -> None:
    build = write_dockerfile(source_dir, f"FROM {busybox_image}\nRUN echo one > /marker\n")
    first = build_spec_for(make_spec, source_dir, build)
    built_images.append(first.image)
    assert executor.run(first).state == "done"
    same = build_spec_for(make_spec, source_dir, build)
    assert executor.run(same).state == "done"

    changed_source = tmp_path / "changed"
    changed_source.mkdir()
    changed = write_dockerfile(changed_source, f"FROM {busybox_image}\nRUN echo two > /marker\n")
    second = build_spec_for(make_spec, changed_source, changed, source_dir=changed_source)
    built_images.append(second.image)
    assert second.image != first.image
    assert executor.run(second).state == "done"

    assert "already built" in same.log_path.read_text()
    assert "Successfully built" in second.log_path.read_text()
    assert "two" in second.log_path.read_text().splitlines()[-1]


@pytest.mark.docker
def test_a_broken_dockerfile_fails_every_waiting_node_on_its_line(
    executor: DockerExecutor, make_spec: MakeSpec, source_dir: Path, busybox_image: str
) -> None:
    build = write_dockerfile(
        source_dir,
        f"FROM {busybox_image}\n\nRUN echo step two && \\\n    echo still two\nRUN exit 3\n",
    )
    specs = [build_spec_for(make_spec, source_dir, build, node_path=f"/n{i}") for i in range(2)]

    results = run_together(executor, specs)

    assert [r.state for r in results] == ["error", "error"]
    assert all(r.message.startswith("building ci/Dockerfile failed: ") for r in results)
    assert all("returned a non-zero code: 3" in r.message for r in results)
    for spec in specs:  # the leader streamed the build; the waiter got its tail
        log = spec.log_path.read_text()
        assert "ci/Dockerfile:5: error: The command '/bin/sh -c exit 3'" in log
        assert "Step 3/" in log


@pytest.mark.docker
def test_an_unknown_instruction_is_located_from_the_parse_error(
    executor: DockerExecutor, make_spec: MakeSpec, source_dir: Path, busybox_image: str
) -> None:
    build = write_dockerfile(source_dir, f"FROM {busybox_image}\nRUNN echo typo\n")
    spec = build_spec_for(make_spec, source_dir, build)

    result = executor.run(spec)

    assert result.state == "error"
    assert "ci/Dockerfile:2: error:" in spec.log_path.read_text()


@pytest.mark.docker
def test_a_missing_dockerfile_is_an_error_that_names_it(
    executor: DockerExecutor, make_spec: MakeSpec, source_dir: Path
) -> None:
    build = BuildSpec(dockerfile="docker/Nope")
    result = executor.run(build_spec_for(make_spec, source_dir, build))

    assert result.state == "error"
    assert result.message == "build: docker/Nope does not exist at this commit"


def test_the_tag_follows_the_context_args_and_target(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    (tmp_path / "app.py").write_text("print(1)\n")
    plain = BuildSpec()
    tag = build_tag(tmp_path, plain)
    assert tag.startswith("ci-bot-build:")
    assert build_tag(tmp_path, BuildSpec(args=(("A", "1"),))) != tag
    assert build_tag(tmp_path, BuildSpec(target="test")) != tag
    other = tmp_path.parent / f"{tmp_path.name}-other"
    other.mkdir()
    (other / "Dockerfile").write_text("FROM x\n")
    (other / "app.py").write_text("print(2)\n")
    assert build_tag(other, plain) != tag


def test_dockerfile_instructions_carry_their_first_line() -> None:
    text = "# syntax comment\n\nFROM base AS deps\nRUN a && \\\n  # inside\n  b\nCOPY . /x\n"
    lines = dockerfile_lines(text)
    assert [(i.line, i.text.split()[0]) for i in lines] == [(3, "FROM"), (4, "RUN"), (7, "COPY")]


def test_base_images_leave_out_stages_scratch_and_args() -> None:
    text = (
        "FROM python:3.12-slim AS deps\nFROM deps AS test\nFROM scratch\n"
        "FROM --platform=linux/amd64 ${BASE}\nFROM registry.local:5000/tools:2\n"
    )
    assert base_images(dockerfile_lines(text)) == [
        "python:3.12-slim",
        "registry.local:5000/tools:2",
    ]


def test_the_located_line_becomes_a_check_run_annotation_on_the_dockerfile() -> None:
    from integrations.github.annotations import parse_annotations

    line = "2026-12-01T10:00:00.000Z ci/Dockerfile:5: error: The command '/bin/sh -c exit 3' "
    line += "returned a non-zero code: 3"

    found = parse_annotations([line], exists=lambda path: path == "ci/Dockerfile")

    assert [(a["path"], a["start_line"], a["annotation_level"]) for a in found] == [
        ("ci/Dockerfile", 5, "failure")
    ]
