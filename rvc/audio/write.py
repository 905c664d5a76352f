"""Write mono float32 audio as wav, flac, mp3 or m4a with PyAV, atomically (never a half file under the name)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from rvc.atomic import atomic_write
from rvc.audio.errors import AudioError
from rvc.audio.resample import resample
from rvc.vocabulary import OUTPUT_FORMATS

LOSSY_BIT_RATE_BPS = 192_000
"""mp3 and m4a bit rate: transparent for a mono voice, so a converted voice is judged without codec artefacts."""
ENCODE_BLOCK_SAMPLES = 1 << 16  # samples per frame handed to the encoder (1.6 s at 40 kHz)


@dataclass(frozen=True)
class _OutputFormat:
    muxer: str
    """FFmpeg's container name; given explicitly because the temporary file's suffix says nothing."""
    codec: str
    sample_format: str
    bit_rate_bps: int | None = None


_OUTPUT_FORMATS = {
    "wav": _OutputFormat(muxer="wav", codec="pcm_s16le", sample_format="s16"),
    "flac": _OutputFormat(muxer="flac", codec="flac", sample_format="s16"),
    "mp3": _OutputFormat(muxer="mp3", codec="libmp3lame", sample_format="fltp", bit_rate_bps=LOSSY_BIT_RATE_BPS),
    # "ipod" is the muxer FFmpeg itself picks for .m4a (an MP4 that Apple players accept).
    "m4a": _OutputFormat(muxer="ipod", codec="aac", sample_format="fltp", bit_rate_bps=LOSSY_BIT_RATE_BPS),
}

SUPPORTED_OUTPUT_FORMATS: tuple[str, ...] = OUTPUT_FORMATS
if tuple(_OUTPUT_FORMATS) != OUTPUT_FORMATS:  # the vocabulary names what is written here, no more, no less
    raise ImportError(f"audio writer formats {tuple(_OUTPUT_FORMATS)} differ from rvc.vocabulary.OUTPUT_FORMATS")
"""Formats ``write_audio`` writes: wav and flac as 16-bit PCM, mp3 (LAME) and m4a (AAC) at 192 kbit/s."""


def encoded_sample_rate_hz(format: str, sample_rate_hz: int) -> int:
    """The rate a file of ``format`` is written at for audio at ``sample_rate_hz``.

    wav and flac keep any rate. mp3 and AAC only allow fixed rates (no 40 kHz, the rate of RVC's 40k models), so
    such audio is resampled to the lowest allowed rate above it, which loses no bandwidth.
    """
    allowed = av.Codec(_output_format(format).codec, "w").audio_rates
    if not allowed or sample_rate_hz in allowed:
        return sample_rate_hz
    higher = [rate for rate in allowed if rate > sample_rate_hz]
    return min(higher) if higher else max(allowed)


def write_audio(
    path: str | os.PathLike[str], samples: np.ndarray, sample_rate_hz: int, format: str | None = None
) -> Path:
    """Write mono ``samples`` (float32, clipped to [-1, 1]) to ``path`` and return the path.

    ``format`` is one of SUPPORTED_OUTPUT_FORMATS, taken from the suffix when None. The file is encoded under a
    temporary name in the same folder and renamed over ``path`` only when complete (`rvc.atomic`), so a failure
    leaves neither a half-written file nor any damage to a file already at ``path``; a write that fails (a full
    disk) raises an OSError that names ``path``.
    """
    path = Path(path)
    name = (format or path.suffix.removeprefix(".")).lower()
    output_format = _output_format(name, path)
    samples = _checked_mono(samples, path)
    if sample_rate_hz <= 0:
        raise AudioError(f"{path}: sample rate must be positive, got {sample_rate_hz} Hz")
    rate_hz = encoded_sample_rate_hz(name, sample_rate_hz)
    samples = resample(samples, sample_rate_hz, rate_hz)

    try:
        with atomic_write(path) as temporary, av.open(str(temporary), "w", format=output_format.muxer) as container:
            _encode(container, output_format, samples, rate_hz)
    except av.FFmpegError as error:  # a write failure (full disk) is an OSError from atomic_write instead
        raise AudioError(f"{path}: cannot write {name} audio ({error})") from error
    return path


def _output_format(name: str, path: Path | None = None) -> _OutputFormat:
    if name not in _OUTPUT_FORMATS:
        where = f"{path}: " if path is not None else ""
        raise AudioError(f"{where}unsupported output format {name!r}; supported: {', '.join(SUPPORTED_OUTPUT_FORMATS)}")
    return _OUTPUT_FORMATS[name]


def _checked_mono(samples: np.ndarray, path: Path) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1:
        raise AudioError(f"{path}: expected mono samples of shape (frames,), got shape {samples.shape}")
    if samples.size == 0:
        raise AudioError(f"{path}: no samples to write")
    if not np.isfinite(samples).all():
        raise AudioError(f"{path}: samples contain NaN or infinity")
    return samples


def _encode(
    container: av.container.OutputContainer, output_format: _OutputFormat, samples: np.ndarray, rate_hz: int
) -> None:
    """Encode ``samples`` into ``container`` as one mono stream, clipped to [-1, 1].

    The samples go in blocks: PyAV converts each to the codec's sample format and cuts the stream into the frame size
    the codec needs (1152 samples for mp3, 1024 for aac), and ``encode(None)`` flushes both its converter and the
    encoder. One frame of a 10-minute song would hold a clipped copy and a frame copy of it at once (+0.2 GB).
    """
    stream = container.add_stream(output_format.codec, rate=rate_hz, layout="mono")
    stream.format = output_format.sample_format
    if output_format.bit_rate_bps is not None:
        stream.bit_rate = output_format.bit_rate_bps
    for start in range(0, samples.shape[0], ENCODE_BLOCK_SAMPLES):
        block = np.clip(samples[start : start + ENCODE_BLOCK_SAMPLES], -1.0, 1.0)
        frame = av.AudioFrame.from_ndarray(block[np.newaxis, :], format="flt", layout="mono")
        frame.sample_rate = rate_hz
        frame.pts = start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
