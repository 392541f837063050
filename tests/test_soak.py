"""The short soak: benchmarks/bench_soak.py for a few seconds (the benchmark runs 60 s and more).

Asserted: memory stays bounded, every block written to Redis during the load is enforced, every
completed request is a stored event, no request failed on the server, and the harvesters in the
mix are refused. The latency and decision-delay budgets are timings: the benchmark reports them
(docs/reliability.md), this test does not assert them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_a_short_soak_holds_memory_and_enforces_decisions(tmp_path: Path) -> None:
    figures = tmp_path / "soak.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "bench_soak.py"), "--seconds", "12",
               "--users", "20", "--connections", "16", "--json", str(figures)]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode in (0, 1), run.stdout + run.stderr  # 1: a timing budget missed
    result = json.loads(figures.read_text())
    assert result["requests"] > 0
    assert len(result["quarters"]) == 4 and all(q["requests"] > 0 for q in result["quarters"])
    assert len(result["rss_samples_mb"]) >= 8
    # a leak of a request's worth of memory per request would show over thousands of requests
    assert result["memory_growth"] < 0.25, result["rss_samples_mb"]
    assert len(result["decision_delays"]) == 4
    assert None not in result["decision_delays"]  # every block was enforced
    assert result["events_stored"] >= result["requests"]
    assert result["server_errors"] == 0 and result["socket_errors"] == 0
    assert result["harvester_events"] > 0 and result["harvester_refused"] > 0
