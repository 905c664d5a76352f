"""The trainer on a tiny experiment: events, checkpoints, validation, resume, pause, fine-tuning, crash safety."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from rvc.events import EventSink
from rvc.synth import CheckpointError, Synthesizer, load_checkpoint, load_synthesizer
from rvc.synth.discriminators import MultiPeriodDiscriminator
from rvc.synth.presets import preset_config
from rvc.train.checkpoints import (
    latest_checkpoint_pair,
    load_pretrained_discriminator,
    load_pretrained_generator,
)
from rvc.train.run_config import load_run_config
from rvc.train.trainer import log_interval, train
from tests.conftest import PROJECT_ROOT
from tests.unit.train.tiny_experiment import make_experiment, tiny_config

METRIC_KEYS = {
    "loss_g", "loss_d", "loss_mel", "loss_kl", "loss_fm", "lr", "grad_norm_g", "grad_norm_d", "epoch", "step",
}
SINGLE_THREAD = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(PROJECT_ROOT))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The tiny models run fastest on one thread, and on a shared machine spinning OpenMP threads cost 10x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class RecordingSink(EventSink):
    """Keeps the events; ``on_event`` may act on them (e.g. ask for a pause at some step)."""

    def __init__(self, on_event: Callable[[dict], None] | None = None) -> None:
        super().__init__(io.StringIO(), json_lines=True)
        self.events: list[dict] = []
        self.on_event = on_event

    def emit(self, event: dict) -> None:
        self.events.append(event)
        if self.on_event:
            self.on_event(event)

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["type"] == kind]

    def train_metrics(self) -> list[dict]:
        return [e for e in self.of("metric") if "loss_g" in e and "val_loss_mel" not in e]


def pause_at(exp: Path, step: int) -> Callable[[dict], None]:
    def on_event(event: dict) -> None:
        if event["type"] == "metric" and event.get("step") == step and "loss_g" in event:
            (exp / "pause.request").touch()

    return on_event


@pytest.fixture()
def home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("RVC_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def completed(tmp_path_factory) -> tuple[Path, Path, RecordingSink]:
    """12 pieces (1 held out), batch 4: 3 steps per epoch, 3 epochs, checkpoints at epochs 2 and 3."""
    root = tmp_path_factory.mktemp("completed")
    exp = make_experiment(root / "logs")
    sink = RecordingSink()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RVC_HOME", str(root))
        result = train(exp, epochs=3, batch_size=4, save_every=2, sink=sink)
    assert result["status"] == "completed"
    return exp, root / "assets" / "weights", sink


def test_metric_events_have_every_key_and_count_from_one(completed):
    exp, _, sink = completed
    metrics = sink.train_metrics()
    assert [m["step"] for m in metrics] == list(range(1, 10))
    assert [m["epoch"] for m in metrics] == [1] * 3 + [2] * 3 + [3] * 3
    for metric in metrics:
        assert set(metric) - {"type"} == METRIC_KEYS
        assert all(isinstance(metric[k], float) and metric[k] == metric[k] for k in METRIC_KEYS - {"epoch", "step"})
    assert metrics[0]["lr"] == pytest.approx(1e-4) and metrics[-1]["lr"] == pytest.approx(1e-4 * 0.999875**2)
    logged = [json.loads(line) for line in (exp / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in logged] == [1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 9]  # a step's last record is complete
    assert logged[6] == {**logged[5], "val_loss_mel": logged[6]["val_loss_mel"], "time": logged[6]["time"]}


def test_progress_per_epoch_and_a_final_result(completed):
    _, weights, sink = completed
    progress = sink.of("progress")
    assert [(p["stage"], p["done"], p["total"]) for p in progress] == [("train", e, 3) for e in (1, 2, 3)]
    assert "ETA" in progress[0]["message"]
    result = sink.events[-1]
    assert result["type"] == "result" and result["status"] == "completed"
    assert result["data"]["step"] == 9 and result["data"]["model"] == str(weights / "tiny.pth")


def test_checkpoints_are_the_original_layout_and_load_as_models(completed):
    exp, _, sink = completed
    assert sorted(p.name for p in exp.glob("[GD]_*.pth")) == ["D_6.pth", "D_9.pth", "G_6.pth", "G_9.pth"]
    content = torch.load(exp / "G_6.pth", weights_only=True)
    assert {"model", "iteration", "optimizer", "learning_rate"} <= set(content)
    assert (content["iteration"], content["step"], content["next_epoch"], content["next_batch"]) == (2, 6, 3, 0)
    loaded = load_checkpoint(exp / "G_9.pth")
    assert loaded.kind == "training" and loaded.config == load_run_config(exp / "config.json").synth
    model = load_synthesizer(exp / "G_9.pth")
    phone = torch.randn(1, 20, 768)
    audio = model.infer(phone, torch.tensor([20]), torch.full((1, 20), 50), torch.full((1, 20), 150.0),
                        torch.tensor([0]), noise_scale=0)
    assert audio.shape == (1, 1, 20 * 400) and torch.isfinite(audio).all()
    d_state = torch.load(exp / "D_9.pth", weights_only=True)["model"]
    assert any(key.startswith("discriminators.2.") for key in d_state)
    assert [e["path"] for e in sink.of("artifact") if e["kind"] == "checkpoint"] == [
        str(exp / name) for name in ("G_6.pth", "D_6.pth", "G_9.pth", "D_9.pth")
    ]


def test_validation_writes_previews_and_keeps_the_best_model(completed):
    exp, weights, sink = completed
    validation = [e for e in sink.of("metric") if "val_loss_mel" in e]
    assert [(v["epoch"], v["step"]) for v in validation] == [(2, 6), (3, 9)]
    assert all(set(v) - {"type"} == METRIC_KEYS | {"val_loss_mel"} for v in validation)  # the step's losses too
    previews = [e["path"] for e in sink.of("artifact") if e["kind"] == "audio"]
    assert previews == [str(exp / "previews" / "e2_s6.wav"), str(exp / "previews" / "e3_s9.wav")]
    assert all(Path(p).stat().st_size > 1000 for p in previews)
    best = torch.load(weights / "tiny_best.pth", weights_only=True)
    assert best["info"] in ("2epoch", "3epoch") and best["sr"] == "40k" and best["version"] == "v2"
    assert sink.events[-1]["data"]["best_val_loss_mel"] == min(v["val_loss_mel"] for v in validation)
    assert load_synthesizer(weights / "tiny.pth").info.info == "3epoch"


def test_a_finished_run_asked_for_more_epochs_trains_only_those(completed, monkeypatch):
    exp, weights, _ = completed
    monkeypatch.setenv("RVC_HOME", str(weights.parent.parent))
    again = RecordingSink()
    assert train(exp, epochs=3, batch_size=4, save_every=2, sink=again)["status"] == "completed"
    assert again.train_metrics() == []
    more = RecordingSink()
    train(exp, epochs=4, batch_size=4, save_every=2, sink=more)
    assert [(m["epoch"], m["step"]) for m in more.train_metrics()] == [(4, 10), (4, 11), (4, 12)]


def test_mel_loss_falls_when_overfitting_a_fixed_batch(tmp_path: Path, home: Path):
    config = tiny_config()
    config["train"]["learning_rate"] = 1e-3
    exp = make_experiment(tmp_path, pieces=2, config=config)  # too few pieces to hold any out: one batch
    sink = RecordingSink()
    train(exp, epochs=30, batch_size=2, save_every=100, sink=sink)
    mel = [m["loss_mel"] for m in sink.train_metrics()]
    assert len(mel) == 30
    first, last = sum(mel[:5]) / 5, sum(mel[-5:]) / 5
    assert last < 0.8 * first, f"loss_mel {first:.1f} -> {last:.1f}"


def test_pause_mid_epoch_then_resume_is_continuous(tmp_path: Path, home: Path):
    exp = make_experiment(tmp_path)
    first = RecordingSink(pause_at(exp, 4))  # the first step of epoch 2
    result = train(exp, epochs=4, batch_size=4, save_every=10, sink=first)
    assert result["status"] == "paused" and first.events[-1]["status"] == "paused"
    assert not (exp / "pause.request").exists()
    paused = torch.load(exp / "G_4.pth", weights_only=True)
    assert (paused["step"], paused["next_epoch"], paused["next_batch"]) == (4, 2, 1)

    second = RecordingSink()
    assert train(exp, epochs=4, batch_size=4, save_every=10, sink=second)["status"] == "completed"
    steps = [(m["epoch"], m["step"]) for m in first.train_metrics() + second.train_metrics()]
    assert steps == [(1 + (s - 1) // 3, s) for s in range(1, 13)]
    final = torch.load(exp / "G_12.pth", weights_only=True)
    adam_steps = {float(state["step"]) for state in final["optimizer"]["state"].values()}
    assert adam_steps == {12.0}  # AdamW's moments were restored, not restarted
    assert final["scheduler"]["last_epoch"] == 4
    lrs = {m["epoch"]: m["lr"] for m in first.train_metrics() + second.train_metrics()}
    assert lrs == {e: pytest.approx(1e-4 * 0.999875 ** (e - 1)) for e in (1, 2, 3, 4)}


def test_pause_after_epoch_two_resumes_at_epoch_three_keeping_one_pair(tmp_path: Path, home: Path):
    exp = make_experiment(tmp_path)
    first = RecordingSink(pause_at(exp, 6))  # the last step of epoch 2: the epoch is finished first
    assert train(exp, epochs=10, batch_size=4, save_every=1, latest_only=True, sink=first)["status"] == "paused"
    assert [p["done"] for p in first.of("progress")] == [1, 2]
    second = RecordingSink()
    train(exp, epochs=3, batch_size=4, save_every=1, latest_only=True, sink=second)
    assert {m["epoch"] for m in second.train_metrics()} == {3}
    assert sorted(p.name for p in exp.glob("[GD]_*.pth")) == ["D_2333333.pth", "G_2333333.pth"]
    assert torch.load(exp / "G_2333333.pth", weights_only=True)["step"] == 9
    assert latest_checkpoint_pair(exp) == (exp / "G_2333333.pth", exp / "D_2333333.pth")


def test_save_small_each_exports_per_checkpoint(tmp_path: Path, home: Path):
    exp = make_experiment(tmp_path, pieces=4, f0=False)
    sink = RecordingSink()
    train(exp, epochs=2, batch_size=4, save_every=1, save_small_each=True, model_name="voice", sink=sink)
    weights = home / "assets" / "weights"
    assert sorted(p.name for p in weights.iterdir()) == ["voice.pth", "voice_e1_s1.pth", "voice_e2_s2.pth"]
    model = load_synthesizer(weights / "voice_e1_s1.pth")
    assert not model.config.f0 and model.info.info == "1epoch"


def test_pretrained_models_must_fit_the_experiment(completed, tmp_path: Path):
    exp, _, _ = completed
    config = load_run_config(exp / "config.json")
    generator = Synthesizer(config.synth)
    load_pretrained_generator(exp / "G_9.pth", generator, config)
    saved = torch.load(exp / "G_9.pth", weights_only=True)["model"]
    assert torch.equal(generator.state_dict()["enc_p.emb_phone.weight"], saved["enc_p.emb_phone.weight"])
    discriminator = MultiPeriodDiscriminator("v2", (2, 3), 16)
    load_pretrained_discriminator(exp / "D_9.pth", discriminator, config)

    v1 = tmp_path / "v1_G.pth"
    torch.save({"model": Synthesizer(config.synth.replace(version="v1")).state_dict()}, v1)
    with pytest.raises(CheckpointError, match="is a v1 .* f0 model, but this experiment trains a v2 40k f0"):
        load_pretrained_generator(v1, generator, config)
    no_f0 = tmp_path / "nof0_G.pth"
    torch.save({"model": Synthesizer(config.synth.replace(f0=False)).state_dict()}, no_f0)
    with pytest.raises(CheckpointError, match="no-f0 model, but this experiment trains a v2 40k f0"):
        load_pretrained_generator(no_f0, generator, config)
    v1_d = tmp_path / "v1_D.pth"
    torch.save({"model": MultiPeriodDiscriminator("v1", channel_divisor=16).state_dict()}, v1_d)
    with pytest.raises(CheckpointError, match="has 7 sub-discriminators \\(the v1 layout\\).* stores no config"):
        load_pretrained_discriminator(v1_d, discriminator, config)
    with pytest.raises(CheckpointError, match="this is a pretrained G, given where a D"):
        load_pretrained_discriminator(exp / "G_9.pth", discriminator, config)


def test_pretrained_of_another_rate_names_both_rates(tmp_path: Path):
    with torch.device("meta"):
        config_48k = preset_config("v2", "48k")
    state = {k: torch.zeros(v.shape, dtype=torch.float16) for k, v in Synthesizer(config_48k).state_dict().items()}
    path = tmp_path / "f0G48k.pth"
    torch.save({"model": state}, path)
    experiment = make_experiment(tmp_path, pieces=1, config={
        **json.loads((PROJECT_ROOT / "configs" / "v1" / "40k.json").read_text()), "version": "v2", "if_f0": 1
    })
    config = load_run_config(experiment / "config.json")
    with torch.device("meta"):
        model = Synthesizer(config.synth)
    with pytest.raises(CheckpointError, match="is a v2 48k f0 model, but this experiment trains a v2 40k f0"):
        load_pretrained_generator(path, model, config)


def test_train_refuses_a_mismatched_pretrained_g_before_training(tmp_path: Path, home: Path):
    exp = make_experiment(tmp_path, pieces=2)
    config = load_run_config(exp / "config.json")
    v1 = tmp_path / "v1_G.pth"
    torch.save({"model": Synthesizer(config.synth.replace(version="v1")).state_dict()}, v1)
    with pytest.raises(CheckpointError, match="v1_G.pth: the pretrained G is a v1"):
        train(exp, epochs=1, batch_size=2, save_every=1, pretrained_g=v1, sink=RecordingSink())
    assert not list(exp.glob("G_*.pth"))


def test_log_interval_is_capped_for_small_epochs():
    assert log_interval(200, 3) == 1
    assert log_interval(200, 50) == 5
    assert log_interval(200, 100_000) == 200


BLOCKING_RUN = """
import os, sys, time
from pathlib import Path
real_replace = os.replace
def blocking_replace(src, dst, *args, **kwargs):
    if Path(dst).name == sys.argv[2]:
        print("BLOCKED", flush=True)
        time.sleep(600)
    return real_replace(src, dst, *args, **kwargs)
os.replace = blocking_replace
from rvc.__main__ import main
sys.exit(main(["train", sys.argv[1], "--epochs", "4", "--batch-size", "4", "--save-every", "1"]))
"""


def test_kill_9_during_a_save_leaves_only_complete_checkpoints(tmp_path: Path, home: Path):
    exp = make_experiment(tmp_path / "logs", pieces=4)  # 1 step per epoch
    script = tmp_path / "blocking_run.py"
    script.write_text(textwrap.dedent(BLOCKING_RUN))
    process = subprocess.Popen(
        [sys.executable, str(script), str(exp), "G_2.pth"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True,
        env=SINGLE_THREAD,
    )
    try:
        deadline = time.monotonic() + 120
        for line in process.stdout:
            if line.strip() == "BLOCKED" or time.monotonic() > deadline:
                break
        process.send_signal(signal.SIGKILL)  # while G_2.pth is written but not yet renamed
    finally:
        process.kill()
        process.wait()
    assert sorted(p.name for p in exp.glob("[GD]_*.pth")) == ["D_1.pth", "D_2.pth", "G_1.pth"]
    assert len(list(exp.glob(".G_2.pth.*.tmp"))) == 1
    assert latest_checkpoint_pair(exp) == (exp / "G_1.pth", exp / "D_1.pth")

    sink = RecordingSink()
    train(exp, epochs=3, batch_size=4, save_every=1, sink=sink)
    assert not list(exp.glob(".*.tmp"))
    assert any("removed .G_2.pth" in e["message"] for e in sink.of("log"))
    assert [(m["epoch"], m["step"]) for m in sink.train_metrics()] == [(2, 2), (3, 3)]
    assert load_checkpoint(exp / "G_3.pth").info.info == "iteration 3"


@pytest.mark.slow
def test_two_process_ddp_on_cpu_pauses_and_resumes(tmp_path: Path, home: Path):
    exp = make_experiment(tmp_path, pieces=12)  # 11 training pieces: 12 per epoch padded, 3 batches of 2 per rank
    first = RecordingSink(pause_at(exp, 1))  # both ranks must agree on the step they stop at
    assert train(exp, epochs=3, batch_size=2, save_every=1, devices="cpu:2", sink=first)["status"] == "paused"
    paused = first.events[-1]["data"]["step"]
    second = RecordingSink()
    assert train(exp, epochs=3, batch_size=2, save_every=1, devices="cpu:2", sink=second)["status"] == "completed"
    steps = [(m["epoch"], m["step"]) for m in first.train_metrics() + second.train_metrics()]
    assert [s for _, s in steps] == list(range(1, 10)) and paused < 9
    assert [e for e, _ in steps] == [1] * 3 + [2] * 3 + [3] * 3
    assert load_checkpoint(exp / "G_9.pth").kind == "training"
    assert (home / "assets" / "weights" / "tiny.pth").is_file()


@pytest.mark.slow
def test_full_size_v2_40k_training_step(tmp_path: Path, home: Path):
    """One step of the standard model at batch 1 (the original: ~4 s per step on this CPU)."""
    from rvc.train.distributed import parse_devices
    from rvc.train.pause import PauseWatch
    from rvc.train.trainer import TrainingSession, TrainJob

    full = {**json.loads((PROJECT_ROOT / "configs" / "v1" / "40k.json").read_text()), "version": "v2", "if_f0": 1}
    exp = make_experiment(tmp_path, pieces=1, config=full, seconds=(3.5, 3.7))
    job = TrainJob(exp, 1, 1, 1, False, False, False, None, None, "full", home / "assets" / "weights")
    session = TrainingSession(job, parse_devices("cpu"), 0, RecordingSink(), PauseWatch(exp))
    (batch,) = list(session.batches.epoch(1))
    start = time.perf_counter()
    values = session.train_step(batch, measure=True)
    seconds = time.perf_counter() - start
    assert set(values) == METRIC_KEYS - {"epoch", "step"}
    assert all(torch.isfinite(torch.tensor(v)) for v in values.values())
    print(f"full-size v2 40k step at batch 1: {seconds:.2f} s")
