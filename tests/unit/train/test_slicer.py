"""The silence slicer: where it cuts on signals with pauses of known length, and on a real long recording."""

from __future__ import annotations

import numpy as np
import pytest

from rvc.audio import load_audio
from rvc.train.slicer import Slicer

RATE = 16_000


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


def located(audio: np.ndarray, part: np.ndarray) -> tuple[float, float]:
    """(start, end) in seconds of a slice, which is a view into ``audio``."""
    start = (part.__array_interface__["data"][0] - audio.__array_interface__["data"][0]) // audio.itemsize
    return start / RATE, (start + len(part)) / RATE


def test_a_long_pause_is_cut_keeping_at_most_the_allowed_silence():
    # 2 s tone | 1 s pause | 2 s tone | 0.2 s pause | 2 s tone: only the 1 s pause (>= 400 ms) is cut.
    audio = np.concatenate([tone(2), silence(1), tone(2), silence(0.2), tone(2)])
    parts = Slicer(RATE).slice(audio)
    assert len(parts) == 2
    (start0, end0), (start1, end1) = (located(audio, part) for part in parts)
    assert start0 == 0 and 2.0 < end0 <= 2.1  # the cut falls at the pause's first fully silent frame
    assert 2.45 <= start1 < 3.0  # at most max_sil_kept (500 ms, +1 hop) of silence before the next tone
    assert end1 == pytest.approx(len(audio) / RATE)
    removed = np.concatenate([audio[: int(start0 * RATE)], audio[int(end0 * RATE) : int(start1 * RATE)]])
    assert not removed.any(), "only silence may be removed"


def test_leading_and_trailing_silence_are_trimmed():
    audio = np.concatenate([silence(1), tone(2), silence(1)])
    (part,) = Slicer(RATE).slice(audio)
    start, end = located(audio, part)
    assert 0.45 <= start <= 0.55  # 500 ms of the leading second kept before the sound
    assert 3.0 <= end <= 3.1  # the trailing second goes, up to the window's reach
    assert np.array_equal(part[int((1 - start) * RATE) :][: len(tone(2))], tone(2))


@pytest.mark.parametrize(
    ("audio", "why"),
    [
        (np.concatenate([tone(2), silence(0.3), tone(2)]), "a pause under min_interval (400 ms)"),
        (np.concatenate([tone(0.8), silence(0.5), tone(2)]), "a pause after less than min_length (1.5 s) of audio"),
    ],
)
def test_pauses_that_are_too_short_or_too_early_are_not_cut(audio, why):
    parts = Slicer(RATE).slice(audio)
    assert len(parts) == 1, why
    assert len(parts[0]) == len(audio)


def test_silence_and_empty_input_give_nothing():
    assert Slicer(RATE).slice(silence(3)) == []
    assert Slicer(RATE).slice(np.zeros(0, dtype=np.float32)) == []


def test_frames_and_defaults_follow_the_original_rounding():
    slicer = Slicer(40_000)
    # hop 15 ms = 600 samples, RMS window min(400 ms, 4 hops), lengths in hops rounded as the original.
    assert (slicer.hop, slicer.window, slicer.min_length, slicer.min_interval, slicer.max_kept) == (
        600, 2400, 100, 27, 33
    )
    with pytest.raises(ValueError):
        Slicer(40_000, min_length_ms=300, min_interval_ms=400)


def test_a_long_recording_is_cut_at_its_sentence_pauses(data_dir):
    """25 s of voice_high_long (30 sentences in 108 s, 0.6 s pauses): one slice per sentence.

    A sentence with its pause takes 108 / 30 = 3.6 s, so 25 s hold about 7 pauses. Every pause is >= 400 ms and
    follows >= 1.5 s of speech, so each one is cut: 6 to 9 slices (depending on where the excerpt's edges fall),
    and no slice longer than a sentence (< 5 s), none but the edge ones shorter than the 1.5 s minimum.
    """
    audio = load_audio(data_dir / "voice_high_long.flac", 40_000)[20 * 40_000 : 45 * 40_000]
    parts = Slicer(40_000).slice(audio)
    lengths = [len(part) / 40_000 for part in parts]
    assert 6 <= len(parts) <= 9, lengths
    assert max(lengths) < 5.0, lengths
    assert min(lengths[1:-1]) >= 1.5, lengths
    assert sum(lengths) > 0.9 * 25  # pauses are short: little is removed
