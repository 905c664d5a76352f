"""rvc.f0's own CREPE and FCPE against what torchcrepe and torchfcpe gave on the shared speech (recorded once by
``tests/fixtures/pitch_libraries/record.py``, in an environment that had the libraries and torchaudio).

Measured: every track equal in voicing frame for frame, crepe and crepe-tiny 0.0 cents apart (the same dither draws),
fcpe at most 0.003 cents; network activations within 2e-6 of the libraries' (float32 summation order).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from rvc.f0 import SAMPLE_RATE_HZ, get_extractor
from rvc.f0.crepe import CrepeExtractor
from rvc.f0.fcpe import FcpeExtractor
from tests.conftest import DATA_DIR

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "pitch_libraries"
RECORDED = json.loads((FIXTURES / "pitch_libraries.json").read_text())
MAX_CENTS = 0.01  # a hundredth of a cent: float rounding, no decoding difference
MAX_ACTIVATION_DIFFERENCE = 1e-5
SLOW_METHODS = {"crepe"}  # full CREPE: ~2 s of CPU per second of audio here


@pytest.fixture(scope="module")
def recorded() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "pitch_libraries.npz") as archive:
        return {key: archive[key] for key in archive.files}


@pytest.fixture(scope="module")
def extractors() -> dict:
    return {}


def _extractor(extractors: dict, method: str) -> CrepeExtractor | FcpeExtractor:
    if method not in extractors:
        extractors[method] = get_extractor(method)
    return extractors[method]


def _load_case(case: str) -> np.ndarray:
    """The case's 16 kHz input, made as the recording made it; its hash proves it is the same signal."""
    info = RECORDED["inputs"][case]
    audio, rate = sf.read(DATA_DIR / info["file"], dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)[int(info["start_s"] * rate) :]
    if info["seconds"] is not None:
        audio = audio[: int(info["seconds"] * rate)]
    audio = soxr.resample(audio, rate, SAMPLE_RATE_HZ).astype(np.float32)
    assert hashlib.sha256(audio.tobytes()).hexdigest() == info["sha256"], f"{case}: not the recorded input"
    return audio


CASES = [
    pytest.param(case, method, marks=[pytest.mark.slow] if method in SLOW_METHODS else [])
    for case in RECORDED["inputs"]
    for method in ("crepe", "crepe-tiny", "fcpe")
]


@pytest.mark.parametrize(("case", "method"), CASES)
def test_track_equals_the_librarys(recorded: dict, extractors: dict, case: str, method: str) -> None:
    audio = _load_case(case)
    ours = _extractor(extractors, method).compute(audio)
    theirs = recorded[f"{case}/{method}/f0"]
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours > 0, theirs > 0)
    voiced = theirs > 0
    assert voiced.mean() > 0.3, "a case with too little voice to compare"
    cents = np.abs(1200 * np.log2(ours[voiced] / theirs[voiced]))
    print(f"\n{case} {method}: {voiced.sum()}/{len(theirs)} voiced, worst {cents.max():.4f} cents")
    assert cents.max() < MAX_CENTS


@pytest.mark.parametrize("case", list(RECORDED["inputs"]))
@pytest.mark.parametrize("method", ["crepe", "crepe-tiny"])
def test_crepe_activations_equal_the_librarys(recorded: dict, extractors: dict, case: str, method: str) -> None:
    expected = recorded[f"{case}/{method}/probabilities"]
    audio = _load_case(case)[: (len(expected) - 1) * 160 + 512]  # the last kept frame's window ends here
    got = _extractor(extractors, method).activations(audio)[: len(expected)].numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=MAX_ACTIVATION_DIFFERENCE)


@pytest.mark.parametrize("case", list(RECORDED["inputs"]))
def test_fcpe_mel_and_activations_equal_the_librarys(recorded: dict, extractors: dict, case: str) -> None:
    extractor = _extractor(extractors, "fcpe")
    with torch.inference_mode():
        mel = extractor.mel(torch.from_numpy(_load_case(case))[None])
        activations = extractor.net(mel)[0]
    n = len(recorded[f"{case}/fcpe/mel"])
    np.testing.assert_allclose(mel[0, :n].numpy(), recorded[f"{case}/fcpe/mel"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(activations[:n].numpy(), recorded[f"{case}/fcpe/latent"], rtol=0,
                               atol=MAX_ACTIVATION_DIFFERENCE)


def test_torchaudio_is_not_installed() -> None:
    """The point of our own CREPE and FCPE: nothing ties torch to the one release a torchaudio build was made for."""
    import importlib.util

    assert importlib.util.find_spec("torchaudio") is None
