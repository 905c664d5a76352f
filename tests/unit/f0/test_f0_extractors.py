"""The registry, frame counts and input checks of every extractor, and their agreement on real speech."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import soundfile as sf
import soxr
from scipy import signal

from rvc.f0 import F0_METHODS, SAMPLE_RATE_HZ, F0Extractor, get_extractor
from tests.conftest import DATA_DIR

WITHOUT_MODEL_FILE = [name for name in F0_METHODS if name != "rmvpe"]  # rmvpe: see test_f0_rmvpe.py


@pytest.fixture(scope="module")
def extractors() -> dict[str, F0Extractor]:
    return {name: get_extractor(name) for name in WITHOUT_MODEL_FILE}


def test_registry_lists_the_ecosystem_methods() -> None:
    assert set(F0_METHODS) == {"pm", "harvest", "dio", "crepe", "crepe-tiny", "fcpe", "rmvpe"}


def test_unknown_method_lists_the_valid_names() -> None:
    with pytest.raises(ValueError, match=r"unknown f0 method 'yin'; valid names: pm, harvest, .*rmvpe"):
        get_extractor("yin")


def _tone(n_samples: int, hz: float = 200.0) -> np.ndarray:
    t = np.arange(n_samples) / SAMPLE_RATE_HZ
    noise = np.random.default_rng(n_samples).normal(0, 0.003, n_samples)
    return (0.3 * np.sin(2 * np.pi * hz * t) + noise).astype(np.float32)


@pytest.mark.parametrize("n_samples", [4800, 4959])
@pytest.mark.parametrize("name", WITHOUT_MODEL_FILE)
def test_frame_count(extractors: dict[str, F0Extractor], name: str, n_samples: int) -> None:
    """pm is padded to the synthesizer's len // 160 frames; the others give a frame at both ends."""
    f0 = extractors[name].compute(_tone(n_samples))
    expected = n_samples // 160 if name == "pm" else n_samples // 160 + 1
    assert f0.shape == (expected,)
    assert f0.dtype == np.float64
    voiced = f0[f0 > 0]
    assert len(voiced) > len(f0) // 2
    assert np.median(voiced) == pytest.approx(200, rel=0.03)


@pytest.mark.parametrize("name", WITHOUT_MODEL_FILE)
def test_bad_input_is_a_clear_error(extractors: dict[str, F0Extractor], name: str) -> None:
    with pytest.raises(ValueError, match=f"{name}: audio of 0 samples is too short"):
        extractors[name].compute(np.zeros(0, np.float32))
    with pytest.raises(ValueError, match=f"{name}: expected mono audio as a 1-D array"):
        extractors[name].compute(np.zeros((2, 4800), np.float32))


def test_pm_needs_three_periods_of_the_pitch_floor(extractors: dict[str, F0Extractor]) -> None:
    with pytest.raises(ValueError, match="needs at least 960 samples"):
        extractors["pm"].compute(_tone(959))
    assert extractors["pm"].compute(_tone(960)).shape == (6,)


@pytest.mark.parametrize("name", ["harvest", "dio"])
def test_filter_radius_above_two_median_filters_world_tracks(name: str) -> None:
    audio = _tone(4800, 150) * np.linspace(0, 1, 4800, dtype=np.float32)  # a fade-in: a bumpy track
    raw = get_extractor(name).compute(audio)
    np.testing.assert_array_equal(get_extractor(name, filter_radius=2).compute(audio), raw)
    np.testing.assert_array_equal(get_extractor(name, filter_radius=3).compute(audio), signal.medfilt(raw, 3))


def test_crepe_dither_is_reproducible_and_leaves_the_callers_rng_alone(
    extractors: dict[str, F0Extractor],
) -> None:
    audio = _tone(4800, 180) * np.linspace(0.2, 1, 4800, dtype=np.float32)
    np.random.seed(7)
    expected_next = np.random.random()
    np.random.seed(7)
    first = extractors["crepe-tiny"].compute(audio)
    np.testing.assert_array_equal(extractors["crepe-tiny"].compute(audio), first)
    assert np.random.random() == expected_next


@pytest.mark.parametrize("name", WITHOUT_MODEL_FILE)
def test_calls_from_several_threads_give_what_calls_one_by_one_give(
    extractors: dict[str, F0Extractor], name: str
) -> None:
    """Training's extraction calls one extractor from several worker threads at once (crepe's calls take turns:
    each seeds numpy's global RNG for its dither)."""
    inputs = [_tone(4800, hz) * np.linspace(0.2, 1, 4800, dtype=np.float32) for hz in (120, 150, 180, 210)]
    one_by_one = [extractors[name].compute(audio) for audio in inputs]
    with ThreadPoolExecutor(4) as pool:
        at_once = list(pool.map(extractors[name].compute, inputs))
    for expected, got in zip(one_by_one, at_once, strict=True):
        np.testing.assert_array_equal(got, expected)


def _load_16k(path, seconds: float | None = None) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32")
    if seconds is not None:
        audio = audio[: int(seconds * rate)]
    return soxr.resample(audio, rate, SAMPLE_RATE_HZ)


# A voice's median f0 range, and the bound on how far two trackers may differ (median over the frames all
# of them call voiced). 50 cents is a quarter tone. Measured here: 0-24 cents between any two methods. An
# octave error costs 1200 cents; one track shifted by 5 frames against another costs about 55 on this speech.
SPEECH_CASES = {
    "voice_low/001": ("voice_low/001.flac", None, (80, 180)),
    "voice_high_long[:5s]": ("voice_high_long.flac", 5.0, (165, 350)),
}
MAX_MEDIAN_DIFFERENCE_CENTS = 50


@pytest.mark.slow
@pytest.mark.parametrize("case", SPEECH_CASES)
def test_trackers_agree_on_speech(extractors: dict[str, F0Extractor], case: str) -> None:
    file_name, seconds, (low_hz, high_hz) = SPEECH_CASES[case]
    audio = _load_16k(DATA_DIR / file_name, seconds)
    assert len(audio) <= 5 * SAMPLE_RATE_HZ  # full CREPE is slow on CPU
    n_frames = len(audio) // 160
    tracks = {name: extractor.compute(audio)[:n_frames] for name, extractor in extractors.items()}
    all_voiced = np.all([track > 0 for track in tracks.values()], axis=0)
    print(f"\n{case}: {len(audio) / SAMPLE_RATE_HZ:.2f} s, {all_voiced.sum()}/{n_frames} frames voiced in all")
    assert all_voiced.sum() > n_frames // 4

    cents = {name: 1200 * np.log2(track[all_voiced]) for name, track in tracks.items()}
    for name, track in tracks.items():
        median_hz = np.median(track[track > 0])
        print(f"  {name:<10} median {median_hz:6.1f} Hz, voiced {np.mean(track > 0):4.0%}")
        assert low_hz < median_hz < high_hz, name
    worst = 0.0
    for a, b in itertools.combinations(tracks, 2):
        difference = float(np.median(np.abs(cents[a] - cents[b])))
        print(f"  {a:>10} vs {b:<10} median |difference| {difference:5.1f} cents")
        worst = max(worst, difference)
    assert worst < MAX_MEDIAN_DIFFERENCE_CENTS
