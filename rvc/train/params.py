"""The parameters of the training steps, the export and one click, each described once (`rvc.params`).

The aliases are the RVC WebUI v2 API's names (``thread_count``, ``gpu_id``, ``total_epoch``, ``save_every_epoch``),
so its request bodies are accepted as written. Devices are "auto" by default everywhere: every GPU when the machine
has any, else the CPU (`rvc.train.distributed.device_plan`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from rvc.params import ParameterError, Params, param
from rvc.vocabulary import AUTO_DEVICES, F0_METHODS, ONECLICK_PRESETS, SAMPLE_RATES, VERSIONS

DEVICES_HELP = "auto (every GPU, else the CPU), cpu, a GPU number (0) or several (0-1)"
DEVICE_ALIASES = ("gpu_id", "gpu_ids")
AUTO_BASE_MODEL = "auto"
DEVICES = re.compile(r"^(auto|cpu|cpu:\d+|\d+([-,]\d+)*)$")


class OnDevices(Params):
    """Parameters with a ``devices`` field, checked against `DEVICES`."""

    devices: str

    def _check(self) -> None:
        if not DEVICES.match(self.devices.strip().lower()):
            raise ParameterError(f"devices={self.devices!r}: use {DEVICES_HELP}")


@dataclass(frozen=True)
class PreprocessParams(Params):
    action: ClassVar[str] = "preprocess"

    n_proc: int | None = param(None, "worker processes (default: one per CPU core)", minimum=1,
                               aliases=("thread_count",))


@dataclass(frozen=True)
class IndexParams(Params):
    action: ClassVar[str] = "index"

    n_cpu: int | None = param(None, "CPU threads for k-means (default: all)", minimum=1, aliases=("thread_count",))


@dataclass(frozen=True)
class ExtractParams(OnDevices):
    action: ClassVar[str] = "extract"

    f0_method: str = param("rmvpe", "pitch extraction method (rmvpe: best; pm: fastest; harvest: slow)",
                         choices=F0_METHODS)
    devices: str = param(AUTO_DEVICES, DEVICES_HELP, aliases=DEVICE_ALIASES)


@dataclass(frozen=True)
class TrainParams(OnDevices):
    action: ClassVar[str] = "training"

    epochs: int = param(20, "train up to this epoch, counted from 1 (200 to 500 for small datasets)",
                        minimum=1, maximum=100_000, aliases=("total_epoch",))
    batch_size: int = param(8, "pieces per step and per GPU; lower it if the GPU runs out of memory",
                            minimum=1, maximum=1024)
    save_every: int = param(5, "save a checkpoint every N epochs", minimum=1, maximum=100_000,
                            aliases=("save_every_epoch",))
    latest_only: bool = param(False, "keep only the latest G_/D_ checkpoint pair (saves disk space)")
    cache_in_gpu: bool = param(False, "keep the whole dataset on the device (faster for datasets under 10 minutes)")
    save_small_each: bool = param(False, "also export a small model NAME_eEPOCH_sSTEP.pth at every checkpoint")
    pretrained_g: str | None = param(AUTO_BASE_MODEL, "base G to fine-tune from: auto (the ecosystem's for the "
                                     "model's kind, when present), none, or a path")
    pretrained_d: str | None = param(AUTO_BASE_MODEL, "base D to fine-tune from: auto, none, or a path")
    devices: str = param(AUTO_DEVICES, DEVICES_HELP, aliases=DEVICE_ALIASES)


@dataclass(frozen=True)
class OneClickParams(OnDevices):
    action: ClassVar[str] = "one click"

    preset: str = param("standard", "fast (20 epochs, pm), standard (100, rmvpe) or high (300, rmvpe)",
                        choices=ONECLICK_PRESETS)
    sample_rate: str = param("40k", "the model's sample rate (40k suits most voices; 48k high-quality singing)",
                             choices=SAMPLE_RATES, aliases=("target_sr", "sr"))
    version: str = param("v2", "model version (v2: 768-d features, better in most cases)", choices=VERSIONS)
    f0: bool = param(True, "a model with pitch guidance (needed for singing; off only for speech-only models)",
                     aliases=("if_f0",))
    epochs: int | None = param(None, "override the preset's epoch count", minimum=1, maximum=100_000,
                               aliases=("total_epoch",))
    devices: str = param(AUTO_DEVICES, DEVICES_HELP, aliases=DEVICE_ALIASES)
    test_conversion: bool = param(True, "at the end, convert a piece of the dataset with the new voice")


@dataclass(frozen=True)
class ExportParams(Params):
    action: ClassVar[str] = "export"

    checkpoint_name: str | None = param(None, "the G_*.pth of the experiment to export (default: the latest)",
                                        aliases=("checkpoint",))
    export_name: str | None = param(None, "the model's name in assets/weights (default: the experiment's)",
                                    aliases=("name",))
    overwrite: bool = param(False, "replace an existing model of that name (training already exports one named "
                                          "after the experiment)")
