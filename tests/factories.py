"""Builders for the ecosystem's files, made by tests since no real weights can be downloaded here."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from transformers import HubertConfig

from rvc.embedders import Embedder
from rvc.synth import SynthesizerConfig, export_small_model, preset_config
from rvc.weight_rule import rule_state_dict
from tests.conftest import REFERENCE_DIR, load_reference_json
from tests.unit.embedders.foreign import ContainerMetadata, DictConfig, Dictionary, importable_as_foreign


def save_fairseq_checkpoint(path: Path, state: dict[str, torch.Tensor], cfg: object = None) -> Path:
    """Write ``state`` wrapped the way fairseq saves ``hubert_base.pt`` (with its pickled objects)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with importable_as_foreign(Dictionary, DictConfig, ContainerMetadata):
        checkpoint = {
            "args": argparse.Namespace(arch="hubert", encoder_layers=12, label_rate=50.0),
            "cfg": cfg,
            "model": state,
            "task_state": {"dictionaries": [Dictionary(["<s>", "<pad>", "</s>", "<unk>", "0", "1"])]},
        }
        torch.save(checkpoint, path)
    return path


def write_full_hubert(path: Path, half: bool = True) -> Path:
    """A full-size fairseq `hubert_base.pt` with the reference weight rule (fp16 like the shared file)."""
    manifest = load_reference_json("hubert_reference.json")
    state = rule_state_dict(manifest["keys"], manifest["seed"], manifest["scale"], manifest["plus_one_keys"])
    if half:
        state = {k: v.half() for k, v in state.items()}
    return save_fairseq_checkpoint(path, state)


def write_small_embedder(folder: Path, seed: int = 0) -> Path:
    """A HuBERT-shaped embedder (12 layers, 768-d, final_proj) with thin convs, as a Hugging Face folder.

    It yields the real frame rate and feature widths at a fraction of the cost, for tests that convert
    whole files.
    """
    torch.manual_seed(seed)
    config = HubertConfig(
        intermediate_size=64, conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=16
    )
    Embedder(config, with_final_proj=True).eval().save_pretrained(folder)
    return folder


def tiny_pth(name: str) -> Path:
    """One of the reference's tiny inference models (e.g. "tiny_v2_f0_40k")."""
    return REFERENCE_DIR / f"{name}.pth"


def write_rule_synthesizer(path: Path, version: str, sample_rate: str, f0: bool, seed: int = 1234,
                           scale: float = 0.5) -> Path:
    """A full-size inference `.pth` whose weights follow the deterministic rule (manifest order)."""
    manifest_name = f"synth_{version}_{'f0' if f0 else 'nof0'}_{sample_rate}.json"
    manifest = json.loads((REFERENCE_DIR / "synth_manifests" / manifest_name).read_text())
    config: SynthesizerConfig = preset_config(version, sample_rate, f0)
    state = rule_state_dict(manifest["keys"], seed, scale)
    return export_small_model(state, path, config=config, info="rule weights")


def write_rule_rmvpe(path: Path) -> Path:
    """A full-size `rmvpe.pt` (plain state dict, fp16 like the shared file) with the reference weight rule."""
    manifest = load_reference_json("rmvpe_manifest.json")
    state = rule_state_dict(manifest["keys"], manifest["seed"], manifest["scale"])
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, path)
    return path


def write_full_size_home(home: Path) -> Path:
    """An RVC_HOME laid out like a user's: v2 40k f0 model, hubert_base.pt and rmvpe.pt, all full size."""
    write_rule_synthesizer(home / "assets" / "weights" / "full_v2_40k.pth", "v2", "40k", f0=True)
    write_full_hubert(home / "assets" / "hubert" / "hubert_base.pt")
    write_rule_rmvpe(home / "assets" / "rmvpe" / "rmvpe.pt")
    return home
