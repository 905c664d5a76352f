"""Decoding: the stereo 48 kHz source, generated ogg/opus and video files, and every way a file can be unusable."""

from __future__ import annotations

import wave

import numpy as np
import pytest
import soundfile
import soxr

from rvc.audio import RESAMPLE_QUALITY, SAMPLE_RATE_16K_HZ, AudioError, load_audio, read_audio
from tests.conftest import DATA_DIR
from tests.unit.audio._media import TONE_HZ, dominant_frequency_hz, make_media

STEREO_SOURCE = DATA_DIR / "source_speech_stereo48k.wav"


@pytest.fixture(scope="module")
def stereo_source() -> tuple[np.ndarray, int]:
    """The source as soundfile (libsndfile, not FFmpeg) reads it: (frames, channels) float32."""
    samples, sample_rate_hz = soundfile.read(STEREO_SOURCE, dtype="float32", always_2d=True)
    return samples, sample_rate_hz


def test_read_audio_keeps_channels_and_rate(stereo_source):
    expected, _ = stereo_source
    decoded = read_audio(STEREO_SOURCE)
    assert (decoded.channels, decoded.sample_rate_hz) == (2, 48_000)
    assert decoded.samples.dtype == np.float32
    assert decoded.duration_s == pytest.approx(39.4, abs=0.1)
    np.testing.assert_array_equal(decoded.samples, expected.T)


def test_stereo_48k_loads_as_the_channel_mean_at_16k(stereo_source):
    expected_stereo, sample_rate_hz = stereo_source
    audio = load_audio(STEREO_SOURCE, SAMPLE_RATE_16K_HZ)
    expected = soxr.resample(expected_stereo.mean(axis=1), sample_rate_hz, SAMPLE_RATE_16K_HZ, quality=RESAMPLE_QUALITY)

    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - len(expected_stereo) * SAMPLE_RATE_16K_HZ / sample_rate_hz) <= 1
    np.testing.assert_allclose(audio, expected, atol=1e-6)
    assert 0.05 < np.abs(audio).max() <= 1.0


def test_load_audio_without_mono_keeps_both_channels_resampled(stereo_source):
    expected_stereo, _ = stereo_source
    audio = load_audio(STEREO_SOURCE, SAMPLE_RATE_16K_HZ, mono=False)
    assert audio.shape == (2, len(load_audio(STEREO_SOURCE, SAMPLE_RATE_16K_HZ)))
    # The channels differ in the source, and still do after resampling.
    assert not np.allclose(expected_stereo[:, 0], expected_stereo[:, 1])
    assert not np.allclose(audio[0], audio[1])


def test_load_audio_keeps_the_file_rate_by_default(stereo_source):
    expected_stereo, _ = stereo_source
    assert len(load_audio(STEREO_SOURCE)) == len(expected_stereo)


def test_ogg_opus_decodes(tmp_path):
    path = make_media(tmp_path / "tone.ogg", "ogg", audio_codec="libopus", audio_format="flt")
    decoded = read_audio(path)
    assert (decoded.channels, decoded.sample_rate_hz) == (2, 48_000)
    # Ogg carries opus's pre-skip and end trim, so the length is exact up to a few samples.
    assert decoded.duration_s == pytest.approx(1.0, abs=0.005)
    assert dominant_frequency_hz(decoded.samples[0], 48_000) == pytest.approx(TONE_HZ, abs=1.0)


@pytest.mark.parametrize(
    ("name", "muxer", "video_codec"), [("clip.mp4", "mp4", "mpeg4"), ("clip.mkv", "matroska", "libx264")]
)
def test_the_audio_track_of_a_video_decodes(tmp_path, name, muxer, video_codec):
    path = make_media(tmp_path / name, muxer, audio_codec="aac", video_codec=video_codec)
    audio = load_audio(path, SAMPLE_RATE_16K_HZ)
    # AAC may leave up to one 1024-sample frame of end padding (at 48 kHz, about 342 samples at 16 kHz).
    assert SAMPLE_RATE_16K_HZ - 5 <= len(audio) <= SAMPLE_RATE_16K_HZ + 342
    assert dominant_frequency_hz(audio, SAMPLE_RATE_16K_HZ) == pytest.approx(TONE_HZ, abs=1.0)


def test_the_first_of_two_audio_streams_is_decoded(tmp_path):
    path = make_media(tmp_path / "two.mkv", "matroska", audio_codec="aac", audio_tones_hz=(TONE_HZ, 2 * TONE_HZ))
    decoded = read_audio(path)
    assert dominant_frequency_hz(decoded.samples[0], decoded.sample_rate_hz) == pytest.approx(TONE_HZ, abs=1.0)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.wav"
    with pytest.raises(AudioError, match="not found") as caught:
        load_audio(path)
    assert str(path) in str(caught.value)


def test_a_folder_is_not_audio(tmp_path):
    with pytest.raises(AudioError, match="not a file"):
        read_audio(tmp_path)


def test_text_file_named_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are not the samples you are looking for\n" * 20)
    with pytest.raises(AudioError, match="cannot decode") as caught:
        load_audio(path)
    assert str(path) in str(caught.value)
    assert caught.value.__cause__ is not None  # the PyAV error is kept as the cause, not raised itself


def test_zero_length_wav(tmp_path):
    path = tmp_path / "empty.wav"
    with wave.open(str(path), "wb") as header_only:
        header_only.setnchannels(1)
        header_only.setsampwidth(2)
        header_only.setframerate(16_000)
    assert path.stat().st_size > 0  # a valid header, no frames
    with pytest.raises(AudioError, match="empty") as caught:
        load_audio(path)
    assert str(path) in str(caught.value)


def test_video_without_audio(tmp_path):
    path = make_media(tmp_path / "silent_film.mp4", "mp4", video_codec="mpeg4")
    with pytest.raises(AudioError, match="no audio stream") as caught:
        load_audio(path)
    assert str(path) in str(caught.value) and "video" in str(caught.value)
