"""The parameters of one conversion, described once (`rvc.params`): the CLI, the WebUI and the REST API derive theirs.

Names and defaults are the RVC ecosystem's, so a user's habits and saved presets carry over.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rvc.params import ParameterError, Params, param
from rvc.vocabulary import F0_METHODS

DEFAULT_NOISE_SCALE = 0.66666
COMMON_OUTPUT_RATES_HZ = (0, 16000, 22050, 24000, 32000, 40000, 44100, 48000, 96000)

__all__ = ["DEFAULT_NOISE_SCALE", "F0_METHODS", "ConvertParams", "ParameterError"]


@dataclass(frozen=True)
class ConvertParams(Params):
    action: ClassVar[str] = "conversion"

    transpose: int = param(0, "pitch shift (+12 = one octave up, male to female; -12 down)", minimum=-48,
                           maximum=48, unit="semitones")
    f0_method: str = param("rmvpe", "pitch extraction method (rmvpe: best in most cases; pm: fastest; harvest: "
                             "good for low voices, slow; crepe: slow on CPU)",
                           choices=F0_METHODS)
    index_rate: float = param(0.75, "how much of the training voice's timbre the index brings (0 = off)",
                              minimum=0.0, maximum=1.0)
    filter_radius: int = param(3, "3 or more: median filter of that radius on harvest/dio pitch", minimum=0,
                               maximum=7)
    resample_sr: int = param(0, "output sample rate (0 keeps the model's)", minimum=16000, maximum=192000, unit="Hz",
                             zero_means="keep the model's rate", suggestions=COMMON_OUTPUT_RATES_HZ)
    rms_mix_rate: float = param(0.25, "loudness envelope: 0 follows the input, 1 the model's output",
                                minimum=0.0, maximum=1.0)
    protect: float = param(0.33, "keeps consonants and breaths clear (0.5 turns it off)", minimum=0.0,
                           maximum=0.5)
    sid: int = param(0, "speaker id, for models trained on several speakers", minimum=0)
    noise_scale: float = param(DEFAULT_NOISE_SCALE, "randomness of the voice (0 gives the same output on every "
                               "run)", minimum=0.0, maximum=2.0)
    f0_file: str | None = param(None, "pitch curve file (time_seconds, hz per line) that overrides the f0")

    def _check(self) -> None:
        if self.f0_file is not None and not Path(self.f0_file).is_file():
            raise ParameterError(f"f0_file {self.f0_file!r} does not exist")
