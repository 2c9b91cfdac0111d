"""Images built from a repository's own Dockerfile, at the commit, once per content hash.

The tag is ``ci-bot-build:HASH``, a hash of the Dockerfile, every file of the
context, the build args and the target: while that holds the image is reused,
and a changed line builds again. Nodes that need one tag at once wait for a
single build, whose log streams into the first one's log. A base image in
``FROM`` that the engine lacks is pulled first (with the pipeline's trust), so
the build itself never pulls.

A failed build raises :class:`BuildFailed`, carrying the log's tail and a line
``Dockerfile:LINE: error: …`` that the GitHub check run turns into an annotation.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from docker import DockerClient
from docker.errors import APIError, ImageNotFound
from requests import RequestException

# re-exported: the executor names what it builds by it
from ci_bot.executors.build_tags import build_tag as build_tag
from ci_bot.executors.flights import Flights
from ci_bot.executors.pulls import ImagePuller, Progress
from ci_bot.tree.containers import BuildSpec

logger = logging.getLogger(__name__)

LABEL_BUILT_FROM = "ci-bot.built-from"
TAIL_LINES = 20
_STEP = re.compile(r"^Step (\d+)/\d+ : ")
_PARSE_ERROR_LINE = re.compile(r"line (\d+)", re.IGNORECASE)


class BuildFailed(Exception):
    """The build failed; ``str()`` is the sentence, ``log_lines`` what each waiting node
    shows (the tail and the located line)."""

    def __init__(self, message: str, log_lines: list[str]) -> None:
        super().__init__(message)
        self.log_lines = log_lines


@dataclass(frozen=True)
class BuildRequest:
    source: Path  # the repository at the commit
    spec: BuildSpec
    tag: str  # build_tag(source, spec)
    trusted: bool  # may FROM images be pulled with the operator's credentials


class ImageBuilder:
    def __init__(self, puller: ImagePuller) -> None:
        self._puller = puller
        self._flights: Flights[str] = Flights()

    def ensure(
        self,
        client: DockerClient,
        request: BuildRequest,
        write_log: Callable[[str], None],
        progress: Progress,
    ) -> None:
        """The image ``request.tag`` exists afterwards, or BuildFailed / ImageUnavailable."""
        if _present(client, request.tag):
            progress(f"image {request.spec.dockerfile} already built as {request.tag}")
            return
        self._flights.once(
            request.tag,
            lambda: self._build(client, request, write_log, progress),
            lambda: progress(f"waiting for the build of {request.spec.dockerfile} under way"),
        )

    def _build(
        self,
        client: DockerClient,
        request: BuildRequest,
        write_log: Callable[[str], None],
        progress: Progress,
    ) -> None:
        spec, root = request.spec, request.source
        dockerfile = root / spec.dockerfile
        if not dockerfile.is_file():
            message = f"build: {spec.dockerfile} does not exist at this commit"
            raise BuildFailed(message, [f"{spec.dockerfile}:1: error: no such file"])
        lines = dockerfile_lines(dockerfile.read_text(encoding="utf-8", errors="replace"))
        for image in base_images(lines):
            self._puller.ensure(
                client, image, "missing", trusted=request.trusted, progress=progress
            )
        progress(f"building {spec.dockerfile} as {request.tag}")
        output: list[str] = []
        error = _run_build(client, request, dockerfile, output, write_log)
        if error is not None:
            located = _locate(error, output, lines, spec.dockerfile)
            write_log(located)
            tail = [*output[-TAIL_LINES:], located]
            raise BuildFailed(f"building {spec.dockerfile} failed: {error}", tail)
        progress(f"built {request.tag}")


def _run_build(
    client: DockerClient,
    request: BuildRequest,
    dockerfile: Path,
    output: list[str],
    write_log: Callable[[str], None],
) -> str | None:
    """Run the build, streaming its lines; the error sentence, or None when it worked."""
    spec = request.spec
    logger.info("docker build %s (%s)", spec.dockerfile, request.tag)
    try:
        events = client.api.build(
            path=str(request.source / spec.context),
            dockerfile=str(dockerfile.resolve()),
            tag=request.tag,
            buildargs=dict(spec.args),
            target=spec.target,
            labels={LABEL_BUILT_FROM: spec.dockerfile},
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
        )
        for event in events:
            if "error" in event:
                return str(event["error"]).strip()
            for line in str(event.get("stream", "")).splitlines():
                if line.strip():
                    output.append(line)
                    write_log(line)
    except APIError as error:
        return str(error.explanation or error)
    except RequestException as error:
        return f"the build's connection broke off: {error}"
    return None


@dataclass(frozen=True)
class Instruction:
    line: int  # 1-based line of the Dockerfile where it starts
    text: str  # the whole instruction, continuation lines joined


def dockerfile_lines(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile with the line each starts on."""
    escape = "`" if re.match(r"#\s*escape\s*=\s*`", text) else "\\"
    found: list[Instruction] = []
    start, parts = 0, list[str]()
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not parts and (not stripped or stripped.startswith("#")):
            continue
        if parts and stripped.startswith("#"):
            continue  # comments inside a continued instruction are dropped
        if not parts:
            start = number
        continued = stripped.endswith(escape)
        parts.append(stripped.removesuffix(escape) if continued else stripped)
        if not continued:
            found.append(Instruction(start, " ".join(parts)))
            parts = []
    if parts:
        found.append(Instruction(start, " ".join(parts)))
    return found


def base_images(instructions: list[Instruction]) -> list[str]:
    """Images named by FROM that come from outside the Dockerfile (no stages, no scratch,
    none left to build args)."""
    stages: set[str] = set()
    images: list[str] = []
    for instruction in instructions:
        words = instruction.text.split()
        if not words or words[0].upper() != "FROM":
            continue
        names = [word for word in words[1:] if not word.startswith("--")]
        if not names:
            continue
        image = names[0]
        if len(names) >= 3 and names[1].upper() == "AS":
            stages.add(names[2].lower())
        if image.lower() in stages or image == "scratch" or "$" in image or image in images:
            continue
        images.append(image)
    return images


def _locate(error: str, output: list[str], lines: list[Instruction], dockerfile: str) -> str:
    """``Dockerfile:LINE: error: …`` for the instruction that failed."""
    line = 1
    parse_error = _PARSE_ERROR_LINE.search(error) if "parse error" in error.lower() else None
    if parse_error:
        line = int(parse_error.group(1))
    else:
        steps = [int(m.group(1)) for text in output if (m := _STEP.match(text))]
        if steps and steps[-1] <= len(lines):
            line = lines[steps[-1] - 1].line
    return f"{dockerfile}:{line}: error: {error}"


def _present(client: DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except ImageNotFound:
        return False
    return True
