"""A tiny experiment folder in the original's layout, with a run config small enough to train in seconds on a CPU.

The data is synthetic (harmonic tones with matching f0 tracks, random content features): enough for every
shape and alignment rule of the loader and for the model to measurably fit it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile

from rvc.synth.presets import experiment_config_path

SAMPLE_RATE_HZ = 40000
HOP = 400
TINY_MODEL = {
    "inter_channels": 8,
    "hidden_channels": 8,
    "filter_channels": 16,
    "n_heads": 2,
    "n_layers": 1,
    "resblock_kernel_sizes": [3],
    "resblock_dilation_sizes": [[1, 3, 5]],
    "upsample_initial_channel": 16,
    "gin_channels": 8,
    "spk_embed_dim": 4,
}
TINY_DATA = {"filter_length": 1024, "win_length": 1024, "n_mel_channels": 64}
TINY_TRAIN = {"segment_size": 4000, "log_interval": 200}
TINY_DISCRIMINATOR = {"periods": [2, 3], "channel_divisor": 16}


def tiny_config(version: str = "v2", f0: bool = True) -> dict:
    """The standard 40k config with tiny widths, a 10-frame segment and a thinned discriminator."""
    config = json.loads(experiment_config_path(version, "40k").read_text())
    config["model"].update(TINY_MODEL)
    config["data"].update(TINY_DATA)
    config["train"].update(TINY_TRAIN)
    config["discriminator"] = TINY_DISCRIMINATOR
    config["version"] = version
    config["if_f0"] = int(f0)
    return config


def make_experiment(
    root: Path, name: str = "tiny", pieces: int = 12, version: str = "v2", f0: bool = True, seed: int = 0,
    config: dict | None = None, seconds: tuple[float, float] = (1.05, 1.4),
) -> Path:
    """`root/<name>/` with 0_gt_wavs, 3_feature*, 2a_f0, 2b-f0nsf, filelist.txt and config.json.

    Pieces last ``seconds`` (1.05..1.4 s by default); features have (frames + 1) // 2 rows at 50 fps and pitch
    a few frames more than the audio, so the loader's trimming rules are exercised.
    """
    rng = np.random.default_rng(seed)
    exp = root / name
    dims = {"v1": 256, "v2": 768}
    folders = {"wav": "0_gt_wavs", "feature": f"3_feature{dims[version]}", "f0": "2a_f0", "f0nsf": "2b-f0nsf"}
    for folder in folders.values():
        (exp / folder).mkdir(parents=True, exist_ok=True)
    lines = []
    for index in range(pieces):
        stem = f"0_{index}"
        samples = int(SAMPLE_RATE_HZ * rng.uniform(*seconds))
        frames = samples // HOP
        hz = float(rng.uniform(110, 260))
        t = np.arange(samples) / SAMPLE_RATE_HZ
        audio = sum(0.3 / k * np.sin(2 * np.pi * k * hz * t) for k in (1, 2, 3)).astype(np.float32)
        wav = exp / folders["wav"] / f"{stem}.wav"
        soundfile.write(wav, audio, SAMPLE_RATE_HZ, subtype="FLOAT")
        feature = exp / folders["feature"] / f"{stem}.npy"
        np.save(feature, rng.standard_normal(((frames + 1) // 2, dims[version])).astype(np.float32))
        row = [wav, feature]
        if f0:
            pitch_hz = np.full(frames + 3, hz, dtype=np.float32)
            coarse = np.clip(np.rint((1127 * np.log(1 + pitch_hz / 700) - 77.8) / 3.4), 1, 255).astype(np.int64)
            row += [exp / folders["f0"] / f"{stem}.wav.npy", exp / folders["f0nsf"] / f"{stem}.wav.npy"]
            np.save(row[2], coarse)
            np.save(row[3], pitch_hz)
        lines.append("|".join([*map(str, row), str(index % 2)]))
    (exp / "filelist.txt").write_text("\n".join(lines))
    (exp / "config.json").write_text(json.dumps(config or tiny_config(version, f0), indent=2))
    return exp
