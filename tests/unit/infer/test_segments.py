"""Cut points at the quietest place near each nominal cut, and a plan that covers the input once."""

from __future__ import annotations

import numpy as np

from rvc.infer.segments import FP32_SEGMENTS, WINDOW_SAMPLES, SegmentSettings, find_cut_points, plan_segments

RATE = 16000


def noisy(seconds: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, int(seconds * RATE)).astype(np.float32)


def test_short_input_is_not_cut():
    assert find_cut_points(noisy(40), FP32_SEGMENTS) == []


def test_cuts_land_in_the_silence_near_each_mark():
    audio = noisy(100)
    silences = [37.0, 77.5]  # within x_query (6 s) of the 38 s and 76 s marks
    for at in silences:
        audio[int(at * RATE) : int((at + 0.2) * RATE)] = 0
    cuts = find_cut_points(audio, FP32_SEGMENTS)
    assert len(cuts) == 2
    for cut, at in zip(cuts, silences, strict=True):
        assert cut % WINDOW_SAMPLES == 0
        assert at * RATE - WINDOW_SAMPLES <= cut <= (at + 0.2) * RATE


def test_plan_covers_every_frame_once():
    settings = SegmentSettings(x_pad=1, x_query=2, x_center=8, x_max=10)
    audio = noisy(39)
    cuts = find_cut_points(audio, settings)
    assert len(cuts) == 4
    plan = plan_segments(cuts, settings)
    assert plan[0].start == 0 and plan[-1].stop is None
    for before, after in zip(plan, plan[1:], strict=False):
        assert after.start == cuts[plan.index(before)]
        assert before.stop == after.start + 2 * settings.pad_samples + WINDOW_SAMPLES
