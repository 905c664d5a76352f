"""An experiment's `config.json`: the original's train/data/model sections plus what this run needs to know.

The file lives in `logs/<exp>/` because every `G_*.pth` there is read with it (`rvc.synth.load_checkpoint`
looks for a config.json beside the checkpoint). Besides the original's three sections it records the
top-level "version" ("v1"/"v2") and "if_f0" (1/0), and optionally `"discriminator": {"periods": [...],
"channel_divisor": N}` for thinned discriminators in tests and smoke runs.

`prepare_experiment_config` is the one place that decides the file's content, for the CLI and for `train`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import soundfile

from rvc.atomic import write_json_atomic
from rvc.synth.config import PHONE_DIMS, SAMPLE_RATES_HZ, SynthesizerConfig
from rvc.synth.presets import experiment_config_path
from rvc.train.mel import MelConfig

CONFIG_NAME = "config.json"
FEATURE_DIRS = {"v1": "3_feature256", "v2": "3_feature768"}
FILELIST_COLUMNS = {True: 5, False: 3}  # gt_wav|feature|f0|f0nsf|sid or gt_wav|feature|sid
SHAPE_SECTIONS = ("data", "model", "discriminator")
RECORDED_KEYS = ("version", "if_f0")


@dataclass(frozen=True)
class RunConfig:
    """Everything one training run reads from config.json, with names and types settled."""

    synth: SynthesizerConfig
    mel: MelConfig
    segment_samples: int
    learning_rate: float
    betas: tuple[float, float]
    eps: float
    lr_decay: float
    seed: int
    log_interval: int
    c_mel: float
    c_kl: float
    mixed_precision: bool
    """The original's `train.fp16_run`: whether CUDA runs may use autocast (fp16 or bf16). Default true."""
    discriminator_periods: tuple[int, ...] | None = None
    discriminator_channel_divisor: int = 1

    @property
    def version(self) -> str:
        return self.synth.version

    @property
    def f0(self) -> bool:
        return self.synth.f0

    @property
    def segment_frames(self) -> int:
        return self.synth.segment_size

    def describe(self) -> str:
        """"v2 40k f0", as messages name a model kind."""
        return f"{self.version} {self.synth.sample_rate_tag} {'f0' if self.f0 else 'no-f0'}"


def load_run_config(path: str | os.PathLike) -> RunConfig:
    """Read an experiment config.json that records "version" and "if_f0" (see `prepare_experiment_config`)."""
    path = Path(path)
    return parse_run_config(json.loads(path.read_text()), str(path))


def parse_run_config(content: Mapping[str, Any], source: str) -> RunConfig:
    """The run config of a config.json's content; ``source`` names it in errors."""
    try:
        version, f0 = content["version"], bool(int(content["if_f0"]))
        train = content["train"]
        synth = SynthesizerConfig.from_experiment_sections(content, version, f0)
        mel = MelConfig.from_data_section(content["data"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{source}: not an RVC training config ({error!r} is missing or invalid)") from error
    discriminator = content.get("discriminator") or {}
    periods = discriminator.get("periods")
    return RunConfig(
        synth=synth,
        mel=mel,
        segment_samples=int(train["segment_size"]),
        learning_rate=float(train["learning_rate"]),
        betas=(float(train["betas"][0]), float(train["betas"][1])),
        eps=float(train["eps"]),
        lr_decay=float(train["lr_decay"]),
        seed=int(train.get("seed", 1234)),
        log_interval=int(train.get("log_interval", 200)),
        c_mel=float(train["c_mel"]),
        c_kl=float(train["c_kl"]),
        mixed_precision=bool(train.get("fp16_run", True)),
        discriminator_periods=tuple(int(p) for p in periods) if periods else None,
        discriminator_channel_divisor=int(discriminator.get("channel_divisor", 1)),
    )


def prepare_experiment_config(
    exp_dir: str | os.PathLike,
    sample_rate: str | None = None,
    version: str | None = None,
    f0: bool | None = None,
    source: str | os.PathLike | None = None,
) -> Path:
    """Make sure `exp_dir/config.json` exists, records version and if_f0, and agrees with what was asked.

    The content comes from ``source`` when given, else the experiment's own file, else the preset for
    (version, sample_rate). Values not given are taken from the file, then from the data (the feature
    folder's width, the filelist's column count, the rate of the first wav). A request that contradicts what
    the experiment records is an error rather than a silent override: features and checkpoints were made for
    the recorded values.
    """
    exp_dir = Path(exp_dir)
    target = exp_dir / CONFIG_NAME
    existing = json.loads(target.read_text()) if target.is_file() else None
    if source is not None:
        content = json.loads(Path(source).read_text())
    elif existing is not None:
        content = dict(existing)
    else:
        version = version or _data_version(exp_dir)
        sample_rate = sample_rate or _data_sample_rate(exp_dir)
        if version is None or sample_rate is None:
            raise ValueError(
                f"{exp_dir} has no {CONFIG_NAME} and its data does not tell the model kind: pass --sr and --version"
            )
        content = json.loads(experiment_config_path(version, sample_rate).read_text())

    content["version"] = _agree("version", version, content.get("version"), _data_version(exp_dir), exp_dir)
    if content["version"] not in PHONE_DIMS:
        raise ValueError(f"{exp_dir}: unknown model version {content['version']!r} (expected 'v1' or 'v2')")
    recorded_f0 = None if content.get("if_f0") is None else bool(int(content["if_f0"]))
    content["if_f0"] = int(_agree("f0", f0, recorded_f0, _data_f0(exp_dir), exp_dir))
    if sample_rate is not None:
        if sample_rate not in SAMPLE_RATES_HZ:
            raise ValueError(f"unknown sample rate {sample_rate!r} (expected one of {', '.join(SAMPLE_RATES_HZ)})")
        recorded_hz = int(content["data"]["sampling_rate"])
        if SAMPLE_RATES_HZ[sample_rate] != recorded_hz:
            raise ValueError(
                f"{exp_dir} is prepared for {recorded_hz} Hz but {sample_rate} was asked: "
                "preprocess the data again at that rate, or leave --sr out"
            )

    if content != existing:
        if existing is not None and _changes_shapes(existing, content) and any(exp_dir.glob("G_*.pth")):
            raise ValueError(
                f"{exp_dir} already has checkpoints trained with another model shape in its {CONFIG_NAME}; "
                "they cannot be continued with this config (start a new experiment)"
            )
        write_json_atomic(target, content)
    return target


def _changes_shapes(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether ``new`` builds other weights than ``old`` (training settings may change between runs).

    version and if_f0 count only when both record them: the original's config.json has neither.
    """
    if any((old.get(key) or {}) != (new.get(key) or {}) for key in SHAPE_SECTIONS):
        return True
    return any(key in old and key in new and old[key] != new[key] for key in RECORDED_KEYS)


def _agree(name: str, asked: Any, recorded: Any, from_data: Any, exp_dir: Path) -> Any:
    """The asked value when it matches the recorded one; otherwise the recorded, then the data's, value."""
    if asked is not None and recorded is not None and asked != recorded:
        raise ValueError(f"{exp_dir} records {name}={recorded!r} in its {CONFIG_NAME}, but {name}={asked!r} was asked")
    for value in (asked, recorded, from_data):
        if value is not None:
            return value
    raise ValueError(f"cannot tell the {name} of {exp_dir}: pass it explicitly")


def _data_version(exp_dir: Path) -> str | None:
    """v2 when only 3_feature768 has features, v1 when only 3_feature256 does."""
    found = [v for v, folder in FEATURE_DIRS.items() if any((exp_dir / folder).glob("*.npy"))]
    return found[0] if len(found) == 1 else None


def _data_f0(exp_dir: Path) -> bool | None:
    filelist = exp_dir / "filelist.txt"
    if not filelist.is_file():
        return None
    first = next((line for line in filelist.read_text(encoding="utf-8").splitlines() if line.strip()), "")
    columns = len(first.split("|"))
    return {count: f0 for f0, count in FILELIST_COLUMNS.items()}.get(columns)


def _data_sample_rate(exp_dir: Path) -> str | None:
    wav = next(iter(sorted((exp_dir / "0_gt_wavs").glob("*.wav"))), None)
    if wav is None:
        return None
    rate = soundfile.info(str(wav)).samplerate
    return next((tag for tag, hz in SAMPLE_RATES_HZ.items() if hz == rate), None)
