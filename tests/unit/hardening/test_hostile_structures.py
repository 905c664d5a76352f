"""Hostile-structure files (`tests.hostile_files`) against every reader: each refused fast, in one sentence that
names the file and the problem, without the memory the file asks for; the model list shows such a file with its
error and the other models intact, and never parses one in the server's process.

The readers run in a process of their own (`structure_probe`), whose peak memory starts from a clean baseline.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import torch

from rvc import service
from rvc.jobs.model_inspection import inspect_models
from tests.conftest import PROJECT_ROOT
from tests.factories import tiny_pth
from tests.hostile_files import HOSTILE_INDEXES, HOSTILE_MODELS, HostileFile
from tests.unit.hardening.conftest import HOSTILE_TALLY
from tests.unit.hardening.structure_probe import READERS, Reader

MAX_SECONDS = 2.0
MAX_PEAK_MB = 100
MAX_MESSAGE_CHARS = 700
CASES = [(hostile, reader) for hostile in HOSTILE_MODELS + HOSTILE_INDEXES for reader in READERS
         if reader.suffix == hostile.suffix]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    folder = tmp_path_factory.mktemp("hostile-structures")
    for hostile in HOSTILE_MODELS + HOSTILE_INDEXES:
        hostile.write(folder)
    request.config.stash.setdefault(HOSTILE_TALLY, Counter())["files"] += len(HOSTILE_MODELS + HOSTILE_INDEXES)
    return folder


@pytest.fixture(scope="module")
def probed(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict]:
    """(file, reader) -> what the probe measured."""
    home = tmp_path_factory.mktemp("probe-home")
    done = subprocess.run([sys.executable, "-m", "tests.unit.hardening.structure_probe", str(corpus), str(home)],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {(line["file"], line["reader"]): line for line in lines}


def complaint(message: str | None, name: str, problem: str) -> str | None:
    """None when ``message`` is one short sentence naming ``name`` and saying ``problem``."""
    if message is None:
        return "no error"
    if name not in message or "\n" in message or len(message) > MAX_MESSAGE_CHARS:
        return f"not one short sentence naming {name}: {message[:300]!r}"
    return None if re.search(problem, message) else f"does not say /{problem}/: {message!r}"


@pytest.mark.parametrize(("hostile", "reader"), CASES, ids=[f"{h.name}-{r.name}" for h, r in CASES])
def test_each_reader_refuses_each_file_fast_and_without_its_memory(
    hostile: HostileFile, reader: Reader, probed: dict, hostile_tally: Counter
) -> None:
    result = probed[(hostile.name, reader.name)]
    assert result["seconds"] < MAX_SECONDS, result
    assert result["peak_mb"] < MAX_PEAK_MB, result
    if reader.upload and not hostile.at_upload:  # its layout is sound: what it builds is judged when it is read
        assert result["error_type"] is None, result
        return
    hostile_tally["tries"] += 1
    assert result["error_type"] == reader.error.__name__, result
    problem = complaint(result["message"], f"{hostile.name}{hostile.suffix}" if reader.names_file else "",
                        hostile.problem)
    hostile_tally.update(clear=int(problem is None))
    assert problem is None


class PeakRss:
    """This process's resident memory, sampled every few milliseconds while the block runs (the peak above the
    start, in MB)."""

    def __enter__(self) -> PeakRss:
        self.process = psutil.Process()
        self.start = self.highest = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.highest = max(self.highest, self.process.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.highest = max(self.highest, self.process.memory_info().rss)

    @property
    def mb(self) -> float:
        return (self.highest - self.start) / 2**20


@pytest.fixture()
def weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, corpus: Path) -> Iterator[Path]:
    """An RVC home's assets/weights, the tiny model beside every hostile model, with the service's runner."""
    folder = tmp_path / "home" / "assets" / "weights"
    folder.mkdir(parents=True)
    shutil.copy(tiny_pth("tiny_v2_f0_40k"), folder / "tiny.pth")
    for hostile in HOSTILE_MODELS:
        shutil.copy(corpus / f"{hostile.name}.pth", folder)
    monkeypatch.setenv("RVC_HOME", str(tmp_path / "home"))
    service.start_jobs(command=[sys.executable, "-c", "pass"])  # no task runs here
    yield folder
    service.stop_jobs()


def test_the_list_shows_each_hostile_model_with_its_error_and_the_others_intact(weights: Path, monkeypatch):
    with PeakRss() as memory:
        start = time.perf_counter()
        listed = {model["model_id"]: model for model in service.list_models_detailed()}
        seconds = time.perf_counter() - start
    assert memory.mb < MAX_PEAK_MB and seconds < 20  # one child reads them all: its start (~2 s) included
    assert listed["tiny"]["error"] is None and listed["tiny"]["version"] == "v2" and listed["tiny"]["info"] == "1epoch"
    for hostile in HOSTILE_MODELS:
        model = listed[hostile.name]
        assert complaint(model["error"], f"{hostile.name}.pth", hostile.problem) is None
        assert (model["version"], model["info"], model["size_bytes"]) == (None, None, (weights / f"{hostile.name}.pth")
                                                                         .stat().st_size)

    def no_child(*args, **kwargs):
        raise AssertionError("a second listing read a file again")

    monkeypatch.setattr("rvc.service.models.inspect_models", no_child)
    assert {model["model_id"]: model for model in service.list_models_detailed()} == listed
    assert len(json.dumps(listed)) < 20_000  # the probe's listing was 100 MB


def test_a_file_changed_since_it_was_refused_is_read_again(weights: Path):
    assert service.model_detail("nested-info")["error"]
    shutil.copy(tiny_pth("tiny_v2_f0_40k"), weights / "nested-info.pth")
    assert service.model_detail("nested-info")["error"] is None


def stand_in(script: str) -> list[str]:
    """A stand-in for `python -m rvc inspect`: ``script`` with the paths in ``sys.argv`` after "--"."""
    return [sys.executable, "-c", "import json, os, sys, time\npaths = sys.argv[sys.argv.index('--') + 1:]\n" + script]


ANSWER = "print(json.dumps({'path': paths[0], 'info': {'version': 'v2'}}), flush=True)\n"


def test_a_file_that_stalls_the_reader_gets_an_error_and_the_rest_a_fresh_reader(tmp_path: Path):
    paths = [tmp_path / f"{name}.pth" for name in ("good", "stalls", "after")]
    script = ANSWER + "if paths[0].endswith('good.pth'):\n    time.sleep(60)\n"  # a fresh child answers its first
    start = time.perf_counter()
    answers = inspect_models(paths, timeout_s=1.0, command=stand_in(script))
    assert time.perf_counter() - start < 10
    assert answers[paths[0]].info == {"version": "v2"}
    assert re.search(r"stalls\.pth: reading it took longer than 1 s, so it was stopped", answers[paths[1]].error)
    assert answers[paths[2]].info == {"version": "v2"}


def test_a_file_that_kills_the_reader_gets_an_error(tmp_path: Path):
    paths = [tmp_path / "crashes.pth", tmp_path / "next.pth"]
    script = "if paths[0].endswith('crashes.pth'):\n    os.abort()\n" + ANSWER
    answers = inspect_models(paths, command=stand_in(script))
    assert re.search(r"crashes\.pth: reading it stopped the reader process \(killed by SIGABRT",
                     answers[paths[0]].error)
    assert answers[paths[1]].info == {"version": "v2"}


def test_the_reader_process_keeps_to_its_memory_limit(tmp_path: Path):
    """A sound file that needs more memory than the child may take: the limit stops the child, not the machine."""
    path = tmp_path / "big.pth"
    torch.save({"weight": {"emb_g.weight": torch.zeros(16 * 2**20)}, "config": [], "version": "v2"}, path)  # 64 MB
    answers = inspect_models([path], memory_mb=16)
    assert re.search(r"big\.pth: loading it takes more memory than this process may use", answers[path].error)
