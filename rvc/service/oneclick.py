"""One click: preprocess, extract, train, index, then a test conversion with the new voice, under one progress.

A service, since it drives both the training steps and the conversion every front end runs.

Presets choose epochs, batch size, save frequency and the f0 method (the README has the table). A run config
(`config`) and an epoch count override them, which is how tests train a tiny model in seconds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rvc.assets import pretrained_pair
from rvc.config import get_paths
from rvc.events import EventSink
from rvc.infer.converter import ConvertParams, convert
from rvc.train.extract import extract
from rvc.train.index import train_index
from rvc.train.params import OneClickParams
from rvc.train.preprocess import audition_samples, preprocess
from rvc.train.trainer import train
from rvc.vocabulary import ONECLICK_PRESETS


@dataclass(frozen=True)
class Preset:
    epochs: int
    batch_size: int
    save_every: int
    f0_method: str


PRESETS = {
    "fast": Preset(epochs=20, batch_size=4, save_every=10, f0_method="pm"),
    "standard": Preset(epochs=100, batch_size=8, save_every=25, f0_method="rmvpe"),
    "high": Preset(epochs=300, batch_size=8, save_every=50, f0_method="rmvpe"),
}
if tuple(PRESETS) != ONECLICK_PRESETS:  # the vocabulary names the presets defined here, no more, no less
    raise ImportError(f"one-click presets {tuple(PRESETS)} differ from rvc.vocabulary.ONECLICK_PRESETS")

# Share of the overall progress bar each stage takes (training dominates).
STAGES = (("preprocess", 5), ("extract", 15), ("train", 70), ("index", 5), ("convert", 5))


class OverallProgress(EventSink):
    """Forwards every event, and folds each stage's progress into one bar over the whole run (stage "oneclick")."""

    def __init__(self, sink: EventSink) -> None:
        self.sink = sink
        self.stage = 0
        self.done = 0

    def emit(self, event: dict[str, Any]) -> None:
        self.sink.emit(event)
        if event["type"] == "progress" and event["total"]:
            self._overall(event["done"] / event["total"], f"{event['stage']}: {event.get('message', '')}")

    def enter(self, stage: int) -> None:
        self.stage = stage
        self._overall(0.0, STAGES[stage][0])

    def finish(self) -> None:
        self.stage = len(STAGES) - 1
        self._overall(1.0, "done")

    def _overall(self, fraction: float, message: str) -> None:
        before = sum(weight for _, weight in STAGES[: self.stage])
        # A step may run sub-stages that each count from 0 (extract: pitch, then features): never go back.
        self.done = max(self.done, round(10 * (before + STAGES[self.stage][1] * min(fraction, 1.0))))
        self.sink.emit({"type": "progress", "stage": "oneclick", "done": self.done, "total": 1000,
                        "message": message})

    def close(self) -> None:
        self.sink.close()


def one_click(
    name: str,
    dataset: str | os.PathLike,
    params: OneClickParams | None = None,
    config: str | os.PathLike | None = None,
    sink: EventSink | None = None,
    inference: ConvertParams | None = None,
    roots: Sequence[str | os.PathLike] | None = None,
) -> dict[str, Any]:
    """Train a voice from ``dataset`` end to end; returns the model, index and test audio paths (the test
    conversion, with ``inference`` or the preset's pitch method, when ``params.test_conversion``). ``roots``: the
    folders the dataset's files must lie in (`rvc.train.preprocess.dataset_files`)."""
    params = (params or OneClickParams()).validate()
    choice = PRESETS[params.preset]
    epochs = params.epochs or choice.epochs
    f0_method = choice.f0_method if params.f0 else None
    progress = OverallProgress(sink or EventSink())
    exp_dir = get_paths().logs / name
    n_proc = max(1, min(2, os.cpu_count() or 1))  # a one-click dataset is small: more processes cost more to start

    progress.enter(0)
    preprocess(exp_dir, dataset, params.sample_rate, n_proc, progress, config, roots)
    progress.enter(1)
    extract(exp_dir, f0_method, params.version, params.devices, progress)  # threads: one per core cost nothing
    progress.enter(2)
    pretrained = None if config else pretrained_pair(params.version, params.sample_rate, params.f0)
    if pretrained is None:
        progress.log("no pretrained base model for this rate/version: training starts from random weights",
                     level="warning")
    trained = train(exp_dir, epochs, choice.batch_size, choice.save_every, latest_only=True,
                    pretrained_g=pretrained and pretrained[0], pretrained_d=pretrained and pretrained[1],
                    devices=params.devices, sink=progress, model_name=name)
    if trained.get("status") == "paused":
        return {"status": "paused", "experiment": str(exp_dir)}
    progress.enter(3)
    index = train_index(exp_dir, progress)
    progress.enter(4)
    model_path = str(get_paths().weights / f"{name}.pth")
    artifacts = {"model": model_path, "index": index["index_path"]}
    test_audio = None
    if params.test_conversion:
        conversion = inference or ConvertParams(f0_method=choice.f0_method, noise_scale=0.0)
        artifacts["ref_audio"], test_audio = _test_conversion(exp_dir, name, index["index_path"], conversion, progress)
        artifacts["test_audio"] = test_audio
    progress.finish()
    for kind, path in artifacts.items():
        progress.artifact(kind, path)
    return {"model_path": model_path, "index_path": index["index_path"], "test_audio": test_audio,
            "experiment": str(exp_dir), "preset": params.preset, "epochs": epochs}


def _test_conversion(
    exp_dir: Path, name: str, index_path: str, params: ConvertParams, sink: EventSink
) -> tuple[str, str]:
    """(the piece converted, the conversion) of one piece of the dataset with the new model."""
    piece = audition_samples(exp_dir, k=1, seed=0)[0]
    output = exp_dir / "test_conversion.wav"
    convert(piece, get_paths().weights / f"{name}.pth", output, params, index=index_path, progress=sink.progress)
    return str(piece), str(output)
