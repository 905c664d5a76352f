"""The bounded load test of `benchmarks/load_test.py` against a real webui.py, with its limits asserted.

20 clients x 25 requests on loopback (model list, task status, SSE progress, 1 s conversions with the tiny
model): no request may fail, each kind answers within `LIMITS_S` (10 s for listing, polling and submitting,
30 s for an SSE read, 120 s for a conversion's end-to-end time, since conversions queue for the one worker), and
the server's RSS may grow at most `RSS_GROWTH_LIMIT_MB` (150 MB) over its level after the warm-up round.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.load_test import LIMITS_S, make_home, measure
from tests.integration.conftest import start_webui, stop

CLIENTS, REQUESTS = 20, 25


@pytest.mark.slow
def test_twenty_clients_of_twenty_five_requests(tmp_path: Path, rvc_home: Path):
    clip = make_home(tmp_path)
    env = dict(os.environ, RVC_HOME=str(tmp_path), RVC_EMBEDDER=str(rvc_home / "embedder"), OMP_NUM_THREADS="1")
    process, url = start_webui(env)
    try:
        run = measure(f"{url}api/v2", process.pid, clip, "tiny", CLIENTS, REQUESTS, seed=0)
    finally:
        stop(process)
    print("\n" + run.report())
    table = run.by_kind()
    assert set(table) == set(LIMITS_S)  # every kind of request was made
    assert sum(row["requests"] for kind, row in table.items() if kind != "convert_done") == CLIENTS * REQUESTS
    assert run.violations() == []
