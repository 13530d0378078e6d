"""Benchmarks: `make bench` (all) or `python -m bench NAME...` (some).

Each `bench/bench_<name>.py` has `run() -> None` that measures, prints its
results with ratios against a baseline measured in the same run, and returns.
"""
