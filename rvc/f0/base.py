"""What every pitch extractor shares: the frame grid, the input checks and the fit to a frame count.

RVC works on 16 kHz audio with one f0 value every 160 samples (100 frames per second); the synthesizer
receives ``len(audio_16k) // 160`` frames. Each method keeps the frame count the original RVC code gives it
(see ``F0Extractor.compute``); the pipeline crops to the synthesizer's count with ``fit_frames``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

SAMPLE_RATE_HZ = 16000
HOP_LENGTH = 160  # samples per f0 frame at SAMPLE_RATE_HZ
FRAMES_PER_SECOND = SAMPLE_RATE_HZ // HOP_LENGTH
F0_MIN_HZ = 50.0  # the search range every method is given, as in the original pipeline
F0_MAX_HZ = 1100.0


def frame_count(n_samples: int) -> int:
    """The synthesizer's frame count for ``n_samples`` of 16 kHz audio (the original's ``p_len``)."""
    return n_samples // HOP_LENGTH


def fit_frames(f0: np.ndarray, n_frames: int) -> np.ndarray:
    """Pad ``f0`` with unvoiced frames on both sides (centred, as RVC pads pm) or crop its end to ``n_frames``.

    Centring matters for pm: Praat's first frame sits half an analysis window into the signal, so the
    missing frames are split between the start and the end. Cropping the end is what the pipeline does
    with methods that return one frame more than it needs.
    """
    missing = n_frames - len(f0)
    if missing > 0:
        left = (missing + 1) // 2
        return np.pad(f0, (left, missing - left))
    return f0[:n_frames]


class F0Extractor(ABC):
    """A pitch tracker: 16 kHz float mono audio in, f0 in Hz at 100 frames/s out (0 = unvoiced)."""

    name: str
    min_samples: int = 1  # shortest input the underlying method accepts

    def compute(self, audio_16k: np.ndarray) -> np.ndarray:
        """Return the f0 track (float64, Hz) of ``audio_16k``.

        The frame count is the original RVC's for the method: ``len // 160`` for pm, ``len // 160 + 1``
        (one frame per hop including both ends) for the others.
        """
        audio = np.asarray(audio_16k)
        if audio.ndim != 1:
            raise ValueError(f"{self.name}: expected mono audio as a 1-D array, got shape {audio.shape}")
        if len(audio) < self.min_samples:
            raise ValueError(
                f"{self.name}: audio of {len(audio)} samples is too short, "
                f"needs at least {self.min_samples} samples at {SAMPLE_RATE_HZ} Hz"
            )
        return np.asarray(self._compute(audio), dtype=np.float64)

    @abstractmethod
    def _compute(self, audio: np.ndarray) -> np.ndarray:
        """Track a validated 1-D 16 kHz signal."""

    def release_weights(self) -> None:  # noqa: B027 (a hook: most methods have no model to release)
        """Give back the memory of the method's model until its next use reads it again (none: nothing to do)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
