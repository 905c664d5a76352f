"""Checkpoint tools of the Models tab: show and modify a model's info, merge two models, extract a small model.

They work on the small inference `.pth` layout (and accept `G_*.pth` wherever a model is read), so files we write
load in the original WebUI and in Applio.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

from rvc.synth.checkpoint import (
    CheckpointError,
    atomic_torch_save,
    load_checkpoint,
    read_torch_file,
    small_model_dict,
)
from rvc.synth.metadata import MAX_INFO_CHARS


def model_info(path: str | os.PathLike) -> dict:
    """What a model file is (version, rate, f0, speakers, info text, where its config came from), plus size."""
    loaded = load_checkpoint(path)
    return {**asdict(loaded.info), "kind": loaded.kind, "size_bytes": Path(path).stat().st_size,
            "config": loaded.config.to_list()}


def modify_info(path: str | os.PathLike, info: str, output: str | os.PathLike | None = None) -> Path:
    """Set the info text of a small `.pth`, written atomically to ``output`` (default: the file itself).

    A text longer than a model file's info may be (`rvc.synth.metadata.MAX_INFO_CHARS`) is refused: it would be cut
    on every read.
    """
    info = str(info)
    if len(info) > MAX_INFO_CHARS:
        raise ValueError(f"the info text has {len(info)} characters; a model's may have {MAX_INFO_CHARS}")
    path = Path(path)
    content = read_torch_file(path)
    if not isinstance(content, dict) or "weight" not in content or "config" not in content:
        raise CheckpointError(path, "only small inference models (.pth with 'weight' and 'config') carry an info text")
    load_checkpoint(path)  # refuse a damaged model before rewriting it
    content["info"] = info
    return atomic_torch_save(content, output or path)


def extract_small_model(
    checkpoint: str | os.PathLike, output: str | os.PathLike, info: str = "Extracted model."
) -> Path:
    """The small inference model of a `G_*.pth` (config from its experiment's config.json, or inferred)."""
    loaded = load_checkpoint(checkpoint)
    return atomic_torch_save(small_model_dict(loaded.state_dict, loaded.config, info), output)


def merge_models(
    first: str | os.PathLike, second: str | os.PathLike, alpha: float, output: str | os.PathLike, info: str = ""
) -> Path:
    """``alpha * first + (1 - alpha) * second`` weight by weight, for two models of the same architecture.

    As the original, speaker tables of different sizes are cut to the smaller one; the config, rate, f0 and
    version are the first model's. Any other difference is a clear error naming both files.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha={alpha} is out of range: use a weight between 0 and 1")
    a, b = load_checkpoint(first), load_checkpoint(second)
    if (a.config.version, a.config.f0, a.config.sample_rate) != (b.config.version, b.config.f0, b.config.sample_rate):
        raise CheckpointError(
            second,
            f"cannot merge a {b.info.version} {b.info.sample_rate} Hz f0={b.info.f0} model into "
            f"{first} ({a.info.version} {a.info.sample_rate} Hz f0={a.info.f0})",
        )
    weights_a = {k: v for k, v in a.state_dict.items() if not k.startswith("enc_q.")}
    weights_b = {k: v for k, v in b.state_dict.items() if not k.startswith("enc_q.")}
    if weights_a.keys() != weights_b.keys():
        raise CheckpointError(second, f"the model architectures differ from {first} (other weight names)")
    merged = {}
    for key, value_a in weights_a.items():
        value_b = weights_b[key]
        if key == "emb_g.weight":
            speakers = min(value_a.shape[0], value_b.shape[0])
            value_a, value_b = value_a[:speakers], value_b[:speakers]
        if value_a.shape != value_b.shape:
            raise CheckpointError(second, f"the model architectures differ from {first} ({key} has another shape)")
        merged[key] = alpha * value_a.float() + (1 - alpha) * value_b.float()
    config = a.config.replace(spk_embed_dim=int(merged["emb_g.weight"].shape[0]))
    return atomic_torch_save(small_model_dict(merged, config, info), output)

