"""Replay one recorded training step of the original RVC through our step code, for parity tests.

A case (``../shared/reference/train_step/*.json``) describes a D step then a G step of the original on tiny
networks: their config, the deterministic weight rule's seeds and scales, a synthetic batch, and the values its
random draws were replaced with. `reference_step` rebuilds all of it with our classes and runs it through
`rvc.train.gan_step.GanStep`, the step `python -m rvc train` runs, in float32 on the CPU. It returns the arrays
under the names of the case's `.npz`, so a test compares them name by name.

The spectrogram constants follow the case's ``mel_constants`` (the 2026 re-import of the original changed them;
see `rvc.train.mel`), so the recordings of either code version can be replayed.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rvc.f0 import coarse_f0
from rvc.synth.discriminators import MultiPeriodDiscriminator
from rvc.synth.layers import slice_segments
from rvc.synth.synthesizer import Synthesizer, TrainingNoise
from rvc.train.data import Batch
from rvc.train.gan_step import GanStep, Precision, StepResult, build_trainables
from rvc.train.mel import linear_spectrogram, spec_to_mel
from rvc.train.run_config import RunConfig, parse_run_config
from rvc.weight_rule import rule_state_dict


def reference_step(case_json_path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Run the case's step and return every array its `.npz` records, under the same names."""
    path = Path(case_json_path)
    case = json.loads(path.read_text())
    config = _run_config(case, str(path))
    weights = case["weights"]
    generator = _with_rule_weights(Synthesizer(config.synth), case["g_keys"], weights["g_seed"], weights["g_scale"])
    discriminator = _with_rule_weights(
        MultiPeriodDiscriminator(config.version), case["d_keys"], weights["d_seed"], weights["d_scale"]
    )
    before = {"g": _values(generator, case["g_subset"]), "d": _values(discriminator, case["d_subset"])}
    g_part, d_part = build_trainables(generator.train(), config), build_trainables(discriminator.train(), config)
    step = GanStep(
        config, g_part, d_part, generator, discriminator, "cpu", Precision(None),
        torch.amp.GradScaler("cpu", enabled=False),
    )
    batch, noise = _batch(case["batch"], config)
    grads: dict[str, dict[str, torch.Tensor]] = {}
    subsets = {"generator": ("g", case["g_subset"]), "discriminator": ("d", case["d_subset"])}

    def observe(name: str, model: nn.Module) -> None:
        """Keep the subset's gradients as each backward left them (the G backward adds more to D's)."""
        prefix, keys = subsets[name]
        grads[prefix] = {key: value.grad.clone() for key, value in model.named_parameters() if key in keys}

    result = step(batch, measure=True, noise=noise, observe=observe)
    after = {"g": _values(generator, case["g_subset"]), "d": _values(discriminator, case["d_subset"])}
    arrays = {
        **_inputs(batch, noise),
        **_forward(result, batch, config),
        **_scores(result),
        **_losses(result),
        "g_after_sum_abssum": _sum_abssum(generator),
        "d_after_sum_abssum": _sum_abssum(discriminator),
    }
    for kind, captured in (("before", before), ("grad", grads), ("after", after)):
        for prefix, values in captured.items():
            arrays.update({f"{prefix}_{kind}__{key}": _numpy(value) for key, value in values.items()})
    return arrays


def _run_config(case: dict[str, Any], source: str) -> RunConfig:
    """The case's hyper-parameters (the original's config.json sections) with its spectrogram constants."""
    config = parse_run_config({**case["hps"], "version": case["version"], "if_f0": case["f0"]}, source)
    constants = case["mel_constants"]
    mel = dataclasses.replace(config.mel, magnitude_eps=constants["spec_sqrt_eps"], log_floor=constants["log_clip"])
    return dataclasses.replace(config, mel=mel)


def _with_rule_weights(model: nn.Module, manifest: list, seed: int, scale: float | dict[str, float]) -> nn.Module:
    """Load the rule's weights, after checking that our keys come in the original's order (per-parameter arrays
    follow it)."""
    ours, theirs = list(model.state_dict()), [entry[0] for entry in manifest]
    if ours != theirs:
        pairs = zip(ours, theirs, strict=False)
        first = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(ours), len(theirs)))
        raise ValueError(
            f"{type(model).__name__} keys differ from the case's at index {first}: "
            f"{ours[first:first + 1]} against {theirs[first:first + 1]} ({len(ours)} against {len(theirs)} keys)"
        )
    model.load_state_dict(rule_state_dict(manifest, seed, scale), strict=True)
    return model


def _batch(recipe: dict[str, Any], config: RunConfig) -> tuple[Batch, TrainingNoise]:
    """The case's batch, built as the data loader and collate deliver it, and its fixed random draws."""
    lengths, hop, frames = recipe["lengths"], recipe["hop"], recipe["T"]
    size, rate = len(lengths), config.mel.sample_rate
    wave = torch.zeros(size, 1, frames * hop)
    spec = torch.zeros(size, config.mel.spec_channels, frames)
    pitch = torch.zeros(size, frames, dtype=torch.int64)
    pitchf = torch.zeros(size, frames)
    for b, length in enumerate(lengths):
        t = np.arange(length * hop) / rate
        tones = sum(a * np.sin(2 * np.pi * f * t + phase) for a, f, phase in recipe["tones_amp_freq_phase"][b])
        wave[b, 0, : length * hop] = torch.from_numpy(tones.astype(np.float32))
        spec[b, :, :length] = linear_spectrogram(wave[b, :, : length * hop], config.mel)[0]
        n = np.arange(length)
        f0 = recipe["f0_base"][b] + recipe["f0_depth"][b] * np.sin(2 * np.pi * n / length)
        f0[recipe["unvoiced_frames"][b]] = 0.0
        pitch[b, :length] = torch.from_numpy(coarse_f0(f0.copy()))
        pitchf[b, :length] = torch.from_numpy(f0.astype(np.float32))
    inputs = torch.Generator().manual_seed(recipe["input_seed"])
    phone = torch.randn([size, frames, config.synth.phone_dim], generator=inputs)
    for b, length in enumerate(lengths):
        phone[b, length:] = 0.0  # the collate's zero padding
    lengths_tensor = torch.tensor(lengths, dtype=torch.int64)
    draws = torch.Generator().manual_seed(recipe["noise_seed"])
    posterior = torch.randn([size, config.synth.inter_channels, frames], generator=draws)
    sine = torch.randn([size, recipe["segment_samples"], 1], generator=draws)
    batch = Batch(
        phone, lengths_tensor, pitch, pitchf, spec, lengths_tensor.clone(), wave, lengths_tensor * hop,
        torch.tensor(recipe["sid"], dtype=torch.int64),
    )
    return batch, TrainingNoise(torch.tensor(recipe["ids_slice"], dtype=torch.int64), posterior, sine)


def _inputs(batch: Batch, noise: TrainingNoise) -> dict[str, np.ndarray]:
    named = {
        "phone": batch.phone, "phone_lengths": batch.phone_lengths, "pitch": batch.pitch, "pitchf": batch.pitchf,
        "wave": batch.wave, "wave_lengths": batch.wave_lengths, "spec": batch.spec, "spec_lengths": batch.spec_lengths,
        "sid": batch.speaker_ids, "posterior_noise": noise.posterior, "sinegen_noise": noise.sine,
    }
    return {name: _numpy(value) for name, value in named.items()}


def _forward(result: StepResult, batch: Batch, config: RunConfig) -> dict[str, np.ndarray]:
    out, frames = result.generated, config.segment_frames
    named = {
        "ids_slice": out.segment_starts, "y_hat": out.audio, "x_mask": out.x_mask, "z_mask": out.y_mask, "z": out.z,
        "z_p": out.z_p, "m_p": out.m_p, "logs_p": out.logs_p, "m_q": out.m_q, "logs_q": out.logs_q,
        # derived, as the case records them: the decoder's inputs and the whole batch's mel
        "z_slice": slice_segments(out.z, out.segment_starts, frames),
        "pitchf_slice": slice_segments(batch.pitchf, out.segment_starts, frames),
        "mel": spec_to_mel(batch.spec, config.mel),
        "y_mel": result.target_mel, "y_hat_mel": result.generated_mel, "wave_slice": result.real,
    }
    return {name: _numpy(value) for name, value in named.items()}


def _scores(result: StepResult) -> dict[str, np.ndarray]:
    passes = {
        "dstep_y_d_hat_r": result.d_real_scores, "dstep_y_d_hat_g": result.d_fake_scores,
        "gstep_y_d_hat_r": result.g_real_scores, "gstep_y_d_hat_g": result.g_fake_scores,
    }
    return {f"{name}_{i}": _numpy(score) for name, scores in passes.items() for i, score in enumerate(scores)}


def _losses(result: StepResult) -> dict[str, np.ndarray]:
    def float32(values: list[torch.Tensor]) -> np.ndarray:
        return np.array([v.item() for v in values], dtype=np.float32)

    def float64(values: list[torch.Tensor]) -> np.ndarray:  # the original reports these as Python floats
        return np.array([v.item() for v in values], dtype=np.float64)

    return {
        "loss_disc": _numpy(result.loss_d.total),
        "losses_disc_r": float64(result.loss_d.real_terms),
        "losses_disc_g": float64(result.loss_d.fake_terms),
        "loss_gen": _numpy(result.loss_gen.total),
        "losses_gen": float32(result.loss_gen.terms),
        "loss_fm": _numpy(result.loss_fm.total),
        "loss_fm_per_disc": float32(result.loss_fm.terms),
        "loss_mel": _numpy(result.loss_mel),
        "loss_kl": _numpy(result.loss_kl),
        "loss_gen_all": _numpy(result.loss_g),
        "grad_norm_d": np.array(result.grad_norm_d, dtype=np.float64),
        "grad_norm_g": np.array(result.grad_norm_g, dtype=np.float64),
        "d_param_grad_norms": np.array(result.grad_norms_d, dtype=np.float64),
        "g_param_grad_norms": np.array(result.grad_norms_g, dtype=np.float64),
    }


def _values(model: nn.Module, keys: list[str]) -> dict[str, torch.Tensor]:
    parameters = dict(model.named_parameters())
    return {key: parameters[key].detach().clone() for key in keys}


def _sum_abssum(model: nn.Module) -> np.ndarray:
    """[sum, sum of absolute values] of each parameter in float64, in parameters() order."""
    return np.array([[p.detach().double().sum().item(), p.detach().double().abs().sum().item()]
                     for p in model.parameters()])


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()
