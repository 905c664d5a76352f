"""Writing: round trips through every output format, format selection, and the atomic-write guarantee."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rvc.audio.write as write_module
from rvc.audio import SUPPORTED_OUTPUT_FORMATS, AudioError, encoded_sample_rate_hz, read_audio, write_audio
from tests.unit.audio._media import TONE_HZ, amplitude_at, dominant_frequency_hz, tone

RATE_40K_HZ = 40_000  # the output rate of RVC's 40k models, which mp3 and aac cannot store as is
ONE_LSB_16_BIT = 1 / 32768


def test_supported_formats():
    assert set(SUPPORTED_OUTPUT_FORMATS) == {"wav", "flac", "mp3", "m4a"}


@pytest.mark.parametrize("format", ["wav", "flac"])
def test_lossless_round_trip_is_exact_to_16_bits(tmp_path, format):
    signal = tone(RATE_40K_HZ)
    path = write_audio(tmp_path / f"tone.{format}", signal, RATE_40K_HZ)
    assert path == tmp_path / f"tone.{format}"

    decoded = read_audio(path)
    assert (decoded.channels, decoded.sample_rate_hz) == (1, RATE_40K_HZ)
    assert decoded.samples.shape[1] == len(signal)
    assert np.abs(decoded.samples[0] - signal).max() <= ONE_LSB_16_BIT
    assert dominant_frequency_hz(decoded.samples[0], RATE_40K_HZ) == pytest.approx(TONE_HZ, abs=0.5)


# Tolerance on the decoded length: one codec frame at the encoded rate (1152 samples for mp3, 1024 for aac).
# The mp3 muxer's LAME tag lets the decoder trim both ends exactly; in m4a the edit list trims the encoder's
# priming but FFmpeg keeps the end padding of the last frame.
@pytest.mark.parametrize(("format", "frame_samples"), [("mp3", 1152), ("m4a", 1024)])
def test_lossy_round_trip_keeps_duration_pitch_and_level(tmp_path, format, frame_samples):
    signal = tone(RATE_40K_HZ)
    path = write_audio(tmp_path / f"tone.{format}", signal, RATE_40K_HZ)

    decoded = read_audio(path)
    rate_hz = decoded.sample_rate_hz
    assert rate_hz == encoded_sample_rate_hz(format, RATE_40K_HZ) == 44_100
    assert decoded.channels == 1
    assert rate_hz <= decoded.samples.shape[1] <= rate_hz + frame_samples
    one_second = decoded.samples[0, :rate_hz]
    assert dominant_frequency_hz(one_second, rate_hz) == pytest.approx(TONE_HZ, abs=0.5)
    assert 20 * np.log10(amplitude_at(one_second, rate_hz, TONE_HZ) / 0.5) == pytest.approx(0.0, abs=0.5)


def test_encoded_sample_rate():
    assert encoded_sample_rate_hz("wav", RATE_40K_HZ) == RATE_40K_HZ
    assert encoded_sample_rate_hz("flac", 12_345) == 12_345
    assert encoded_sample_rate_hz("mp3", 48_000) == 48_000
    assert encoded_sample_rate_hz("m4a", 32_000) == 32_000
    assert encoded_sample_rate_hz("mp3", 200_000) == 48_000  # above every allowed rate: the highest


def test_format_argument_overrides_the_suffix(tmp_path):
    path = write_audio(tmp_path / "tone.bin", tone(16_000), 16_000, format="FLAC")
    assert path.read_bytes()[:4] == b"fLaC"


def test_samples_are_clipped(tmp_path):
    loud = np.array([2.0, -3.0, 0.25] * 100, dtype=np.float32)
    decoded = read_audio(write_audio(tmp_path / "loud.wav", loud, 16_000))
    np.testing.assert_allclose(decoded.samples[0, :3], [32767 / 32768, -1.0, 0.25])


@pytest.mark.parametrize("format", SUPPORTED_OUTPUT_FORMATS)
def test_blocks_handed_to_the_encoder_make_the_same_file(tmp_path, monkeypatch, format):
    """Samples go to the encoder in blocks (a 10-minute song is never copied whole): blocks that match no codec
    frame size give the bytes of one block, clipping included."""
    samples = np.random.default_rng(7).standard_normal(40_000 * 2 + 123).astype(np.float32) * 0.7
    whole = write_audio(tmp_path / f"whole.{format}", samples, 40_000).read_bytes()
    monkeypatch.setattr(write_module, "ENCODE_BLOCK_SAMPLES", 5_000)
    assert write_audio(tmp_path / f"blocks.{format}", samples, 40_000).read_bytes() == whole


def test_unknown_format_lists_the_supported_ones(tmp_path):
    with pytest.raises(AudioError, match="'ogg'.*wav, flac, mp3, m4a"):
        write_audio(tmp_path / "tone.ogg", tone(16_000), 16_000)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("samples", "message"),
    [(np.zeros((2, 100), np.float32), "mono"), (np.zeros(0, np.float32), "no samples"), (np.full(9, np.nan), "NaN")],
)
def test_unwritable_samples(tmp_path, samples, message):
    with pytest.raises(AudioError, match=message):
        write_audio(tmp_path / "bad.wav", samples, 16_000)
    assert list(tmp_path.iterdir()) == []


def test_an_encoder_error_becomes_audio_error(tmp_path):
    # FLAC cannot store 2 MHz: FFmpeg refuses when the encoder opens.
    path = tmp_path / "ultrasonic.flac"
    with pytest.raises(AudioError, match="cannot write flac") as caught:
        write_audio(path, tone(2_000_000, duration_s=0.01), 2_000_000)
    assert str(path) in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def make_encoding_fail_half_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """Encoding fails after real packets of the first half have reached the temporary file."""
    real_encode = write_module._encode

    def encode_half_then_fail(container, output_format, samples, rate_hz):
        real_encode(container, output_format, samples[: len(samples) // 2], rate_hz)
        container.close()  # flush, so the temporary file really holds a part
        temporary = Path(container.name)
        assert temporary.name.endswith(".tmp") and temporary.stat().st_size > 1000
        raise OSError("disk full")

    monkeypatch.setattr(write_module, "_encode", encode_half_then_fail)


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    make_encoding_fail_half_way(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        write_audio(tmp_path / "out.flac", tone(RATE_40K_HZ), RATE_40K_HZ)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_existing_file(tmp_path, monkeypatch):
    path = write_audio(tmp_path / "out.wav", tone(RATE_40K_HZ), RATE_40K_HZ)
    before = path.read_bytes()
    make_encoding_fail_half_way(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        write_audio(path, tone(RATE_40K_HZ, frequency_hz=880.0), RATE_40K_HZ)
    assert list(tmp_path.iterdir()) == [path]
    assert path.read_bytes() == before
