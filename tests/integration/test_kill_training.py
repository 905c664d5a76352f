"""kill -9 of `python -m rvc train` at random moments, three times, then a run to the end.

Each run is killed a seeded random time after its first checkpoint save: between 0 and 1.5 save intervals,
measured from the run's own epoch pace, so the kill lands anywhere in an interval (mid-step, mid-validation,
mid-save) whatever the machine's speed. After every kill all G_/D_ files must load, and the next run must resume
from the newest complete pair, losing at most one save interval of steps.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rvc.synth import load_checkpoint
from rvc.synth.checkpoint import read_torch_file
from rvc.train.checkpoints import CHECKPOINT_NAME, latest_checkpoint_pair
from tests.conftest import PROJECT_ROOT
from tests.unit.train.tiny_experiment import make_experiment, tiny_config

SEED = 1729
KILLS = 3
EPOCHS = 16  # each run ends at most 5 epochs after it resumed: 2 to its first save, 3 of delay
SAVE_EVERY = 2
STEPS_PER_EPOCH = 3  # 12 pieces, one held out for validation, batches of 4
SAVE_INTERVAL_STEPS = SAVE_EVERY * STEPS_PER_EPOCH
MAX_DELAY_INTERVALS = 1.5
RUN_TIMEOUT_S = 180


@dataclass
class TrainRun:
    """`python -m rvc train` in its own session, its JSON events collected (with arrival times) on a thread."""

    argv: list[str]
    env: dict[str, str]
    events: list[tuple[float, dict]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rvc", "train", *self.argv], cwd=PROJECT_ROOT, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.startswith("{"):
                with self.arrived:
                    self.events.append((time.monotonic(), json.loads(line)))
                    self.arrived.notify_all()
        with self.arrived:
            self.arrived.notify_all()

    def wait_for(self, predicate, timeout_s: float = RUN_TIMEOUT_S) -> tuple[float, dict]:
        """The first event matching ``predicate``; fails if the run ends or the time runs out first."""
        deadline = time.monotonic() + timeout_s
        with self.arrived:
            while True:
                found = next(((t, e) for t, e in self.events if predicate(e)), None)
                if found:
                    return found
                assert self.reader.is_alive(), f"the run ended first: {[e for _, e in self.events][-3:]}"
                assert time.monotonic() < deadline, "timed out waiting for an event"
                self.arrived.wait(0.5)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        self.reader.join(30)

    def finish(self) -> int:
        code = self.process.wait(RUN_TIMEOUT_S)
        self.reader.join(30)
        return code

    def of(self, kind: str) -> list[dict]:
        return [e for _, e in self.events if e["type"] == kind]

    def train_steps(self) -> list[int]:
        return [m["step"] for m in self.of("metric") if "val_loss_mel" not in m]

    def saved_steps(self) -> list[int]:
        return [int(CHECKPOINT_NAME.match(Path(a["path"]).name).group(2)) for a in self.of("artifact")
                if a["kind"] == "checkpoint" and Path(a["path"]).name.startswith("G_")]

    def resumed_step(self) -> int | None:
        line = next((e["message"] for e in self.of("log") if e["message"].startswith("resuming from")), None)
        return None if line is None else int(line.rsplit("step ", 1)[1])


def is_checkpoint(event: dict) -> bool:
    return event["type"] == "artifact" and event["kind"] == "checkpoint"


def check_every_checkpoint_loads(exp: Path) -> int:
    """Every G_/D_ file is a whole checkpoint: G builds a synthesizer, D holds discriminator weights."""
    paths = sorted(exp.glob("[GD]_*.pth"))
    for path in paths:
        if path.name.startswith("G_"):
            assert load_checkpoint(path).kind == "training"
        else:
            content = read_torch_file(path)
            assert all(key.startswith("discriminators.") for key in content["model"]), path
        assert isinstance(read_torch_file(path)["step"], int)
    return len(paths)


def pair_step(exp: Path) -> int:
    pair = latest_checkpoint_pair(exp)
    assert pair is not None
    return int(CHECKPOINT_NAME.match(pair[0].name).group(2))


def check_resumed(run: TrainRun, pair: int | None) -> None:
    """The run started from the newest complete pair (from scratch without one) and went on with the next step."""
    assert run.resumed_step() == pair
    assert run.train_steps()[0] == (pair or 0) + 1


@pytest.mark.slow
def test_three_kill_9s_at_random_moments_lose_at_most_one_save_interval(tmp_path: Path):
    exp = make_experiment(tmp_path / "logs", name="voice")
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(tiny_config()))
    env = dict(os.environ, RVC_HOME=str(tmp_path), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1",
               PYTHONPATH=str(PROJECT_ROOT))
    argv = ["voice", "--epochs", str(EPOCHS), "--batch-size", "4", "--save-every", str(SAVE_EVERY),
            "--config", str(config)]
    rng = random.Random(SEED)
    kills, checked, pair = [], 0, None

    for _ in range(KILLS):
        run = TrainRun(argv, env)
        try:
            saved_at, _ = run.wait_for(is_checkpoint)
            epoch_times = [t for t, e in run.events if e["type"] == "progress"]
            delay_s = rng.uniform(0, MAX_DELAY_INTERVALS) * SAVE_EVERY * (epoch_times[-1] - epoch_times[-2])
            time.sleep(max(0.0, saved_at + delay_s - time.monotonic()))
            assert run.process.poll() is None, "the run ended before its kill: raise EPOCHS"
        finally:
            run.kill()
        check_resumed(run, pair)
        last_metric = [m for m in run.of("metric") if "val_loss_mel" not in m][-1]
        killed_at, last_saved_seen, pair = last_metric["step"], max(run.saved_steps()), pair_step(exp)
        assert last_saved_seen <= pair <= killed_at  # a save may finish after its event was last read
        checked += check_every_checkpoint_loads(exp)
        kills.append({"delay_s": round(delay_s, 2), "killed_at": f"epoch {last_metric['epoch']} step {killed_at}",
                      "last_saved_seen": last_saved_seen, "newest_pair": pair, "lost_steps": killed_at - pair,
                      "leftover_tmp": len(list(exp.glob(".*.tmp")))})
        assert killed_at - pair <= SAVE_INTERVAL_STEPS, kills[-1]

    final = TrainRun(argv, env)
    assert final.finish() == 0
    check_resumed(final, pair)
    assert final.train_steps() == list(range(pair + 1, EPOCHS * STEPS_PER_EPOCH + 1))
    result = final.of("result")[-1]
    assert result["status"] == "completed" and result["data"]["step"] == EPOCHS * STEPS_PER_EPOCH
    assert not list(exp.glob(".*.tmp"))
    checked += check_every_checkpoint_loads(exp)
    print(f"\nkill -9 of a training (tiny config, {SAVE_INTERVAL_STEPS} steps per save interval); each run resumed "
          "at the previous kill's newest pair")
    for number, kill in enumerate(kills, 1):
        print(f"  kill {number}: {kill}")
    print(f"  final run resumed at step {pair}, completed at step {result['data']['step']}; "
          f"{checked} checkpoint file loads checked")
