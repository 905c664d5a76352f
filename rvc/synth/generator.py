"""HiFi-GAN decoder, with the NSF harmonic source for f0 models: latent frames -> waveform.

For inference the decoder can run over a long latent in windows (``chunk_frames``) with enough context on each side
to cover its receptive field, so each window's kept samples equal those of one pass over the whole latent (to
float rounding, about 1e-6) while its activations stay small: at 40k one second of latent becomes 40,000 samples
in 32-256 channels per stage, and a 15 s pass holds several 90 MB arrays at once. The harmonic source is made
once for the whole latent, so its phase runs on across windows.

Only the frames asked for are decoded (``keep``): the pipeline pads every segment with a second of context on each
side for the encoders, and decoding that padding only to trim it would be 10-20% of the decoder's work. Eager
windows split the kept frames evenly. Compiled windows are ``chunk_frames`` wide plus context, the first and last
shifted inwards, so ``compile_windows()`` hands them to ``torch.compile`` as one static shape: one compilation per
model, then fused elementwise passes on every window (an opt-in setting: compiling takes about a minute on a CPU).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from rvc.synth.config import SynthesizerConfig
from rvc.synth.layers import LRELU_SLOPE, ResBlock, weight_norm
from rvc.synth.nsf import HarmonicSource

logger = logging.getLogger(__name__)


class Generator(nn.Module):
    """One decoder for both model kinds; ``config.f0`` adds the sine source and its per-stage convs.

    Submodules are created in the original's order (source first for NSF models) so that the
    state_dict order matches community checkpoints key for key.
    """

    def __init__(self, config: SynthesizerConfig) -> None:
        super().__init__()
        rates, kernels = config.upsample_rates, config.upsample_kernel_sizes
        initial = config.upsample_initial_channel
        self.upp = math.prod(rates)
        self.num_kernels = len(config.resblock_kernel_sizes)
        stage_channels = [initial // 2 ** (i + 1) for i in range(len(rates))]

        if config.f0:
            self.m_source = HarmonicSource(config.sample_rate)
            self.noise_convs = nn.ModuleList()
            for i, channels in enumerate(stage_channels):
                stride = math.prod(rates[i + 1 :])
                if stride > 1:
                    conv = nn.Conv1d(1, channels, kernel_size=stride * 2, stride=stride, padding=stride // 2)
                else:
                    conv = nn.Conv1d(1, channels, kernel_size=1)
                self.noise_convs.append(conv)
        self.conv_pre = nn.Conv1d(config.inter_channels, initial, 7, 1, padding=3)
        self.ups = nn.ModuleList(
            weight_norm(nn.ConvTranspose1d(initial // 2**i, channels, k, u, padding=(k - u) // 2))
            for i, (u, k, channels) in enumerate(zip(rates, kernels, stage_channels, strict=True))
        )
        self.resblocks = nn.ModuleList(
            ResBlock(channels, k, d, config.resblock)
            for channels in stage_channels
            for k, d in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True)
        )
        self.conv_post = nn.Conv1d(stage_channels[-1], 1, 7, 1, padding=3, bias=False)
        if config.gin_channels:
            self.cond = nn.Conv1d(config.gin_channels, initial, 1)
        self.context_frames = receptive_frames(config)
        self._compiled_decode: Callable[..., torch.Tensor] | None = None

    @property
    def compiled(self) -> bool:
        return self._compiled_decode is not None

    def compile_windows(self, enabled: bool = True) -> None:
        """Run full-width windows through ``torch.compile`` (static shapes: one graph per model and window width),
        or back in eager mode. Compiling happens at the first window, not here."""
        # freezing: the weights become constants, so the CPU convolutions get pre-packed weights (inference only)
        compiled = torch.compile(self._decode, dynamic=False, options={"freezing": True}) if enabled else None
        self._compiled_decode = compiled

    def forward(
        self,
        x: torch.Tensor,
        f0: torch.Tensor | None = None,
        g: torch.Tensor | None = None,
        deterministic: bool = False,
        chunk_frames: int | None = None,
        keep: tuple[int, int] | None = None,
        sine_noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Latent [B, C, T] (+ f0 [B, T] Hz) -> audio [B, 1, T * upp], in windows of about ``chunk_frames`` if
        given. ``keep=(start, stop)`` decodes only those frames' audio, [B, 1, (stop - start) * upp]: the frames
        around them are read as context only (a padded segment's padding is never decoded, just trimmed).
        ``sine_noise`` [B, T * upp, 1] replaces the excitation's standard-normal draw."""
        source = None
        if hasattr(self, "m_source"):
            if f0 is None:
                raise ValueError("this decoder needs an f0 track")
            # made for the whole latent, so the sine's phase is the same whichever part is decoded
            source = self.m_source(f0, self.upp, deterministic, sine_noise).transpose(1, 2)
        frames = x.shape[-1]
        keep_start, keep_stop = (0, frames) if keep is None else (max(0, keep[0]), min(frames, keep[1]))
        if keep_stop <= keep_start:
            raise ValueError(f"nothing to decode: frames {keep} of a {frames}-frame latent")
        pieces = []
        for left, right, start, stop in self._windows(frames, keep_start, keep_stop, chunk_frames):
            window_source = None if source is None else source[..., left * self.upp : right * self.upp]
            full_width = chunk_frames is not None and right - left == chunk_frames + 2 * self.context_frames
            audio = self._decode_window(x[..., left:right], window_source, g, full_width)
            pieces.append(audio[..., (start - left) * self.upp : (stop - left) * self.upp])
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=-1)

    def _windows(
        self, frames: int, keep_start: int, keep_stop: int, chunk_frames: int | None
    ) -> list[tuple[int, int, int, int]]:
        """(left, right, start, stop) per window: decode latent[left:right] and keep its frames start:stop.

        Compiled windows step by ``chunk_frames``; eager ones split the kept frames evenly (a 940-frame segment in
        300-frame chunks: four of 240, not three of 300 and one more for 40). Either way every window has one width
        (step + context on both sides; one near an end of the latent is shifted inwards): one graph when compiled,
        and in eager mode buffers of one size that the allocator reuses window after window (mixed sizes left
        ~250 MB more of the heap in use on a 30 s input)."""
        context = self.context_frames
        if chunk_frames is None:
            return [(max(0, keep_start - context), min(frames, keep_stop + context), keep_start, keep_stop)]
        kept = keep_stop - keep_start
        step = chunk_frames if self.compiled else _even_step(kept, chunk_frames)
        width = step + 2 * context
        if frames <= width:
            return [(0, frames, keep_start, keep_stop)]
        windows = []
        for start in range(keep_start, keep_stop, step):
            left = min(max(0, start - context), frames - width)
            windows.append((left, left + width, start, min(keep_stop, start + step)))
        return windows

    def _decode_window(
        self, x: torch.Tensor, source: torch.Tensor | None, g: torch.Tensor | None, full_width: bool
    ) -> torch.Tensor:
        if self._compiled_decode is not None and full_width:
            try:
                # Fresh copies: a window of a longer latent has other strides (even along its batch dimension of
                # size 1, which `contiguous()` keeps), and a static graph guards on them: each segment recompiled,
                # up to torch's limit of 8, then everything ran eager.
                source = None if source is None else source.clone(memory_format=torch.contiguous_format)
                return self._compiled_decode(x.clone(memory_format=torch.contiguous_format), source, g)
            except Exception as error:  # noqa: BLE001 - no C++ compiler, an op inductor lacks...: eager still works
                logger.warning("torch.compile failed, the decoder runs uncompiled: %s", str(error).splitlines()[0])
                self._compiled_decode = None
        return self._decode(x, source, g)

    def _decode(self, x: torch.Tensor, source: torch.Tensor | None, g: torch.Tensor | None) -> torch.Tensor:
        x = self.conv_pre(x)
        if g is not None:
            x = x + self.cond(g)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            if source is not None:
                x = x + self.noise_convs[i](source)
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            xs = blocks[0](x)
            for block in blocks[1:]:
                xs = xs.add_(block(x))  # in place: a block's output is kept by nothing else
            x = xs.div_(self.num_kernels)
        x = self.conv_post(F.leaky_relu(x))
        return torch.tanh(x)


WINDOW_STEP_QUANTUM = 10
"""Eager window steps are multiples of this many frames: a few percent more frames decoded at most, and a long
input's segments share a dozen window widths instead of one each; oneDNN keeps ~9 MB of kernels per width."""


def _even_step(kept: int, chunk_frames: int) -> int:
    """The step splitting ``kept`` frames into equal windows of at most ``chunk_frames``, rounded up to the quantum."""
    step = math.ceil(kept / math.ceil(kept / chunk_frames))
    return -(-step // WINDOW_STEP_QUANTUM) * WINDOW_STEP_QUANTUM


def receptive_frames(config: SynthesizerConfig) -> int:
    """Latent frames on each side that one output sample depends on (rounded up): conv_pre, then per stage the
    transposed conv and the widest residual block, then conv_post, each measured at its own rate."""
    half_width = (7 - 1) / 2  # conv_pre, in frames
    rate = 1  # samples per frame at the current stage
    for up, kernel in zip(config.upsample_rates, config.upsample_kernel_sizes, strict=True):
        half_width += math.ceil(kernel / up) / 2  # frames of input that one transposed-conv output reads
        rate *= up
        block = max(
            sum(d * (k - 1) // 2 for d in dilations) + (len(dilations) * (k - 1) // 2 if config.resblock == "1" else 0)
            for k, dilations in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True)
        )
        half_width += block / rate
    half_width += (7 - 1) / 2 / rate  # conv_post
    return math.ceil(half_width) + 1
