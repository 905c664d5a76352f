"""The RVC synthesizer (VITS-style): one class for v1/v2, with or without f0, at any rate."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rvc.synth.config import SynthesizerConfig
from rvc.synth.encoders import PosteriorEncoder, TextEncoder
from rvc.synth.flow import ResidualCouplingBlock
from rvc.synth.generator import Generator
from rvc.synth.layers import fold_weight_norm, random_segments, slice_segments

DEFAULT_NOISE_SCALE = 0.66666
DECODER_CHUNK_FRAMES = 200
"""Latent frames the decoder takes per window at inference (2 s of audio): see `rvc.synth.generator`. Measured on
2 CPU cores, full-size v2 40k: the same CPU time per audio second as one pass over 17 s, a fraction of the memory
(a 17 s segment: +155 MB steady, against +185 MB with 300-frame windows and about +1 GB in one pass)."""


@dataclass(frozen=True)
class ModelInfo:
    """What a loaded model is, as the UI and API show it."""

    version: str
    sample_rate: int
    f0: bool
    speakers: int
    info: str = ""
    source: str = ""


@dataclass
class InferenceOutput:
    audio: torch.Tensor  # [B, 1, T * hop]
    x_mask: torch.Tensor
    z: torch.Tensor
    z_p: torch.Tensor
    m_p: torch.Tensor
    logs_p: torch.Tensor


@dataclass
class TrainingOutput:
    audio: torch.Tensor  # generated segment, [B, 1, segment_size * hop]
    segment_starts: torch.Tensor  # frame index of each segment
    x_mask: torch.Tensor
    y_mask: torch.Tensor
    z: torch.Tensor
    z_p: torch.Tensor
    m_p: torch.Tensor
    logs_p: torch.Tensor
    m_q: torch.Tensor
    logs_q: torch.Tensor


@dataclass(frozen=True)
class TrainingNoise:
    """Fixed values for the training pass's random draws, each used instead of its draw when given.

    Training never passes one; the reference step does, to replay a recorded step of the original exactly.
    """

    segment_starts: torch.Tensor | None = None  # [B] frame where each decoded segment starts
    posterior: torch.Tensor | None = None  # [B, inter_channels, T] standard normal, for the posterior sample
    sine: torch.Tensor | None = None  # [B, segment_size * hop, 1] standard normal, for the excitation's noise


class Synthesizer(nn.Module):
    """Content features (+ pitch) and a speaker id -> waveform at the model's rate.

    The module order matters for checkpoints: v1 registers the prior encoder first, while the v2 classes
    of the original replace it after construction, so their `enc_p.*` keys come last. We reproduce both
    orders so our state_dict lists keys exactly like the files the ecosystem shares.
    """

    def __init__(self, config: SynthesizerConfig, info: ModelInfo | None = None) -> None:
        super().__init__()
        self.config = config
        self.info = info or ModelInfo(config.version, config.sample_rate, config.f0, config.spk_embed_dim)
        if config.version == "v1":
            self.enc_p = self._text_encoder()
        self.dec = Generator(config)
        self.enc_q = PosteriorEncoder(
            config.spec_channels, config.inter_channels, config.hidden_channels, 5, 1, 16, config.gin_channels
        )
        self.flow = ResidualCouplingBlock(
            config.inter_channels, config.hidden_channels, 5, 1, 3, gin_channels=config.gin_channels
        )
        self.emb_g = nn.Embedding(config.spk_embed_dim, config.gin_channels)
        if config.version != "v1":
            self.enc_p = self._text_encoder()

    def _text_encoder(self) -> TextEncoder:
        c = self.config
        return TextEncoder(
            c.phone_dim, c.inter_channels, c.hidden_channels, c.filter_channels, c.n_heads, c.n_layers,
            c.kernel_size, c.p_dropout, c.f0,
        )

    def speaker_embedding(self, sid: torch.Tensor) -> torch.Tensor:
        return self.emb_g(sid).unsqueeze(-1)

    def infer_detailed(
        self,
        phone: torch.Tensor,
        phone_lengths: torch.Tensor,
        pitch: torch.Tensor | None,
        pitchf: torch.Tensor | None,
        sid: torch.Tensor,
        noise_scale: float = DEFAULT_NOISE_SCALE,
        chunk_frames: int | None = DECODER_CHUNK_FRAMES,
        keep: tuple[int, int] | None = None,
    ) -> InferenceOutput:
        """Like `infer`, also returning the latents. ``noise_scale=0`` is fully deterministic; ``chunk_frames``
        is the decoder's window (None: one pass); ``keep=(start, stop)`` decodes only those frames' audio."""
        if self.config.f0 and (pitch is None or pitchf is None):
            raise ValueError("this model was trained with f0: pass pitch (coarse) and pitchf (Hz)")
        if not self.config.f0:
            pitch = pitchf = None
        g = self.speaker_embedding(sid)
        m_p, logs_p, x_mask = self.enc_p(phone, pitch, phone_lengths)
        if noise_scale:
            z_p = (m_p + torch.exp(logs_p) * torch.randn_like(m_p) * noise_scale) * x_mask
        else:
            z_p = m_p * x_mask
        z = self.flow(z_p, x_mask, g=g, reverse=True)
        audio = self.dec(
            z * x_mask, pitchf, g=g, deterministic=noise_scale == 0, chunk_frames=chunk_frames, keep=keep
        )
        return InferenceOutput(audio, x_mask, z, z_p, m_p, logs_p)

    def infer(
        self,
        phone: torch.Tensor,
        phone_lengths: torch.Tensor,
        pitch: torch.Tensor | None,
        pitchf: torch.Tensor | None,
        sid: torch.Tensor,
        noise_scale: float = DEFAULT_NOISE_SCALE,
        keep: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        """Convert: phone [B, T, 256|768], lengths [B], pitch [B, T] int, pitchf [B, T] Hz -> [B, 1, T*hop]
        (only frames ``keep=(start, stop)``: [B, 1, (stop - start)*hop])."""
        return self.infer_detailed(phone, phone_lengths, pitch, pitchf, sid, noise_scale, keep=keep).audio

    def forward(
        self,
        phone: torch.Tensor,
        phone_lengths: torch.Tensor,
        pitch: torch.Tensor | None,
        pitchf: torch.Tensor | None,
        spec: torch.Tensor,
        spec_lengths: torch.Tensor,
        sid: torch.Tensor,
        noise: TrainingNoise | None = None,
    ) -> TrainingOutput:
        """Training pass: encode the target spectrogram and decode a random segment of its latent
        (``noise`` fixes the random values)."""
        noise = noise or TrainingNoise()
        g = self.speaker_embedding(sid)
        m_p, logs_p, x_mask = self.enc_p(phone, pitch if self.config.f0 else None, phone_lengths)
        z, m_q, logs_q, y_mask = self.enc_q(spec, spec_lengths, g=g, noise=noise.posterior)
        z_p = self.flow(z, y_mask, g=g)
        if noise.segment_starts is None:
            z_slice, starts = random_segments(z, spec_lengths, self.config.segment_size)
        else:
            starts = noise.segment_starts
            z_slice = slice_segments(z, starts, self.config.segment_size)
        f0_slice = slice_segments(pitchf, starts, self.config.segment_size) if self.config.f0 else None
        audio = self.dec(z_slice, f0_slice, g=g, sine_noise=noise.sine)
        return TrainingOutput(audio, starts, x_mask, y_mask, z, z_p, m_p, logs_p, m_q, logs_q)

    def for_inference(self) -> Synthesizer:
        """Drop the training-only posterior encoder and fold weight norms: eval mode, fast forward."""
        if hasattr(self, "enc_q"):
            del self.enc_q
        fold_weight_norm(self)
        return self.eval()
