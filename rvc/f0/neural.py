"""Pitch trackers that wrap pretrained networks shipped inside their pip packages: CREPE and FCPE.

The packages are imported when an extractor is built, so ``import rvc.f0`` stays light.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from collections.abc import Iterator

import numpy as np
import torch

from rvc.f0.base import F0_MAX_HZ, F0_MIN_HZ, HOP_LENGTH, SAMPLE_RATE_HZ, F0Extractor

logger = logging.getLogger(__name__)

CREPE_BATCH_FRAMES = 512  # the original's batch; torchcrepe decodes (Viterbi) each batch separately
CREPE_PERIODICITY_THRESHOLD = 0.1
FCPE_THRESHOLD = 0.006


@contextlib.contextmanager
def _fixed_numpy_seed(seed: int = 0) -> Iterator[None]:
    """Seed numpy's global RNG for the block, then restore it.

    torchcrepe dithers each pitch by up to +-20 cents with noise from numpy's global RNG (scipy.stats),
    so unseeded tracks differ by a few cents from run to run. A fixed seed keeps the original's dither
    but makes a conversion reproducible, without changing the caller's random stream.
    """
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _to_tensor(audio: np.ndarray, device: str) -> torch.Tensor:
    """A [1, samples] float32 tensor on ``device``: the layout both packages take."""
    return torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None].to(device)


class CrepeExtractor(F0Extractor):
    """torchcrepe with the original RVC post-processing.

    Periodicity (the network's confidence) is median-filtered and f0 mean-filtered over 3 frames, then
    frames with periodicity under 0.1 become unvoiced. Calls run one at a time, from any thread: each seeds
    numpy's global RNG for torchcrepe's dither (see ``_fixed_numpy_seed``), which a concurrent call would reseed
    or draw from midway.
    """

    _calls = threading.Lock()

    def __init__(self, capacity: str = "full", device: str = "cpu") -> None:
        if capacity not in ("full", "tiny"):
            raise ValueError(f"CREPE capacity must be 'full' or 'tiny', got {capacity!r}")
        self.name = "crepe" if capacity == "full" else f"crepe-{capacity}"
        self.capacity = capacity
        self.device = device

    def _compute(self, audio: np.ndarray) -> np.ndarray:
        import torchcrepe

        with self._calls, _fixed_numpy_seed():
            f0, periodicity = torchcrepe.predict(
                _to_tensor(audio, self.device),
                SAMPLE_RATE_HZ,
                HOP_LENGTH,
                F0_MIN_HZ,
                F0_MAX_HZ,
                self.capacity,
                batch_size=CREPE_BATCH_FRAMES,
                device=self.device,
                return_periodicity=True,
            )
        periodicity = torchcrepe.filter.median(periodicity, 3)
        f0 = torchcrepe.filter.mean(f0, 3)
        f0[periodicity < CREPE_PERIODICITY_THRESHOLD] = 0
        return f0[0].cpu().numpy()


class FcpeExtractor(F0Extractor):
    """torchfcpe's bundled model, decoded as RVC does (local argmax, threshold 0.006)."""

    name = "fcpe"

    def __init__(self, device: str = "cpu") -> None:
        from torchfcpe import spawn_bundled_infer_model

        # torchfcpe reports its configuration with print(); keep it out of stdout, which carries job events.
        with contextlib.redirect_stdout(io.StringIO()) as chatter:
            self.model = spawn_bundled_infer_model(device)
        logger.debug("torchfcpe: %s", chatter.getvalue().strip())
        self.device = device

    def _compute(self, audio: np.ndarray) -> np.ndarray:
        f0 = self.model.infer(
            _to_tensor(audio, self.device),
            sr=SAMPLE_RATE_HZ,
            decoder_mode="local_argmax",
            threshold=FCPE_THRESHOLD,
        )
        return f0[0, :, 0].cpu().numpy()
