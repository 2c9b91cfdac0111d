"""What every benchmark shares: alternate rounds, summarise, print one row per measure.

A benchmark module (``bench/bench_*.py``) defines ``run(quick: bool) -> list[Row]``.
Each row pairs ci-bot's samples with a baseline's, taken alternately in one process
(``interleave``), so a machine that gets busier half-way slows both sides alike.
``bench/run.py`` (``make bench``) runs every module and prints the table.

Nothing here asserts a figure: benchmarks print, people read.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Samples:
    """Repeated measurements of one thing, in seconds (or any unit the row names)."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def spread(self, unit: str = "s") -> str:
        low, mid, high = min(self.values), self.median, max(self.values)
        return f"{_fmt(low, unit)} / {_fmt(mid, unit)} / {_fmt(high, unit)}"


@dataclass(frozen=True)
class Row:
    """One line of the table: ci-bot against its baseline, with the issue's target.

    ``ratio`` is ci-bot's median over the baseline's (lower is better) unless the row
    says ``higher_is_better`` (a rate), where it is ci-bot's over the baseline's too
    but the target is a floor.  A row without a baseline (a fraction of ci-bot's own
    first run, say) gives ``ratio`` itself and leaves ``baseline`` None.
    """

    measure: str
    ours: Samples
    baseline: Samples | None
    target: float  # the ratio the issue asks for
    unit: str = "s"
    baseline_label: str = "bare"
    higher_is_better: bool = False
    given_ratio: float | None = None  # when the ratio is not ours/baseline (reuse's %)
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        if self.given_ratio is not None:
            return self.given_ratio
        if self.baseline is None:
            raise ValueError(f"{self.measure}: no baseline and no given ratio")
        return self.ours.median / self.baseline.median

    @property
    def met(self) -> bool:
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target

    def lines(self) -> list[str]:
        sign = "≥" if self.higher_is_better else "≤"
        verdict = "met" if self.met else "MISSED"
        head = f"{self.measure}: ratio {self.ratio:.2f}× (target {sign} {self.target:g}×) {verdict}"
        out = [head, f"    ci-bot     min/median/max {self.ours.spread(self.unit)}"]
        if self.baseline is not None:
            label = f"{self.baseline_label:<10}"
            out.append(f"    {label} min/median/max {self.baseline.spread(self.unit)}")
        out.extend(f"    {note}" for note in self.notes)
        return out


def interleave(
    rounds: int, ours: Callable[[], float], baseline: Callable[[], float]
) -> tuple[Samples, Samples]:
    """Run ``ours`` and ``baseline`` alternately, ``rounds`` times each; each returns
    its own measurement (usually seconds from ``timed``).  The order flips every
    round so neither side always runs on a warmer machine."""
    mine: list[float] = []
    theirs: list[float] = []
    for number in range(rounds):
        if number % 2 == 0:
            mine.append(ours())
            theirs.append(baseline())
        else:
            theirs.append(baseline())
            mine.append(ours())
    return Samples(tuple(mine)), Samples(tuple(theirs))


def repeat(rounds: int, measure: Callable[[], float]) -> Samples:
    return Samples(tuple(measure() for _ in range(rounds)))


def timed(action: Callable[[], object]) -> float:
    """Seconds ``action`` took."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    return f"{value:.3g} {unit}"


WORKSPACE_SOURCE = "ci-bot.workspace-source"  # as ci_bot.executors.workspace's label


def remove_workspace_images(root: Path) -> None:
    """The workspace images of checkouts under ``root``: ci-bot keeps a pipeline's until
    it is archived, and a benchmark's pipelines, in a temporary folder, never are."""
    listed = subprocess.run(
        ["docker", "images", "--filter", f"label={WORKSPACE_SOURCE}", "--format", "{{.ID}}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    template = f'{{{{index .Config.Labels "{WORKSPACE_SOURCE}"}}}}'
    for image in set(listed):
        source = subprocess.run(
            ["docker", "inspect", "--format", template, image],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if source and Path(source).is_relative_to(root):
            subprocess.run(["docker", "rmi", "-f", image], capture_output=True, check=False)
