"""The spectrograms of training: the linear one the posterior encoder reads, the log-mel one the loss compares.

Both follow the original (VITS) recipe exactly, because pretrained base models were trained against these
targets: reflect padding of (n_fft - hop) / 2 on each side and no centring (so a clip of N hops gives N
frames), a Hann window, magnitude sqrt(re^2 + im^2 + 1e-6), librosa's Slaney mel basis, natural log of the
mel energies floored at 1e-5. Windows and mel bases are cached per (parameters, dtype, device).

Those two constants are the 20240604 release's (and every earlier one's), which the shared pretrained models were
trained with. The 2026 re-import of the original lowered them to 2e-7 and 2e-6; a `MelConfig` can name either set
(``magnitude_eps``, ``log_floor``), so the reference step can follow the recording it is compared with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import torch
from librosa.filters import mel as librosa_mel_basis

MAGNITUDE_EPS = 1e-6
"""Added under the square root of the power so the gradient of the magnitude stays finite at silence."""
LOG_MEL_FLOOR = 1e-5
"""Mel energies are clamped to this before the log (about -11.5): digital silence has a finite target."""


@dataclass(frozen=True)
class MelConfig:
    """The `data` section of an experiment's config.json, as the spectrogram functions need it."""

    sample_rate: int
    n_fft: int
    hop_length: int
    win_length: int
    n_mels: int
    fmin: float = 0.0
    fmax: float | None = None
    magnitude_eps: float = MAGNITUDE_EPS
    log_floor: float = LOG_MEL_FLOOR

    @property
    def spec_channels(self) -> int:
        return self.n_fft // 2 + 1

    @classmethod
    def from_data_section(cls, data: Mapping) -> MelConfig:
        return cls(
            sample_rate=int(data["sampling_rate"]),
            n_fft=int(data["filter_length"]),
            hop_length=int(data["hop_length"]),
            win_length=int(data["win_length"]),
            n_mels=int(data["n_mel_channels"]),
            fmin=float(data.get("mel_fmin") or 0.0),
            fmax=None if data.get("mel_fmax") is None else float(data["mel_fmax"]),
        )


@cache
def _hann_window(win_length: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.hann_window(win_length, dtype=dtype, device=device)


@cache
def _mel_basis(config: MelConfig, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    basis = librosa_mel_basis(
        sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax
    )
    return torch.from_numpy(basis).to(dtype=dtype, device=device)


def linear_spectrogram(audio: torch.Tensor, config: MelConfig) -> torch.Tensor:
    """Waveforms [B, T] (or [T]) -> magnitude spectrograms [B, n_fft // 2 + 1, frames] in float32."""
    audio = audio.float()
    squeeze = audio.dim() == 1
    if squeeze:
        audio = audio.unsqueeze(0)
    pad = (config.n_fft - config.hop_length) // 2
    padded = torch.nn.functional.pad(audio.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    stft = torch.stft(
        padded,
        config.n_fft,
        hop_length=config.hop_length,
        win_length=config.win_length,
        window=_hann_window(config.win_length, padded.dtype, padded.device),
        center=False,
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    magnitude = torch.sqrt(stft.real.pow(2) + stft.imag.pow(2) + config.magnitude_eps)
    return magnitude.squeeze(0) if squeeze else magnitude


def spec_to_mel(spec: torch.Tensor, config: MelConfig) -> torch.Tensor:
    """Linear magnitude spectrogram [..., F, frames] -> natural-log mel spectrogram [..., n_mels, frames]."""
    spec = spec.float()
    mel = torch.matmul(_mel_basis(config, spec.dtype, spec.device), spec)
    return torch.log(torch.clamp(mel, min=config.log_floor))


def mel_spectrogram(audio: torch.Tensor, config: MelConfig) -> torch.Tensor:
    """Waveforms [B, T] -> log-mel spectrograms [B, n_mels, frames] (the mel loss's view of audio)."""
    return spec_to_mel(linear_spectrogram(audio, config), config)
