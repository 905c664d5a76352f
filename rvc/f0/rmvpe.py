"""RMVPE: a U-Net + BiGRU that reads a log-mel spectrogram and outputs a 360-bin pitch salience per frame.

Written from the model's description, with module names chosen so that the ecosystem's ``rmvpe.pt`` (a
plain state dict of the original ``E2E(4, 1, (2, 2))``, fp32 or fp16) loads strictly. Three parts:
``MelFrontEnd`` (audio -> log-mel), ``RmvpeNet`` (log-mel -> salience) and ``salience_to_f0`` (decoding).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rvc.devices import half_precision_safe
from rvc.empty_modules import empty_modules
from rvc.f0.base import HOP_LENGTH, SAMPLE_RATE_HZ, F0Extractor
from rvc.memory import release_free_memory
from rvc.safe_load import WeightsFileError, load_weights

N_MELS = 128
N_FFT = 1024
MEL_FMIN_HZ = 30.0
MEL_FMAX_HZ = 8000.0
LOG_FLOOR = 1e-5
N_BINS = 360  # 20-cent pitch bins
CENTS_PER_BIN = 20.0
CENTS_OF_BIN_0 = 1997.3794084376191  # cents above 10 Hz: bin 0 is about 31.7 Hz
DECODE_HALF_WINDOW = 4  # bins on each side of the peak that the weighted mean uses
DEFAULT_THRESHOLD = 0.03
TIME_MULTIPLE = 32  # five 2x poolings: the frame axis must be a multiple of 2**5

UNET_LEVELS = 5
UNET_BASE_CHANNELS = 16
UNET_INTERMEDIATE_STACKS = 4
BLOCKS_PER_STACK = 4
BN_MOMENTUM = 0.01
GRU_HIDDEN = 256
N_HEAD_CHANNELS = 3

DOWNLOAD_HINT = "get it with `python -m rvc download rmvpe`"


WHOLE_INPUT_FRAMES = 4352  # 43.5 s at 100 frames/s: every input the original converts in one segment on the CPU (up to
# 41 s) with its second of padding on each side, so those keep the original's pitch exactly (a 39.4 s song padded to
# 41.4 s went in chunks at 4096: 1.5x the network's work, +1.4 s)
# Longer inputs go in 5.12 s chunks, each read with 1.28 s of context on both sides: the network's working set
# grows with the frames it reads (0.16 MB a frame), and a chunk of 768 frames needs ~0.12 GB.
CHUNK_FRAMES = 512
CONTEXT_FRAMES = 128
# On a GPU the chunks go through the network in batches: the BiGRU reads its frames one after another, so one chunk
# at a time leaves the GPU idle (600 s took 5.9 s of pitch on an H200, 30 s in one piece 0.2 s). A batch of 16
# chunks is ~1 GB of fp16 activations. On the CPU batches buy nothing and cost memory: one chunk at a time there.
GPU_CHUNKS_PER_BATCH = 16


class F0ModelError(ValueError):
    """A pitch model file that is missing, unreadable or not the model it should be."""


class MelFrontEnd(nn.Module):
    """Log-mel spectrogram as RMVPE was trained on: HTK mel scale with Slaney area normalisation,
    magnitude (not power) STFT of a periodic 1024 Hann window, natural log floored at 1e-5."""

    def __init__(self) -> None:
        super().__init__()
        basis = librosa.filters.mel(
            sr=SAMPLE_RATE_HZ, n_fft=N_FFT, n_mels=N_MELS, fmin=MEL_FMIN_HZ, fmax=MEL_FMAX_HZ, htk=True
        )
        # Not persistent: derived data, and the checkpoint's keys must stay exactly the network's.
        self.register_buffer("mel_basis", torch.from_numpy(basis).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

    def forward(self, audio: torch.Tensor, dtype: torch.dtype = torch.float32, center: bool = True) -> torch.Tensor:
        """[batch, samples] -> [batch, 128, samples // 160 + 1] log-mel, the log taken in ``dtype``.

        ``center=False`` reads audio already padded by `pad` (or a span of it): frame ``i`` of a span that starts
        at padded sample ``160 * k`` is frame ``k + i`` of the whole signal, the same numbers.
        """
        spectrum = torch.stft(
            audio,
            n_fft=N_FFT,
            hop_length=HOP_LENGTH,
            window=self.window,
            center=center,
            pad_mode="reflect",
            return_complex=True,
        )
        magnitude = torch.sqrt(spectrum.real.pow(2) + spectrum.imag.pow(2))
        mel = torch.matmul(self.mel_basis, magnitude)
        return torch.log(torch.clamp(mel.to(dtype), min=LOG_FLOOR))

    @staticmethod
    def pad(audio: torch.Tensor) -> torch.Tensor:
        """[batch, samples] reflect-padded by half a window on each side, as the centred STFT pads it."""
        return F.pad(audio[:, None], (N_FFT // 2, N_FFT // 2), mode="reflect")[:, 0]


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM),
        nn.ReLU(),
    ]


class ResidualBlock(nn.Module):
    """Two 3x3 conv-BN-ReLU layers plus a skip path (a 1x1 conv when the channel count changes)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(*_conv_bn_relu(in_channels, out_channels), *_conv_bn_relu(out_channels, out_channels))
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.shortcut(x)


def residual_blocks(in_channels: int, out_channels: int) -> nn.Sequential:
    """``BLOCKS_PER_STACK`` residual blocks; the first one changes the channel count."""
    return nn.Sequential(
        ResidualBlock(in_channels, out_channels),
        *(ResidualBlock(out_channels, out_channels) for _ in range(BLOCKS_PER_STACK - 1)),
    )


class ResidualStack(nn.Module):
    """``residual_blocks`` as one module (the checkpoint names its blocks ``<stack>.conv.<i>``)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = residual_blocks(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Encoder(nn.Module):
    """Input BatchNorm, then per level a residual stack whose output is kept for the skip connection
    and average-pooled 2x2 for the next level."""

    def __init__(self, channels: list[int]) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels[0], momentum=BN_MOMENTUM)
        self.layers = nn.ModuleList(ResidualStack(c_in, c_out) for c_in, c_out in pairwise(channels))
        self.pool = nn.AvgPool2d(2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        skips = []
        x = self.bn(x)
        for stack in self.layers:
            skip = stack(x)
            skips.append(skip)
            x = self.pool(skip)
        return x, skips


class Intermediate(nn.Module):
    """The bottleneck: residual stacks at the lowest resolution, doubling the channels once."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            ResidualStack(in_channels, out_channels),
            *(ResidualStack(out_channels, out_channels) for _ in range(UNET_INTERMEDIATE_STACKS - 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class DecoderLevel(nn.Module):
    """A 2x transposed-conv upsampling, then a residual stack over [upsampled, skip]."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1, bias=False),
            nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM),
            nn.ReLU(),
        )
        self.conv2 = residual_blocks(2 * out_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv2(torch.cat((self.conv1(x), skip), dim=1))


class Decoder(nn.Module):
    def __init__(self, channels: list[int]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DecoderLevel(c_in, c_out) for c_in, c_out in pairwise(channels))

    def forward(self, x: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        for level, skip in zip(self.layers, reversed(skips), strict=True):
            x = level(x, skip)
        return x


class DeepUnet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        widths = [UNET_BASE_CHANNELS * 2**level for level in range(UNET_LEVELS)]  # 16 .. 256
        self.encoder = Encoder([1, *widths])
        self.intermediate = Intermediate(widths[-1], 2 * widths[-1])
        self.decoder = Decoder([2 * widths[-1], *reversed(widths)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, skips = self.encoder(x)
        return self.decoder(self.intermediate(x), skips)


class BiGRU(nn.Module):
    """A bidirectional GRU that returns only its output sequence, so it fits in ``nn.Sequential``."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gru(x)[0]


class RmvpeNet(nn.Module):
    """The RMVPE network (the original ``E2E(4, 1, (2, 2))``): log-mel [B, 128, T] -> salience [B, T, 360].

    T must be a multiple of 32; ``RmvpeExtractor`` pads it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.unet = DeepUnet()
        self.cnn = nn.Conv2d(UNET_BASE_CHANNELS, N_HEAD_CHANNELS, 3, padding=1)
        self.fc = nn.Sequential(
            BiGRU(N_HEAD_CHANNELS * N_MELS, GRU_HIDDEN),
            nn.Linear(2 * GRU_HIDDEN, N_BINS),
            nn.Dropout(0.25),
            nn.Sigmoid(),
        )

    def features(self, mel: torch.Tensor) -> torch.Tensor:
        """The U-Net + conv head output [B, 3, T, 128]: the time-major image the GRU reads."""
        return self.cnn(self.unet(mel.transpose(-1, -2).unsqueeze(1)))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.features(mel)
        return self.fc(x.transpose(1, 2).flatten(-2))


_CENTS = CENTS_PER_BIN * np.arange(N_BINS) + CENTS_OF_BIN_0


def salience_to_cents(salience: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Per frame, the salience-weighted mean pitch in cents over the peak bin +-4 bins; 0 where the peak
    is <= ``threshold``. Bins beyond the edges count as salience 0 at 0 cents, as in the original."""
    pad = DECODE_HALF_WINDOW
    padded = np.pad(salience, ((0, 0), (pad, pad)))
    cents = np.pad(_CENTS, (pad, pad))
    # In padded coordinates the window around peak bin c starts at c.
    window_idx = np.argmax(salience, axis=1)[:, None] + np.arange(2 * pad + 1)
    weights = np.take_along_axis(padded, window_idx, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):  # all-zero windows are below threshold anyway
        result = np.sum(weights * cents[window_idx], axis=1) / np.sum(weights, axis=1)
    result[np.max(padded, axis=1) <= threshold] = 0
    return result


def cents_to_f0(cents: np.ndarray) -> np.ndarray:
    """Cents above 10 Hz -> Hz, with 0 cents (unvoiced) -> 0 Hz."""
    f0 = 10 * 2 ** (cents / 1200)
    f0[f0 == 10] = 0
    return f0


def salience_to_f0(salience: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Decode a [frames, 360] salience into f0 in Hz (0 = unvoiced)."""
    return cents_to_f0(salience_to_cents(salience, threshold))


def default_model_path() -> Path:
    """``assets/rmvpe/rmvpe.pt`` under the project home (``RVC_HOME``, else the working directory)."""
    return Path(os.environ.get("RVC_HOME") or os.getcwd()) / "assets" / "rmvpe" / "rmvpe.pt"


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise F0ModelError(f"RMVPE model not found at {path}: {DOWNLOAD_HINT}")
    try:
        state = load_weights(path)  # community checkpoints are untrusted: weights only, no code runs
    except WeightsFileError as exc:
        raise F0ModelError(f"{path}: {exc}") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise F0ModelError(f"{path} is not an RMVPE model: expected a plain state dict of tensors")
    return state


def _check_state_dict(path: Path, state: dict[str, torch.Tensor], model: nn.Module) -> None:
    """Name every mismatch at once, so a wrong file is recognised as such, not as a shape error deep in torch."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
    problems += [
        f"{key} has shape {list(state[key].shape)}, expected {list(tensor.shape)}"
        for key, tensor in expected.items()
        if key in state and state[key].shape != tensor.shape
    ][:5]
    if problems:
        raise F0ModelError(f"{path} is not an RMVPE model state dict: " + "; ".join(problems))


def load_rmvpe_net(path: str | os.PathLike[str]) -> RmvpeNet:
    """Build the network from an ``rmvpe.pt`` state dict (fp16 or fp32), as float32 in eval mode."""
    path = Path(path)
    state = _read_state_dict(path)
    # Built as shapes only: a file that does not fit is refused at once, and no random initialisation (0.6 s of this
    # CPU's start-up) is spent on weights the file replaces.
    with empty_modules():
        net = RmvpeNet()
    _check_state_dict(path, state, net)
    weights = {key: value.float() if value.is_floating_point() else value for key, value in state.items()}
    net.load_state_dict(weights, strict=True, assign=True)
    return net.eval()


class RmvpeExtractor(F0Extractor):
    """RMVPE pitch: audio -> log-mel -> salience -> f0, as the original ``RMVPE.infer_from_audio``.

    ``half`` runs the network in fp16 where that is safe (CUDA, XPU; as the original does with ``is_half``); on the
    CPU and MPS it is ignored (CPU fp16 convolutions are slow and inexact, see `rvc.devices` for MPS).
    """

    name = "rmvpe"
    min_samples = N_FFT // 2 + 1  # reflect padding of the centred STFT needs more than half a window

    def __init__(
        self,
        net: RmvpeNet,
        device: str = "cpu",
        half: bool = False,
        threshold: float = DEFAULT_THRESHOLD,
        model_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.dtype = torch.float16 if half and half_precision_safe(self.device) else torch.float32
        self._net: RmvpeNet | None = net.to(self.device, self.dtype).eval()
        self.model_path = Path(model_path) if model_path is not None else None
        self.front_end = MelFrontEnd().to(self.device)
        self.threshold = threshold
        self.chunks_per_batch = GPU_CHUNKS_PER_BATCH if self.device.type == "cuda" else 1

    @classmethod
    def from_file(
        cls, model_path: str | os.PathLike[str] | None = None, device: str = "cpu", half: bool = False
    ) -> RmvpeExtractor:
        """Load ``model_path`` (default: ``default_model_path()``)."""
        path = model_path or default_model_path()
        return cls(load_rmvpe_net(path), device, half, model_path=path)

    @property
    def net(self) -> RmvpeNet:
        """The network, read again from its file after `release_weights`."""
        if self._net is None:
            self._net = load_rmvpe_net(self.model_path).to(self.device, self.dtype).eval()
        return self._net

    def release_weights(self) -> None:
        """Drop the network (345 MB of fp32 weights) until the next use reads its file again (0.8 s on this CPU);
        an extractor built from a network rather than a file keeps it."""
        if self.model_path is not None:
            self._net = None

    def salience(self, audio: np.ndarray) -> np.ndarray:
        """[frames, 360] float32 salience of a 16 kHz signal, frames = len // 160 + 1 (see `_salience_pieces`)."""
        return np.concatenate(list(self._salience_pieces(audio)))

    @torch.inference_mode()
    def _salience_pieces(self, audio: np.ndarray) -> Iterator[np.ndarray]:
        """The salience in consecutive pieces of frames.

        Up to ``WHOLE_INPUT_FRAMES`` (every input the original pipeline converts in one piece) the whole signal goes
        through the network at once, exactly as the original. Longer inputs go in ``CHUNK_FRAMES`` chunks, each read
        with ``CONTEXT_FRAMES`` of context on each side (a window at an end of the input is shifted inwards, so that
        all have one width and batch together), its log-mel from its own span of the signal: U-Net activations grow
        with length (about 0.9 GB per minute) and the STFT of a 10-minute song is 0.5 GB, so a long input would
        otherwise need GBs. The BiGRU then sees 7.7 s instead of the whole song, which moves the salience only
        slightly near chunk edges; the log-mel is the whole signal's, frame for frame.
        """
        net = self.net  # held for the whole input, should another thread release the weights meanwhile
        samples = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None].to(self.device)
        n_frames = samples.shape[-1] // HOP_LENGTH + 1
        if n_frames <= WHOLE_INPUT_FRAMES:
            yield _net_salience(net, self.front_end(samples, self.dtype))[0]
            return
        padded = self.front_end.pad(samples)
        windows = _chunk_windows(n_frames)
        for first in range(0, len(windows), self.chunks_per_batch):
            batch = windows[first : first + self.chunks_per_batch]
            mel = torch.cat([self._window_mel(padded, n_frames, low, high) for low, high, _, _ in batch])
            salience = _net_salience(net, mel)
            release_free_memory()  # the batch's activations, so that the heap does not grow batch after batch
            for rows, (low, _, start, stop) in zip(salience, batch, strict=True):
                yield rows[start - low : stop - low]

    def _window_mel(self, padded: torch.Tensor, n_frames: int, low: int, high: int) -> torch.Tensor:
        """Log-mel frames low:high of the whole signal (from its span of the padded signal); frames past its end are
        zeros, as the whole input's padding to a multiple of 32 frames makes them."""
        real = min(high, n_frames) - low
        mel = self.front_end(padded[:, low * HOP_LENGTH : (low + real - 1) * HOP_LENGTH + N_FFT], self.dtype, False)
        return F.pad(mel, (0, high - low - real))

    def _compute(self, audio: np.ndarray) -> np.ndarray:
        # Decoded piece by piece: a frame's pitch reads only its own salience, which is 86 MB for 10 minutes.
        return np.concatenate([salience_to_f0(piece, self.threshold) for piece in self._salience_pieces(audio)])


def _chunk_windows(n_frames: int) -> list[tuple[int, int, int, int]]:
    """(low, high, start, stop) per chunk: the network reads frames low:high and keeps start:stop. Windows lie inside
    the frames the whole input would be padded to (a multiple of 32) and have one width; one near an end is shifted
    inwards (more context on its inner side), so the last one ends on the same zero frames as the whole input."""
    padded_frames = n_frames + -n_frames % TIME_MULTIPLE
    width = min(padded_frames, CHUNK_FRAMES + 2 * CONTEXT_FRAMES)
    windows = []
    for start in range(0, n_frames, CHUNK_FRAMES):
        low = max(0, min(start - CONTEXT_FRAMES, padded_frames - width))
        windows.append((low, low + width, start, min(start + CHUNK_FRAMES, n_frames)))
    return windows


def _net_salience(net: RmvpeNet, mel: torch.Tensor) -> np.ndarray:
    """Log-mel [B, 128, T] -> salience [B, T, 360] float32 on the CPU."""
    n_frames = mel.shape[-1]
    padded = F.pad(mel, (0, -n_frames % TIME_MULTIPLE))  # zeros in the log domain, as the original
    return net(padded)[:, :n_frames].float().cpu().numpy()
