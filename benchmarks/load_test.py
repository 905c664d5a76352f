"""A bounded load test of the REST API of a real `webui.py` on loopback: latencies, errors and server memory.

    .venv/bin/python benchmarks/load_test.py [--clients 20] [--requests 25] [--seed 0]

Starts webui.py on a fresh RVC_HOME (the tiny v2 40k model, a thin embedder, a 1 s clip cut from
../shared/data/voice_low/001.flac), runs a warm-up round (the first conversion starts the inference worker and
loads the models), then CLIENTS concurrent clients (httpx, async) each make REQUESTS requests back to back, a
seeded mix of: the model list (GET /models), a task's status (GET /tasks/{id}), a task's progress by SSE (open,
read up to 3 events or to the end, close) and a small conversion (POST /inference/tasks, then its progress
stream to the final event). Prints requests, errors and p50/p95/max latency per kind, and the server's RSS
before and after. tests/integration/test_load.py runs the same code and asserts the limits below.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "data" / "voice_low" / "001.flac"
CLIP_SECONDS = 1.0
FINAL = frozenset({"completed", "failed", "cancelled", "paused", "interrupted"})
CONVERT_PARAMS = {"f0_method": "pm", "noise_scale": 0, "index_rate": 0}
SSE_EVENTS = 3  # an SSE client reads this many events (or up to the final one), then closes
WARM_UP_REQUESTS = 3  # per client
SETTLE_S = 2.0  # after the load, before the second RSS reading
WEIGHTS = {"list_models": 0.35, "task_status": 0.35, "sse": 0.25, "convert": 0.05}

LIMITS_S = {"list_models": 10.0, "task_status": 10.0, "sse": 30.0, "convert_submit": 10.0, "convert_done": 120.0}
"""The slowest answer allowed per kind. A conversion queues behind every other one (one inference worker per
device converts one file at a time), so its end-to-end time gets the long limit; an SSE client may wait for a
queued task to start before its third event."""
RSS_GROWTH_LIMIT_MB = 150.0
"""Server RSS after the load minus RSS after the warm-up round."""


@dataclass(frozen=True)
class Sample:
    kind: str
    seconds: float
    error: str | None = None


@dataclass
class LoadRun:
    """Everything measured: the samples and the server's RSS (bytes) before and after."""

    samples: list[Sample] = field(default_factory=list)
    rss_before: int = 0
    rss_after: int = 0
    wall_s: float = 0.0

    @property
    def rss_growth_mb(self) -> float:
        return (self.rss_after - self.rss_before) / 2**20

    @property
    def errors(self) -> list[Sample]:
        return [sample for sample in self.samples if sample.error]

    def by_kind(self) -> dict[str, dict[str, float]]:
        table = {}
        for kind in sorted({sample.kind for sample in self.samples}):
            seconds = np.array([sample.seconds for sample in self.samples if sample.kind == kind])
            table[kind] = {
                "requests": len(seconds), "errors": sum(s.kind == kind for s in self.errors),
                "p50_s": float(np.percentile(seconds, 50)), "p95_s": float(np.percentile(seconds, 95)),
                "max_s": float(seconds.max()),
            }
        return table

    def violations(self) -> list[str]:
        """What broke the limits: failed requests, kinds slower than `LIMITS_S`, RSS growth over the limit."""
        problems = [f"{len(self.errors)} requests failed"] if self.errors else []
        problems += [f"{kind}: slowest {row['max_s']:.2f} s, limit {LIMITS_S[kind]:.0f} s"
                     for kind, row in self.by_kind().items() if row["max_s"] >= LIMITS_S[kind]]
        if self.rss_growth_mb >= RSS_GROWTH_LIMIT_MB:
            problems.append(f"server RSS grew {self.rss_growth_mb:.0f} MB, limit {RSS_GROWTH_LIMIT_MB:.0f} MB")
        return problems

    def report(self) -> str:
        lines = [f"{'kind':<15}{'requests':>9}{'errors':>7}{'p50 s':>8}{'p95 s':>8}{'max s':>8}{'limit s':>9}"]
        for kind, row in self.by_kind().items():
            lines.append(f"{kind:<15}{row['requests']:>9}{row['errors']:>7}{row['p50_s']:>8.3f}{row['p95_s']:>8.3f}"
                         f"{row['max_s']:>8.3f}{LIMITS_S[kind]:>9.0f}")
        lines.append(f"{len(self.samples)} requests in {self.wall_s:.1f} s, {len(self.errors)} errors; server RSS "
                     f"{self.rss_before / 2**20:.0f} MB after the warm-up, {self.rss_after / 2**20:.0f} MB after "
                     f"the load ({self.rss_growth_mb:+.0f} MB, limit +{RSS_GROWTH_LIMIT_MB:.0f})")
        lines += [f"  error: {sample.kind}: {sample.error}" for sample in self.errors[:10]]
        return "\n".join(lines)


class Client:
    """One client of the load: its own connection pool, a seeded choice of requests, the shared task ids."""

    def __init__(self, http: httpx.AsyncClient, audio_path: str, model_id: str, tasks: list[str],
                 samples: list[Sample], rng: random.Random) -> None:
        self.http, self.audio_path, self.model_id = http, audio_path, model_id
        self.tasks, self.samples, self.rng = tasks, samples, rng

    async def run(self, requests: int) -> None:
        kinds = self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()), k=requests)
        for kind in kinds:
            await getattr(self, kind)()

    async def timed(self, kind: str, request: Awaitable[Any]) -> Any:
        """Await ``request`` and record how long it took and whether it failed (an exception or a non-2xx)."""
        start = time.perf_counter()
        error, value = None, None
        try:
            value = await request
            if isinstance(value, httpx.Response) and not value.is_success:
                error = f"HTTP {value.status_code}: {value.text[:200]}"
        except Exception as caught:  # a timeout, a refused or broken connection: all count as errors
            error = f"{type(caught).__name__}: {caught}"
        self.samples.append(Sample(kind, time.perf_counter() - start, error))
        return None if error else value

    async def list_models(self) -> None:
        await self.timed("list_models", self.http.get("/models"))

    async def task_status(self) -> None:
        await self.timed("task_status", self.http.get(f"/tasks/{self.rng.choice(self.tasks)}"))

    async def sse(self) -> None:
        await self.timed("sse", self.read_events(self.rng.choice(self.tasks), SSE_EVENTS))

    async def convert(self) -> None:
        body = {"model_id": self.model_id, "audio_path": self.audio_path, "params": CONVERT_PARAMS}
        created = await self.timed("convert_submit", self.http.post("/inference/tasks", json=body))
        if created is not None:
            task_id = created.json()["id"]
            self.tasks.append(task_id)
            await self.timed("convert_done", self.converted(task_id))

    async def converted(self, task_id: str) -> None:
        last = await self.read_events(task_id, None)
        if last != "completed":
            raise RuntimeError(f"conversion {task_id} ended {last}")

    async def read_events(self, task_id: str, count: int | None) -> str | None:
        """Read the task's progress stream until its final event or ``count`` events; the last event's name."""
        name, seen = None, 0
        async with self.http.stream("GET", f"/tasks/{task_id}/progress") as answer:
            answer.raise_for_status()
            async for line in answer.aiter_lines():
                if line.startswith("event: "):
                    name, seen = line.removeprefix("event: "), seen + 1
                    if name in FINAL or seen == count:
                        break
        return name


async def run_load(url: str, audio_path: str, model_id: str, clients: int, requests: int, tasks: list[str],
                   seed: int = 0) -> list[Sample]:
    """``clients`` concurrent clients making ``requests`` requests each against the API at ``url`` (…/api/v2).

    ``tasks`` (at least one id) are the tasks to poll and follow; the load's own conversions are added to it.
    """
    samples: list[Sample] = []
    timeout = httpx.Timeout(10.0, read=LIMITS_S["convert_done"])

    async def one(number: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=timeout) as http:
            await Client(http, audio_path, model_id, tasks, samples, random.Random(seed * 1000 + number)).run(requests)

    await asyncio.gather(*(one(number) for number in range(clients)))
    return samples


async def warm_up(url: str, audio_path: str, model_id: str, clients: int, seed: int) -> list[str]:
    """The first conversion (it starts the inference worker, which loads the models), then a short round of every
    client, so the server's thread pool and connections exist before the baseline RSS. Returns the task ids.
    """
    tasks: list[str] = []
    samples: list[Sample] = []
    async with httpx.AsyncClient(base_url=url, timeout=LIMITS_S["convert_done"]) as http:
        await Client(http, audio_path, model_id, tasks, samples, random.Random(seed)).convert()
    samples += await run_load(url, audio_path, model_id, clients, WARM_UP_REQUESTS, tasks, seed + 1)
    failed = [sample for sample in samples if sample.error]
    if failed:
        raise RuntimeError(f"the warm-up failed: {failed[:3]}")
    return tasks


def measure(url: str, server_pid: int, audio_path: str, model_id: str, clients: int = 20, requests: int = 25,
            seed: int = 0) -> LoadRun:
    """Warm up, take the server's RSS, run the load, and take the RSS again once the server has had
    `SETTLE_S` to finish what the load left.
    """
    server = psutil.Process(server_pid)
    tasks = asyncio.run(warm_up(url, audio_path, model_id, clients, seed))
    run = LoadRun(rss_before=server.memory_info().rss)
    start = time.perf_counter()
    run.samples = asyncio.run(run_load(url, audio_path, model_id, clients, requests, tasks, seed))
    run.wall_s = time.perf_counter() - start
    time.sleep(SETTLE_S)
    run.rss_after = server.memory_info().rss
    return run


def make_home(home: Path) -> str:
    """An RVC_HOME with the tiny model as `tiny`; returns the 1 s clip's path (in uploads/)."""
    from rvc.audio import load_audio, write_audio
    from tests.factories import tiny_pth

    (home / "assets" / "weights").mkdir(parents=True)
    shutil.copy(tiny_pth("tiny_v2_f0_40k"), home / "assets" / "weights" / "tiny.pth")
    rate_hz = 40_000
    clip = write_audio(home / "uploads" / "clip_1s.wav", load_audio(SOURCE, rate_hz)[: int(CLIP_SECONDS * rate_hz)],
                       rate_hz)
    return str(clip)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25, help="requests per client")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))  # run as a script: the project's packages (rvc, tests) are beside this folder
    from tests.factories import write_small_embedder
    from tests.integration.conftest import start_webui, stop

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        clip = make_home(home)
        write_small_embedder(home / "embedder")
        env = dict(os.environ, RVC_HOME=str(home), RVC_EMBEDDER=str(home / "embedder"), OMP_NUM_THREADS="1")
        process, url = start_webui(env)
        try:
            run = measure(f"{url}api/v2", process.pid, clip, "tiny", args.clients, args.requests, args.seed)
        finally:
            stop(process)
    print(run.report())
    print(json.dumps({"by_kind": run.by_kind(), "rss_before": run.rss_before, "rss_after": run.rss_after,
                      "violations": run.violations()}))
    return 1 if run.violations() else 0


if __name__ == "__main__":
    sys.exit(main())
