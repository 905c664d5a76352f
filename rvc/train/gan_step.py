"""One training step of the original's GAN recipe: a discriminator update, then a generator update.

The trainer runs it on every batch and `rvc.train.reference_step` runs it once to compare with a recorded step
of the original, so both go through this code. In the original's order: the synthesizer decodes a random segment
of each piece; the discriminator is updated on (real, generated.detach()) with the LSGAN loss; then, with the
updated discriminator, the generator with adversarial + feature-matching + c_mel x mel L1 + c_kl x KL (the KL
over every frame, not only the segment's). Gradients are not clipped: the original's clip_grad_value_ with None
only measures their norm, which `StepResult` reports when asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from rvc.synth.layers import slice_segments
from rvc.synth.synthesizer import TrainingNoise, TrainingOutput
from rvc.train.checkpoints import Trainables
from rvc.train.data import Batch
from rvc.train.losses import (
    DiscriminatorLoss,
    SummedLoss,
    discriminator_loss,
    feature_loss,
    generator_loss,
    kl_loss,
    mel_loss,
)
from rvc.train.mel import mel_spectrogram, spec_to_mel
from rvc.train.run_config import RunConfig

GradientObserver = Callable[[str, nn.Module], None]
"""Called with "discriminator" or "generator" and the bare network after its backward, before its update."""


@dataclass(frozen=True)
class Precision:
    """The autocast dtype of the forward passes; None runs everything in float32."""

    dtype: torch.dtype | None

    @property
    def needs_scaler(self) -> bool:
        return self.dtype == torch.float16


def choose_precision(device: torch.device, mixed_precision: bool) -> Precision:
    """bfloat16 on GPUs that have it (no loss scaling needed), else float16; float32 on the CPU."""
    if device.type != "cuda" or not mixed_precision:
        return Precision(None)
    return Precision(torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)


def build_trainables(model: nn.Module, config: RunConfig) -> Trainables:
    """The network with the original's optimiser (AdamW, torch's default weight decay 0.01) and lr schedule."""
    optimizer = torch.optim.AdamW(model.parameters(), config.learning_rate, betas=config.betas, eps=config.eps)
    return Trainables(model, optimizer, torch.optim.lr_scheduler.ExponentialLR(optimizer, config.lr_decay))


@dataclass
class StepResult:
    """What one step computed. Scores and losses are tensors; the gradient norms exist only when measured."""

    generated: TrainingOutput
    target_mel: torch.Tensor  # [B, n_mels, segment frames]
    generated_mel: torch.Tensor
    real: torch.Tensor  # the real audio of the segments, [B, 1, segment samples]
    d_real_scores: list[torch.Tensor]  # the discriminator step, before its update
    d_fake_scores: list[torch.Tensor]
    g_real_scores: list[torch.Tensor]  # the generator step, with the updated discriminator
    g_fake_scores: list[torch.Tensor]
    loss_d: DiscriminatorLoss
    loss_gen: SummedLoss
    loss_fm: SummedLoss
    loss_mel: torch.Tensor  # weighted by c_mel
    loss_kl: torch.Tensor  # weighted by c_kl
    loss_g: torch.Tensor
    grad_norms_d: list[float] | None  # per parameter, in parameters() order
    grad_norms_g: list[float] | None

    @property
    def grad_norm_d(self) -> float:
        return total_norm(self.grad_norms_d or [])

    @property
    def grad_norm_g(self) -> float:
        return total_norm(self.grad_norms_g or [])

    def metrics(self) -> dict[str, float]:
        """The logged values (the gradient norms read 0 when they were not measured)."""
        losses = {
            "loss_g": self.loss_g, "loss_d": self.loss_d.total, "loss_mel": self.loss_mel, "loss_kl": self.loss_kl,
            "loss_fm": self.loss_fm.total,
        }
        return {
            **{name: value.item() for name, value in losses.items()},
            "grad_norm_g": self.grad_norm_g,
            "grad_norm_d": self.grad_norm_d,
        }


def total_norm(norms: list[float]) -> float:
    """The original's total: the square root of the sum of squared per-parameter norms, in Python floats."""
    total = 0.0
    for norm in norms:
        total += norm**2
    return total**0.5


class GanStep:
    """The step over fixed networks, optimisers and precision; ``net_g``/``net_d`` may be DDP wrappers."""

    def __init__(
        self,
        config: RunConfig,
        generator: Trainables,
        discriminator: Trainables,
        net_g: nn.Module,
        net_d: nn.Module,
        device_type: str,
        precision: Precision,
        scaler: torch.amp.GradScaler,
    ) -> None:
        self.config, self.generator, self.discriminator = config, generator, discriminator
        self.net_g, self.net_d = net_g, net_d
        self.device_type, self.precision, self.scaler = device_type, precision, scaler

    def __call__(
        self,
        batch: Batch,
        measure: bool,
        noise: TrainingNoise | None = None,
        observe: GradientObserver | None = None,
    ) -> StepResult:
        """Update D then G on ``batch``; ``measure`` computes the gradient norms, ``noise`` fixes the random draws."""
        config, hop, frames = self.config, self.config.mel.hop_length, self.config.segment_frames
        dtype = self.precision.dtype
        autocast = torch.autocast(self.device_type, dtype, enabled=dtype is not None)
        with autocast:
            out = self.net_g(
                batch.phone, batch.phone_lengths, batch.pitch, batch.pitchf, batch.spec, batch.spec_lengths,
                batch.speaker_ids, noise,
            )
        with torch.no_grad():  # the mel of each column depends on that column only: slicing first is cheaper
            target_mel = spec_to_mel(slice_segments(batch.spec, out.segment_starts, frames), config.mel)
        generated_mel = mel_spectrogram(out.audio.float().squeeze(1), config.mel)
        real = slice_segments(batch.wave, out.segment_starts * hop, frames * hop)

        with autocast:
            d_real_scores, d_fake_scores, _, _ = self.net_d(real, out.audio.detach())
        loss_d = discriminator_loss(d_real_scores, d_fake_scores)
        grad_norms_d = self._update("discriminator", self.discriminator, loss_d.total, measure, observe)

        with autocast:
            g_real_scores, g_fake_scores, real_maps, fake_maps = self.net_d(real, out.audio)
        loss_mel = mel_loss(target_mel, generated_mel) * config.c_mel
        loss_kl = kl_loss(out.z_p, out.logs_q, out.m_p, out.logs_p, out.y_mask) * config.c_kl
        loss_fm = feature_loss(real_maps, fake_maps)
        loss_gen = generator_loss(g_fake_scores)
        loss_g = loss_gen.total + loss_fm.total + loss_mel + loss_kl
        grad_norms_g = self._update("generator", self.generator, loss_g, measure, observe)
        self.scaler.update()
        return StepResult(
            out, target_mel, generated_mel, real, d_real_scores, d_fake_scores, g_real_scores, g_fake_scores,
            loss_d, loss_gen, loss_fm, loss_mel, loss_kl, loss_g, grad_norms_d, grad_norms_g,
        )

    def _update(
        self, name: str, part: Trainables, loss: torch.Tensor, measure: bool, observe: GradientObserver | None
    ) -> list[float] | None:
        """Backward and optimiser step; the per-parameter gradient norms (unscaled) only when ``measure``."""
        part.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        norms = None
        if measure:
            self.scaler.unscale_(part.optimizer)
            norms = parameter_grad_norms(part.model)
        if observe is not None:
            observe(name, part.model)
        self.scaler.step(part.optimizer)
        return norms


def parameter_grad_norms(model: nn.Module) -> list[float]:
    """Each parameter's gradient 2-norm in parameters() order (0 for one without a gradient), in one transfer."""
    grads = [p.grad for p in model.parameters()]
    present = [g.norm(2) for g in grads if g is not None]
    values = iter(torch.stack(present).tolist() if present else [])
    return [0.0 if g is None else next(values) for g in grads]
