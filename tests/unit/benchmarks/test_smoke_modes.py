"""Every benchmark can run in CI's smoke mode (`benchmarks/smoke.py` finds them all)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.smoke import benchmark_scripts

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


def test_the_smoke_runner_finds_the_benchmarks() -> None:
    names = benchmark_scripts()
    assert {"routing", "ingest", "preview", "roster", "sla_bench"} <= set(names)
    assert "smoke" not in names


def test_every_benchmark_takes_smoke() -> None:
    missing = [
        name
        for name in benchmark_scripts()
        if '"--smoke"' not in (BENCHMARKS / f"{name}.py").read_text(encoding="utf-8")
    ]
    assert missing == [], f"benchmarks without a --smoke mode: {missing}"
