"""The conversion pipeline on real speech with the tiny reference models and a thin HuBERT-shaped embedder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rvc.audio import load_audio
from rvc.embedders import load_embedder
from rvc.f0 import get_extractor
from rvc.infer import ConvertParams, convert_audio
from rvc.infer.segments import SegmentSettings
from rvc.retrieval import build_index, load_index
from rvc.synth import load_synthesizer
from tests.conftest import DATA_DIR
from tests.factories import tiny_pth, write_small_embedder

RATE = 16000
DETERMINISTIC = ConvertParams(f0_method="pm", noise_scale=0.0, index_rate=0.0)


@pytest.fixture(scope="module")
def source() -> np.ndarray:
    return load_audio(DATA_DIR / "source_speech_stereo48k.wav", RATE)[: 12 * RATE]


@pytest.fixture(scope="module")
def embedder(tmp_path_factory):
    return load_embedder(write_small_embedder(tmp_path_factory.mktemp("embedder")))


@pytest.fixture(scope="module")
def pm():
    return get_extractor("pm")


@pytest.fixture(scope="module")
def model():
    return load_synthesizer(tiny_pth("tiny_v2_f0_40k"))


def expected_samples(n_16k: int, sample_rate: int) -> int:
    return n_16k // 160 * (sample_rate // 100)


def test_output_is_as_long_as_the_input_finite_and_reproducible(source, model, embedder, pm):
    first = convert_audio(source, model, embedder, DETERMINISTIC, pm)
    second = convert_audio(source, model, embedder, DETERMINISTIC, pm)
    assert first.sample_rate_hz == 40000
    assert first.audio.dtype == np.float32 and first.audio.shape == (expected_samples(len(source), 40000),)
    assert np.isfinite(first.audio).all() and 0 < np.abs(first.audio).max() <= 0.99 + 1e-6
    np.testing.assert_array_equal(first.audio, second.audio)
    assert set(first.timings_s) >= {"f0", "hubert", "index", "synth", "postprocess"}


def test_default_noise_differs_between_runs(source, model, embedder, pm):
    params = DETERMINISTIC.replace(noise_scale=0.66666)
    a = convert_audio(source[: 3 * RATE], model, embedder, params, pm).audio
    b = convert_audio(source[: 3 * RATE], model, embedder, params, pm).audio
    assert not np.array_equal(a, b)


def test_segmented_long_input_keeps_length_and_continuity(source, model, embedder, pm):
    short = SegmentSettings(x_pad=1, x_query=1, x_center=4, x_max=5)
    whole = convert_audio(source, model, embedder, DETERMINISTIC, pm).audio
    cut = convert_audio(source, model, embedder, DETERMINISTIC, pm, segments=short).audio
    assert cut.shape == whole.shape
    # Away from the cuts a segment sees the same context, so most samples agree closely.
    close = np.abs(cut - whole) < 0.05 * np.abs(whole).max()
    assert close.mean() > 0.5


def test_transpose_and_pitch_curve_change_the_output(source, model, embedder, pm, tmp_path):
    base = convert_audio(source[: 3 * RATE], model, embedder, DETERMINISTIC, pm).audio
    up = convert_audio(source[: 3 * RATE], model, embedder, DETERMINISTIC.replace(transpose=12), pm).audio
    assert not np.allclose(base, up)
    curve = tmp_path / "curve.txt"
    curve.write_text("".join(f"{t / 100:.2f},{220.0}\n" for t in range(0, 300)))
    flat = convert_audio(source[: 3 * RATE], model, embedder, DETERMINISTIC.replace(f0_file=str(curve)), pm).audio
    assert flat.shape == base.shape and not np.allclose(base, flat)


def test_resample_sr_and_rms_mix(source, model, embedder, pm):
    clip = source[: 3 * RATE]
    at48 = convert_audio(clip, model, embedder, DETERMINISTIC.replace(resample_sr=48000), pm)
    assert at48.sample_rate_hz == 48000
    assert abs(at48.audio.shape[0] - expected_samples(len(clip), 40000) * 48 / 40) <= 2
    own = convert_audio(clip, model, embedder, DETERMINISTIC.replace(rms_mix_rate=1.0), pm).audio
    mixed = convert_audio(clip, model, embedder, DETERMINISTIC.replace(rms_mix_rate=0.0), pm).audio
    assert not np.allclose(own, mixed)


@pytest.mark.parametrize("name", ["tiny_v1_f0_40k", "tiny_v2_nof0_40k", "tiny_v1_nof0_40k", "tiny_v2_f0_32k"])
def test_every_model_kind_converts(name, source, embedder, pm):
    model = load_synthesizer(tiny_pth(name))
    extractor = pm if model.info.f0 else None
    result = convert_audio(source[: 3 * RATE], model, embedder, DETERMINISTIC, extractor)
    assert result.audio.shape == (expected_samples(3 * RATE, model.info.sample_rate),)
    assert np.isfinite(result.audio).all()


def test_index_built_from_own_features_changes_output(source, model, embedder, pm, tmp_path):
    features = tmp_path / "3_feature768"
    features.mkdir()
    for number, clip in enumerate(sorted((DATA_DIR / "voice_low").glob("*.flac"))[:6]):
        with torch.no_grad():
            feats = embedder.extract(load_audio(clip, RATE), "v2")[0].numpy()
        np.save(features / f"{number}.npy", feats)
    built = build_index(features, tmp_path, "voice", "v2")
    index = load_index(built.added_path)
    clip = source[: 3 * RATE]
    plain = convert_audio(clip, model, embedder, DETERMINISTIC, pm).audio
    retrieved = convert_audio(clip, model, embedder, DETERMINISTIC.replace(index_rate=0.75), pm, index).audio
    assert retrieved.shape == plain.shape and not np.allclose(plain, retrieved)
    again = convert_audio(clip, model, embedder, DETERMINISTIC.replace(index_rate=0.75), pm, index).audio
    np.testing.assert_array_equal(retrieved, again)


def test_wrong_index_dimension_is_refused_before_work(source, embedder, pm, tmp_path):
    features = tmp_path / "3_feature256"
    features.mkdir()
    np.save(features / "a.npy", np.random.default_rng(0).standard_normal((400, 256)).astype(np.float32))
    index = load_index(build_index(features, tmp_path, "v1voice", "v1").added_path)
    model = load_synthesizer(tiny_pth("tiny_v2_f0_40k"))
    with pytest.raises(ValueError, match="256"):
        convert_audio(source[:RATE], model, embedder, DETERMINISTIC.replace(index_rate=0.5), pm, index)


def test_unknown_speaker_is_refused(source, model, embedder, pm):
    with pytest.raises(ValueError, match="speaker"):
        convert_audio(source[:RATE], model, embedder, DETERMINISTIC.replace(sid=4), pm)


def test_a_half_precision_model_that_overflows_falls_back_to_float32(source, embedder, pm):
    model = load_synthesizer(tiny_pth("tiny_v2_f0_40k"), "cpu", torch.float16)
    huge_noise = DETERMINISTIC.replace(noise_scale=1e5)  # the prior sample leaves fp16's range: inf in half
    result = convert_audio(source[: 3 * RATE], model, embedder, huge_noise, pm)
    assert np.isfinite(result.audio).all() and np.abs(result.audio).max() > 0
    assert next(model.parameters()).dtype == torch.float32


class _CountingPm(type(get_extractor("pm"))):
    """pm that counts how often the pipeline gives back its model's memory."""

    def __init__(self) -> None:
        self.releases = 0

    def release_weights(self) -> None:
        self.releases += 1


def test_a_long_input_releases_each_stages_model_while_the_other_runs(source, model, embedder, monkeypatch):
    """HuBERT during the pitch stage, the pitch model after it; both are read again when needed: same output."""
    from rvc.infer import pipeline

    extractor, released, release = _CountingPm(), [], embedder.release_weights
    monkeypatch.setattr(embedder, "release_weights", lambda: released.append("hubert") or release())
    kept = convert_audio(source[: 3 * RATE], model, embedder, DETERMINISTIC, extractor).audio
    assert extractor.releases == 0 and not released
    monkeypatch.setattr(pipeline, "RELEASE_MODELS_AFTER_S", 2)
    again = convert_audio(source[: 3 * RATE], model, embedder, DETERMINISTIC, extractor).audio
    assert extractor.releases == 1 and released == ["hubert"]
    np.testing.assert_array_equal(again, kept)
