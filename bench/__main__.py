"""Run every `bench/bench_*.py` (or the ones named) and print their results.

Each benchmark module declares `FULL` and `SMOKE`, two dicts of its counts with
the same keys, and `run(sizes=FULL)`. `--smoke` runs it with `SMOKE` (tiny
counts): the test suite does that for every module found here
(tests/test_bench.py), so a benchmark that breaks, or a new one without smoke
counts, fails `make test`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def load(name: str) -> ModuleType:
    """The benchmark module `name`, checked to declare FULL and SMOKE counts with the same keys."""
    module = importlib.import_module(f"bench.bench_{name}")
    full, smoke = getattr(module, "FULL", None), getattr(module, "SMOKE", None)
    if not isinstance(full, dict) or not isinstance(smoke, dict) or full.keys() != smoke.keys():
        raise TypeError(f"bench/bench_{name}.py must declare FULL and SMOKE: dicts of its counts with the same "
                        "keys (SMOKE tiny, for the test suite's smoke run)")
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run La Factoria's benchmarks.")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default all): " + ", ".join(available()))
    parser.add_argument("--smoke", action="store_true",
                        help="tiny counts: checks that each benchmark runs and prints its figures (figures "
                             "meaningless)")
    args = parser.parse_args(argv)
    names = args.names or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    print(f"# La Factoria benchmarks{' (SMOKE RUN: tiny counts)' if args.smoke else ''} — "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
          f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f}")
    for name in names:
        module = load(name)
        print(f"\n## {name}")
        t0 = time.monotonic()
        module.run(module.SMOKE if args.smoke else module.FULL)
        print(f"({name}: {time.monotonic() - t0:.1f} s)")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
