"""The hyper-parameters the ecosystem trains with, per version and sample rate (`configs/`).

As in the original WebUI, v2 at 40k uses the v1 40k hyper-parameters with the 768-d encoder.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from rvc.synth.config import SAMPLE_RATES_HZ, SynthesizerConfig

CONFIGS_DIR = Path(__file__).resolve().parents[2] / "configs"


def experiment_config_path(version: str, sample_rate: str) -> Path:
    """The original-layout JSON (train/data/model sections) used for (version, rate)."""
    if sample_rate not in SAMPLE_RATES_HZ:
        raise ValueError(f"unknown sample rate {sample_rate!r} (expected one of {', '.join(SAMPLE_RATES_HZ)})")
    if version not in ("v1", "v2"):
        raise ValueError(f"unknown model version {version!r} (expected 'v1' or 'v2')")
    folder = "v1" if version == "v1" or sample_rate == "40k" else "v2"
    return CONFIGS_DIR / folder / f"{sample_rate}.json"


@cache
def experiment_config(version: str, sample_rate: str) -> dict:
    return json.loads(experiment_config_path(version, sample_rate).read_text())


def preset_config(version: str, sample_rate: str, f0: bool = True, speakers: int | None = None) -> SynthesizerConfig:
    """The standard synthesizer for (version, "32k"|"40k"|"48k", f0)."""
    config = SynthesizerConfig.from_experiment_json(experiment_config_path(version, sample_rate), version, f0)
    return config.replace(spk_embed_dim=speakers) if speakers else config


def all_presets() -> list[SynthesizerConfig]:
    return [
        preset_config(version, rate, f0)
        for version in ("v1", "v2")
        for f0 in (True, False)
        for rate in SAMPLE_RATES_HZ
    ]
