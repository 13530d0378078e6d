"""Every benchmark in bench/ runs in the suite with tiny counts (a smoke run).

Benchmarks are found by file name, exactly as `make bench` finds them, so a new
`bench/bench_*.py` is smoke-run here without being listed anywhere, and one
without SMOKE counts fails. No timing is asserted: only that the benchmark
completes and prints its figures.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from bench.__main__ import available, load
from bench.common import ROOT

FIGURE = re.compile(r"\d+\.\d+ ?(ms|s|us|req/s|/s|rows/s|MiB)\b")


def test_benchmarks_are_found():
    assert {"generate", "platform", "instances", "quality", "ratelimit", "gdpr", "jobs", "metrics"} <= set(available())


@pytest.mark.parametrize("name", available())
def test_benchmark_declares_smoke_counts(name):
    module = load(name)
    assert all(module.SMOKE[k] <= module.FULL[k] for k in module.FULL), "SMOKE counts must be the smaller ones"


def test_a_benchmark_without_smoke_counts_is_refused(tmp_path, monkeypatch):
    import types

    stale = types.ModuleType("bench.bench_stale")
    stale.run = lambda: None
    monkeypatch.setitem(sys.modules, "bench.bench_stale", stale)
    with pytest.raises(TypeError, match="FULL and SMOKE"):
        load("stale")


@pytest.mark.parametrize("name", available())
def test_benchmark_smoke_run(name):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for limit in ("RATE_LIMIT_PER_MINUTE", "GENERATIONS_PER_DAY"):
        env.pop(limit, None)  # each benchmark must set the limits it needs itself
    proc = subprocess.run([sys.executable, "-m", "bench", "--smoke", name], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"## {name}" in proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    figures = [line for line in proc.stdout.splitlines() if FIGURE.search(line)]
    assert figures, proc.stdout
