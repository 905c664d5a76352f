"""Decode the first audio track of any media file (wav, flac, mp3, m4a, ogg, a video...) with PyAV.

PyAV bundles FFmpeg's libraries, so no ``ffmpeg`` binary is needed and nothing is passed through a shell.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from rvc.audio.errors import AudioError
from rvc.audio.resample import resample, resample_chunks

_DECODE_SAMPLE_FORMAT = "fltp"
"""Planar float32: FFmpeg scales every integer format to [-1, 1] and ``to_ndarray`` gives (channels, frames)."""


@dataclass(frozen=True, eq=False)
class DecodedAudio:
    """A file's audio as it is stored: every channel, at the file's own rate (``eq=False``: arrays don't compare)."""

    samples: np.ndarray
    """float32 in [-1, 1], shape (channels, frames)."""
    sample_rate_hz: int

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.sample_rate_hz


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Down-mix (channels, frames) to (frames,) by averaging, so no channel dominates and a mono file is unchanged."""
    return samples.mean(axis=0, dtype=np.float32)


def read_audio(path: str | os.PathLike[str]) -> DecodedAudio:
    """Decode the first audio stream of ``path`` keeping its channels and sample rate.

    Raises AudioError (naming the file) when it is missing or empty, not decodable, has no audio stream, no samples,
    or NaN / infinite samples. Samples past full scale (a float file) are clipped to [-1, 1].
    """
    chunks, rates = [], []
    for chunk, sample_rate_hz in _checked_chunks(Path(path)):
        chunks.append(chunk)
        rates.append(sample_rate_hz)
    return DecodedAudio(samples=np.concatenate(chunks, axis=1), sample_rate_hz=rates[0])


def load_audio(path: str | os.PathLike[str], sample_rate_hz: int | None = None, mono: bool = True) -> np.ndarray:
    """Decode ``path`` to float32 in [-1, 1]: (frames,) when ``mono`` else (channels, frames).

    ``sample_rate_hz`` resamples with soxr (None keeps the file's rate); the library's pipelines call
    ``load_audio(path, SAMPLE_RATE_16K_HZ)`` to get what the embedders and pitch extractors read. Mono audio is
    down-mixed and resampled chunk by chunk as it is decoded (the same samples): a long song is never held at its
    own rate and channel count. Errors as `read_audio`.
    """
    if not mono:
        decoded = read_audio(path)
        samples = decoded.samples
        if sample_rate_hz is not None:
            samples = resample(samples, decoded.sample_rate_hz, sample_rate_hz)
    else:
        chunks = _checked_chunks(Path(path))
        first = next(chunks)  # the file's rate comes with its first chunk
        file_rate_hz = first[1]
        mono_chunks = (to_mono(chunk) for chunk, _ in itertools.chain([first], chunks))
        samples = np.concatenate(list(resample_chunks(mono_chunks, file_rate_hz, sample_rate_hz or file_rate_hz)))
    # The resampler's filter can overshoot a full-scale input by a little.
    return np.clip(samples, -1.0, 1.0, out=samples)


def _checked_chunks(path: Path) -> Iterator[tuple[np.ndarray, int]]:
    """The first audio stream of ``path`` as (channels, frames) float32 chunks clipped to [-1, 1], with its rate.

    Every check of `read_audio` is made; the ones that need the whole stream (no samples, NaN or infinite samples)
    raise after its last chunk, so a consumer never mistakes a bad file's chunks for a whole signal.
    """
    if not path.is_file():
        raise AudioError(f"{path}: {'not a file' if path.exists() else 'file not found'}")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes)")
    total = non_finite = 0
    try:
        # metadata_errors="ignore": a badly encoded tag must not stop us from reading the sound.
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                kinds = sorted({stream.type for stream in container.streams}) or ["none"]
                raise AudioError(f"{path}: no audio stream (streams: {', '.join(kinds)})")
            for chunk, sample_rate_hz in _decode_stream(container, container.streams.audio[0]):
                total += chunk.size
                non_finite += chunk.size - int(np.count_nonzero(np.isfinite(chunk)))
                if not non_finite and chunk.size:
                    # a float file may go past full scale: convert it, clipped
                    yield np.clip(chunk, -1.0, 1.0, out=chunk), sample_rate_hz
    except av.FFmpegError as error:
        reason = error.strerror or str(error)
        raise AudioError(f"{path}: cannot decode audio: not a media file, or a damaged one ({reason})") from error
    if total == 0:
        raise AudioError(f"{path}: the audio stream is empty (zero samples)")
    if non_finite:
        raise AudioError(
            f"{path}: {non_finite} of {total} samples are NaN or infinite (a damaged or badly exported float "
            "file); repair or re-export it"
        )


def _decode_stream(container: av.container.InputContainer, stream: av.AudioStream) -> Iterator[tuple[np.ndarray, int]]:
    """All frames of ``stream`` as (channels, frames) float32 chunks, each with the stream's sample rate.

    The format converter is built from the first frame, so the channel layout and rate are the stream's own; should
    they change mid-stream (rare, in broadcast captures) later frames are converted to the first ones'.
    """
    converter: av.AudioResampler | None = None
    sample_rate_hz = stream.codec_context.sample_rate
    for frame in container.decode(stream):
        if converter is None:
            sample_rate_hz = frame.sample_rate
            converter = av.AudioResampler(format=_DECODE_SAMPLE_FORMAT, layout=frame.layout, rate=sample_rate_hz)
        for converted in converter.resample(frame):
            yield converted.to_ndarray(), sample_rate_hz
    if converter is not None:
        for converted in converter.resample(None):
            yield converted.to_ndarray(), sample_rate_hz
