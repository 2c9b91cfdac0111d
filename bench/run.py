"""``make bench``: every benchmark in ``bench/``, one table of ratios against baselines.

    .venv/bin/python bench/run.py [--quick] [--only NAME ...]

Each ``bench/bench_*.py`` with a ``run(quick)`` function is run in turn (``--only
engine`` runs ``bench_engine.py`` alone); its rows are printed as they come and again
together at the end, each with min/median/max for ci-bot and its baseline, the ratio
and whether the issue's target is met.  ``--quick`` is a smoke run: fewer rounds,
smaller inputs.  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import Row  # noqa: E402


def benchmark_names() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def compile_bytecode() -> None:
    """Compile ci-bot's modules first, as an installed package has them: with
    PYTHONDONTWRITEBYTECODE set (this machine sets it) or after an edit, every ``ci-bot``
    process the benchmarks start would otherwise compile the modules again (~0.25 s)."""
    for package in ("ci_bot", "integrations"):
        compileall.compile_dir(HERE.parent / package, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller inputs")
    parser.add_argument("--only", nargs="*", default=None, help="benchmarks to run, by name")
    options = parser.parse_args()
    names = options.only or benchmark_names()
    compile_bytecode()
    rows: list[Row] = []
    for name in names:
        module = importlib.import_module(f"bench_{name}")
        if not hasattr(module, "run"):
            continue
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        for row in module.run(options.quick):
            rows.append(row)
            print("\n".join(row.lines()), flush=True)
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    print("\n== summary")
    for row in rows:
        sign = "≥" if row.higher_is_better else "≤"
        verdict = "met" if row.met else "MISSED"
        print(f"{row.ratio:7.2f}×  {sign} {row.target:<5g} {verdict:<6}  {row.measure}")


if __name__ == "__main__":
    main()
