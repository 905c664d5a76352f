"""Audio in and out of the library: decode any media, resample, write, and the pipeline's 48 Hz high-pass.

audio = load_audio("song.mp4", SAMPLE_RATE_16K_HZ)   # float32 mono in [-1, 1], 16 kHz
audio = highpass_48hz(audio)                          # what conversion feeds the embedder and pitch extractor
write_audio("out.flac", converted, 40_000)            # atomic; wav, flac, mp3 or m4a from the suffix
"""

from rvc.audio.decode import DecodedAudio, load_audio, read_audio, to_mono
from rvc.audio.errors import AudioError
from rvc.audio.filters import HIGHPASS_CUTOFF_HZ, HIGHPASS_ORDER, highpass_48hz
from rvc.audio.resample import RESAMPLE_QUALITY, SAMPLE_RATE_16K_HZ, resample
from rvc.audio.write import LOSSY_BIT_RATE_BPS, SUPPORTED_OUTPUT_FORMATS, encoded_sample_rate_hz, write_audio

__all__ = [
    "HIGHPASS_CUTOFF_HZ",
    "HIGHPASS_ORDER",
    "LOSSY_BIT_RATE_BPS",
    "RESAMPLE_QUALITY",
    "SAMPLE_RATE_16K_HZ",
    "SUPPORTED_OUTPUT_FORMATS",
    "AudioError",
    "DecodedAudio",
    "encoded_sample_rate_hz",
    "highpass_48hz",
    "load_audio",
    "read_audio",
    "resample",
    "to_mono",
    "write_audio",
]
