"""Small media files made with PyAV for the audio tests, and the measurements the tests make on decoded audio."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

TONE_HZ = 440.0


def tone(
    sample_rate_hz: int, duration_s: float = 1.0, frequency_hz: float = TONE_HZ, amplitude: float = 0.5
) -> np.ndarray:
    """A float32 sine, the signal every round trip checks."""
    t = np.arange(round(sample_rate_hz * duration_s)) / sample_rate_hz
    return (amplitude * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)


def dominant_frequency_hz(samples: np.ndarray, sample_rate_hz: int) -> float:
    """The FFT peak, interpolated between bins (parabolic on the log magnitude) so 1 s of audio gives < 1 Hz error."""
    window = np.hanning(len(samples))
    magnitude = np.log(np.abs(np.fft.rfft(samples * window)) + 1e-12)
    peak = int(np.argmax(magnitude[1:-1])) + 1
    left, centre, right = magnitude[peak - 1 : peak + 2]
    offset = 0.5 * (left - right) / (left - 2 * centre + right)
    return (peak + offset) * sample_rate_hz / len(samples)


def amplitude_at(samples: np.ndarray, sample_rate_hz: int, frequency_hz: float) -> float:
    """The amplitude of one sinusoid, by projection; exact when ``samples`` hold whole periods of it."""
    t = np.arange(len(samples)) / sample_rate_hz
    return float(2 * np.abs(np.sum(samples * np.exp(-2j * np.pi * frequency_hz * t))) / len(samples))


def make_media(
    path: Path,
    muxer: str,
    audio_codec: str | None = None,
    audio_format: str = "fltp",
    sample_rate_hz: int = 48_000,
    video_codec: str | None = None,
    audio_tones_hz: tuple[float, ...] = (TONE_HZ,),
) -> Path:
    """A file with a tiny video stream (64x64, 5 frames) when ``video_codec`` is given, then, when ``audio_codec``
    is given, one 1 s stereo audio stream per frequency of ``audio_tones_hz``."""
    with av.open(str(path), "w", format=muxer) as container:
        # Every stream is declared and set up before the first packet: the muxer writes its header then.
        video = container.add_stream(video_codec, rate=25) if video_codec is not None else None
        if video is not None:
            video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        audio_streams = []
        for frequency_hz in audio_tones_hz if audio_codec is not None else ():
            stream = container.add_stream(audio_codec, rate=sample_rate_hz, layout="stereo")
            stream.format = audio_format
            audio_streams.append((stream, frequency_hz))
        if video is not None:
            for index in range(5):
                image = np.full((64, 64, 3), index * 40, dtype=np.uint8)
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts, frame.time_base = index, Fraction(1, 25)
                container.mux(video.encode(frame))
            container.mux(video.encode(None))
        for stream, frequency_hz in audio_streams:
            # One frame in: PyAV converts it and cuts it into the codec's frame size.
            signal = tone(sample_rate_hz, frequency_hz=frequency_hz)
            frame = av.AudioFrame.from_ndarray(np.stack([signal, signal]), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = sample_rate_hz, 0
            container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    return path
