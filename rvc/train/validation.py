"""Held-out pieces: the mel loss of the model's own conversion of them, and a preview to listen to.

Training losses are measured on random segments through the posterior encoder, which inference never uses,
so they say little about what the exported model will sound like. Here the model converts each held-out
piece the way inference does (features and pitch in, `noise_scale=0`, no posterior) and the whole
conversion is compared with the recording: `val_loss_mel` is the mean L1 between their log-mel
spectrograms times c_mel, on the same scale as the training `loss_mel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from rvc.audio import write_audio
from rvc.synth import Synthesizer
from rvc.train.data import Sample
from rvc.train.losses import mel_loss
from rvc.train.mel import MelConfig, mel_spectrogram, spec_to_mel


@dataclass(frozen=True)
class ValidationResult:
    loss_mel: float
    preview: Path | None


class Validator:
    """Scores a synthesizer on a fixed set of held-out samples (kept on the training device)."""

    def __init__(self, samples: list[Sample], mel: MelConfig, c_mel: float, previews_dir: Path) -> None:
        self.samples = samples
        self.mel = mel
        self.c_mel = c_mel
        self.previews_dir = previews_dir

    def __bool__(self) -> bool:
        return bool(self.samples)

    @torch.no_grad()
    def evaluate(self, model: Synthesizer, preview_name: str) -> ValidationResult:
        """Mean validation mel loss; the first piece's conversion is written as `previews/<preview_name>.wav`."""
        was_training = model.training
        model.eval()
        losses = []
        preview = None
        try:
            for index, sample in enumerate(self.samples):
                audio = self._convert(model, sample)
                generated = mel_spectrogram(audio, self.mel)
                target = spec_to_mel(sample.spec, self.mel).unsqueeze(0)
                frames = min(generated.shape[-1], target.shape[-1])
                losses.append(float(mel_loss(target[..., :frames], generated[..., :frames])) * self.c_mel)
                if index == 0:
                    samples = torch.nan_to_num(audio[0]).cpu().numpy()  # a diverged model must not stop training
                    preview = write_audio(self.previews_dir / f"{preview_name}.wav", samples, model.config.sample_rate)
        finally:
            model.train(was_training)
        return ValidationResult(sum(losses) / len(losses), preview)

    @staticmethod
    def _convert(model: Synthesizer, sample: Sample) -> torch.Tensor:
        """The inference path on one sample: [1, samples] float32."""
        device = sample.phone.device
        pitch = None if sample.pitch is None else sample.pitch.unsqueeze(0)
        pitchf = None if sample.pitchf is None else sample.pitchf.unsqueeze(0)
        output = model.infer_detailed(
            sample.phone.unsqueeze(0),
            torch.tensor([sample.phone.shape[0]], device=device),
            pitch,
            pitchf,
            torch.tensor([sample.speaker_id], device=device),
            noise_scale=0.0,
        )
        return output.audio.squeeze(1).float()
