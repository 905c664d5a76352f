"""Long inputs are converted in segments cut at the quietest points, exactly as the original pipeline does.

Each segment is padded with `x_pad` seconds of real context on both sides, converted, and trimmed; cut points
are searched within `x_query` seconds of every `x_center`-second mark, and inputs shorter than `x_max` seconds
are converted whole. The original uses one set of values for fp32 and a longer one for fp16 (GPU) runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE_16K_HZ = 16000
WINDOW_SAMPLES = 160  # one f0/feature frame at 16 kHz (10 ms)


@dataclass(frozen=True)
class SegmentSettings:
    x_pad: int  # seconds of context padded on each side of a segment
    x_query: int  # seconds searched around each nominal cut for the quietest point
    x_center: int  # seconds between nominal cuts
    x_max: int  # inputs up to this many seconds are not cut

    @property
    def pad_samples(self) -> int:
        return SAMPLE_RATE_16K_HZ * self.x_pad


FP32_SEGMENTS = SegmentSettings(x_pad=1, x_query=6, x_center=38, x_max=41)
FP16_SEGMENTS = SegmentSettings(x_pad=3, x_query=10, x_center=60, x_max=65)
LOW_MEMORY_SEGMENTS = SegmentSettings(x_pad=1, x_query=5, x_center=30, x_max=32)
# Ours for CPU runs. The decoder's passes over 40 s of 40 kHz audio are memory-bound: measured on this 2-core
# CPU with the full-size v2 model, 40 s segments took about 2.5x longer per audio second than 15 s ones and
# +1.7 GB instead of +0.65 GB. 15 s keeps the 2 s of padding per segment cheap; outputs differ from the
# original's cuts only near the cut points.
CPU_SEGMENTS = SegmentSettings(x_pad=1, x_query=3, x_center=15, x_max=17)


def find_cut_points(audio_16k: np.ndarray, settings: SegmentSettings) -> list[int]:
    """Sample positions (multiples of the frame) where the original cuts a long input.

    The loudness measure is the sum of |x| over a one-frame window; the cut is the first minimum within
    ``x_query`` seconds of each ``x_center`` mark.
    """
    half = WINDOW_SAMPLES // 2
    padded = np.pad(audio_16k, (half, half), mode="reflect")
    if padded.shape[0] <= SAMPLE_RATE_16K_HZ * settings.x_max:
        return []
    window_sum = np.zeros_like(audio_16k)
    for offset in range(WINDOW_SAMPLES):
        window_sum += np.abs(padded[offset : offset - WINDOW_SAMPLES])
    query = SAMPLE_RATE_16K_HZ * settings.x_query
    center = SAMPLE_RATE_16K_HZ * settings.x_center
    cuts = []
    for mark in range(center, audio_16k.shape[0], center):
        region = window_sum[mark - query : mark + query]
        cut = mark - query + int(np.argmin(region))
        cuts.append(cut // WINDOW_SAMPLES * WINDOW_SAMPLES)
    return cuts


@dataclass(frozen=True)
class Segment:
    """A slice of the padded input, its f0 frames, and how much of the output to trim."""

    start: int  # in samples of the padded 16 kHz input
    stop: int | None
    frame_start: int
    frame_stop: int | None


def plan_segments(cuts: list[int], settings: SegmentSettings) -> list[Segment]:
    """The slices of the reflect-padded input the original converts, one per cut plus the tail."""
    pad2 = 2 * settings.pad_samples
    segments = []
    start = 0
    for cut in cuts:
        stop_frame = (cut + pad2) // WINDOW_SAMPLES
        segments.append(Segment(start, cut + pad2 + WINDOW_SAMPLES, start // WINDOW_SAMPLES, stop_frame))
        start = cut
    segments.append(Segment(start, None, start // WINDOW_SAMPLES, None))
    return segments
