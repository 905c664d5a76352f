"""The signal-processing pitch trackers: Praat's autocorrelation (pm) and WORLD's harvest and dio.

Parameters are the original RVC ones, so tracks (and the models trained on them) stay comparable. Praat, WORLD
and scipy's filters are imported on first use: a conversion with rmvpe never loads them and a process starts
without them.
"""

from __future__ import annotations

import numpy as np

from rvc.f0.base import F0_MAX_HZ, F0_MIN_HZ, HOP_LENGTH, SAMPLE_RATE_HZ, F0Extractor, fit_frames, frame_count

FRAME_PERIOD_MS = 1000 * HOP_LENGTH / SAMPLE_RATE_HZ
PM_VOICING_THRESHOLD = 0.6


class PmExtractor(F0Extractor):
    """Praat's autocorrelation pitch: fast, good on clean singing, weaker on breathy or low voices."""

    name = "pm"
    # Praat needs three periods of the lowest pitch in the signal: 3 / 50 Hz = 60 ms.
    min_samples = int(3 * SAMPLE_RATE_HZ / F0_MIN_HZ)

    def _compute(self, audio: np.ndarray) -> np.ndarray:
        import parselmouth

        pitch = parselmouth.Sound(audio.astype(np.float64), SAMPLE_RATE_HZ).to_pitch_ac(
            time_step=HOP_LENGTH / SAMPLE_RATE_HZ,
            voicing_threshold=PM_VOICING_THRESHOLD,
            pitch_floor=F0_MIN_HZ,
            pitch_ceiling=F0_MAX_HZ,
        )
        # Praat starts half a window in and stops early: centre its frames on the synthesizer's grid.
        return fit_frames(pitch.selected_array["frequency"], frame_count(len(audio)))


class WorldExtractor(F0Extractor):
    """A WORLD tracker (harvest or dio) refined by stonemask, optionally median-filtered.

    ``filter_radius`` is the ecosystem's name for the inference option: above 2 the track goes through a
    3-point median filter, which removes single-frame octave jumps. The original applies it to harvest
    at inference time only (the training extractor never filters), hence the default of 0 here.
    """

    def __init__(self, name: str, filter_radius: int = 0) -> None:
        self.name = name
        self.filter_radius = filter_radius

    def _compute(self, audio: np.ndarray) -> np.ndarray:
        import pyworld
        from scipy import signal

        audio = np.ascontiguousarray(audio, dtype=np.float64)
        coarse, times = getattr(pyworld, self.name)(
            audio, fs=SAMPLE_RATE_HZ, f0_ceil=F0_MAX_HZ, f0_floor=F0_MIN_HZ, frame_period=FRAME_PERIOD_MS
        )
        f0 = pyworld.stonemask(audio, coarse, times, SAMPLE_RATE_HZ)
        return signal.medfilt(f0, 3) if self.filter_radius > 2 else f0


def harvest(filter_radius: int = 0) -> WorldExtractor:
    """WORLD harvest: robust on low and breathy voices, slow (about real time on one core)."""
    return WorldExtractor("harvest", filter_radius)


def dio(filter_radius: int = 0) -> WorldExtractor:
    """WORLD dio: harvest's fast, less robust predecessor (the original offers it for training)."""
    return WorldExtractor("dio", filter_radius)
