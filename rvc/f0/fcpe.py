"""FCPE pitch (torchfcpe's bundled model), as torchfcpe computes it, on the weights that torchfcpe's wheel ships.

A 128-band log-mel (1024-point STFT, hop 160, 0-8 kHz) goes through two convolutions and six convolution-only
Conformer blocks (the bundled model is trained without attention) to 360 sigmoid activations per frame, on a cent
table from 32.7 to 1975.5 Hz that the checkpoint carries. RVC decodes with the local argmax: the activation-weighted
mean of the cents of the 9 bins around the peak, unvoiced where the peak is at most 0.006.
"""

from __future__ import annotations

import re

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rvc.empty_modules import empty_modules
from rvc.f0.base import HOP_LENGTH, SAMPLE_RATE_HZ, F0Extractor
from rvc.f0.packaged import packaged_file
from rvc.f0.rmvpe import N_BINS, F0ModelError
from rvc.safe_load import WeightsFileError, load_weights

N_MELS = 128
N_FFT = 1024
MEL_FMAX_HZ = 8000.0
LOG_FLOOR = 1e-5
HIDDEN = 512
N_BLOCKS = 6
EXPANSION = 2
DEPTHWISE_KERNEL = 31
INPUT_GROUPS = 4
THRESHOLD = 0.006
DECODE_HALF_WINDOW = 4


class FcpeMel(nn.Module):
    """Audio [B, samples] -> log-mel [B, len // 160 + 1, 128], torchfcpe's ``Wav2MelModule`` at 16 kHz."""

    def __init__(self) -> None:
        super().__init__()
        mel = librosa.filters.mel(sr=SAMPLE_RATE_HZ, n_fft=N_FFT, n_mels=N_MELS, fmin=0, fmax=MEL_FMAX_HZ)
        self.register_buffer("mel_basis", torch.from_numpy(mel).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        n_samples = audio.shape[-1]
        left = (N_FFT - HOP_LENGTH) // 2
        right = max((N_FFT - HOP_LENGTH + 1) // 2, N_FFT - n_samples - left)
        mode = "reflect" if right < n_samples else "constant"
        padded = F.pad(audio[:, None], (left, right), mode=mode)[:, 0]
        spec = torch.stft(padded, N_FFT, HOP_LENGTH, N_FFT, self.window, center=False, return_complex=True)
        magnitude = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-9)
        mel = torch.log(torch.clamp(self.mel_basis @ magnitude, min=LOG_FLOOR)).transpose(1, 2)
        n_frames = n_samples // HOP_LENGTH + 1
        if mel.shape[1] < n_frames:  # repeat the last frame, as torchfcpe
            mel = torch.cat([mel, mel[:, -1:]], 1)
        return mel[:, :n_frames]


class ConvBlock(nn.Module):
    """A Conformer convolution module with its residual: LayerNorm, 1x1 conv + GLU, depthwise conv, SiLU, 1x1 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = channels * EXPANSION
        self.norm = nn.LayerNorm(channels)
        self.expand = nn.Conv1d(channels, 2 * inner, 1)
        self.depthwise = nn.Conv1d(inner, inner, DEPTHWISE_KERNEL, padding=DEPTHWISE_KERNEL // 2, groups=inner)
        self.project = nn.Conv1d(inner, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C]
        y = F.glu(self.expand(self.norm(x).transpose(1, 2)), dim=1)
        return x + self.project(F.silu(self.depthwise(y))).transpose(1, 2)


class FcpeNet(nn.Module):
    """Log-mel [B, T, 128] -> activations [B, T, 360]."""

    def __init__(self) -> None:
        super().__init__()
        self.input_stack = nn.Sequential(
            nn.Conv1d(N_MELS, HIDDEN, 3, 1, 1), nn.GroupNorm(INPUT_GROUPS, HIDDEN), nn.LeakyReLU(),
            nn.Conv1d(HIDDEN, HIDDEN, 3, 1, 1),
        )
        self.blocks = nn.ModuleList(ConvBlock(HIDDEN) for _ in range(N_BLOCKS))
        self.norm = nn.LayerNorm(HIDDEN)
        self.output = nn.Linear(HIDDEN, N_BINS)
        self.register_buffer("cent_table", torch.zeros(N_BINS))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.input_stack(mel.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        return torch.sigmoid(self.output(self.norm(x)))


# torchfcpe's names for the parts of a convolution-only checkpoint (``conformer.net`` is its Sequential).
_RENAMES = [
    (r"net\.encoder_layers\.(\d+)\.conformer\.net\.0\.", r"blocks.\1.norm."),
    (r"net\.encoder_layers\.(\d+)\.conformer\.net\.2\.", r"blocks.\1.expand."),
    (r"net\.encoder_layers\.(\d+)\.conformer\.net\.4\.conv\.", r"blocks.\1.depthwise."),
    (r"net\.encoder_layers\.(\d+)\.conformer\.net\.6\.", r"blocks.\1.project."),
]
_UNUSED = re.compile(r"net\.encoder_layers\.\d+\.norm\.|gaussian_blurred_cent_mask$")  # the unused attention norm


def _our_weights(model: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    weights = {}
    for key, value in model.items():
        if _UNUSED.match(key):
            continue
        for pattern, replacement in _RENAMES:
            key = re.sub(pattern, replacement, key)
        weights[key] = value
    # weight norm folded into one matrix: g * v / |v| per output row (the norm torch's weight_norm takes with dim=0)
    g, v = weights.pop("output_proj.weight_g"), weights.pop("output_proj.weight_v")
    weights["output.weight"] = g * v / v.norm(dim=1, keepdim=True)
    weights["output.bias"] = weights.pop("output_proj.bias")
    return weights


def load_fcpe_net() -> FcpeNet:
    """The bundled FCPE network of torchfcpe's wheel, in eval mode on the CPU."""
    path = packaged_file("torchfcpe", "assets/fcpe_c_v001.pt", "fcpe")
    try:
        checkpoint = load_weights(path)
        config = checkpoint["config_dict"]["model"]
        if not config.get("conv_only"):
            raise F0ModelError(f"{path}: an FCPE model with attention; only the convolution-only bundled one runs here")
        with empty_modules():
            net = FcpeNet()
        net.load_state_dict(_our_weights(checkpoint["model"]), strict=True, assign=True)
    except (WeightsFileError, KeyError, TypeError, RuntimeError) as error:
        raise F0ModelError(f"{path} is not torchfcpe's bundled model: {error}") from error
    return net.eval()


def decode_local_argmax(activations: torch.Tensor, cent_table: torch.Tensor, threshold: float) -> torch.Tensor:
    """[T, 360] -> f0 Hz [T]: weighted mean cents of the 9 bins around the peak (indices clamped at the table's ends,
    so an edge bin counts more than once, as in torchfcpe); 0 where the peak is at most ``threshold``."""
    peak, peak_bin = activations.max(dim=1, keepdim=True)
    window = (peak_bin + torch.arange(-DECODE_HALF_WINDOW, DECODE_HALF_WINDOW + 1)).clamp(0, N_BINS - 1)
    weights = activations.gather(1, window)
    cents = (cent_table[window] * weights).sum(dim=1) / weights.sum(dim=1)
    f0 = 10 * 2 ** (cents / 1200)
    f0[peak[:, 0] <= threshold] = 0
    return f0


class FcpeExtractor(F0Extractor):
    """torchfcpe's bundled model, decoded as RVC does (local argmax, threshold 0.006)."""

    name = "fcpe"

    def __init__(self, device: str = "cpu") -> None:
        self.device = torch.device(device)
        self.mel = FcpeMel().to(self.device)
        self.net = load_fcpe_net().to(self.device)

    @torch.inference_mode()
    def activations(self, audio: np.ndarray) -> torch.Tensor:
        """[len // 160 + 1, 360] network activations of a 16 kHz signal, on the CPU."""
        samples = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None].to(self.device)
        return self.net(self.mel(samples))[0].float().cpu()

    def _compute(self, audio: np.ndarray) -> np.ndarray:
        return decode_local_argmax(self.activations(audio), self.net.cent_table.cpu(), THRESHOLD).numpy()
