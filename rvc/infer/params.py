"""The parameters of one conversion: one frozen dataclass shared by the CLI, the WebUI and the REST API.

Names and defaults are the RVC ecosystem's, so a user's habits and saved presets carry over.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

F0_METHODS = ("pm", "harvest", "dio", "crepe", "crepe-tiny", "fcpe", "rmvpe")
DEFAULT_NOISE_SCALE = 0.66666


class ParameterError(ValueError):
    """A conversion parameter out of range, named with the allowed range."""


@dataclass(frozen=True)
class ConvertParams:
    transpose: int = 0  # semitones
    f0_method: str = "rmvpe"
    index_rate: float = 0.75
    filter_radius: int = 3
    resample_sr: int = 0  # Hz; 0 keeps the model's rate
    rms_mix_rate: float = 0.25
    protect: float = 0.33
    sid: int = 0
    noise_scale: float = DEFAULT_NOISE_SCALE
    f0_file: str | None = None

    def validate(self) -> ConvertParams:
        """Raise `ParameterError` naming the first parameter that is out of range; return self."""
        checks: list[tuple[str, bool, str]] = [
            ("transpose", -48 <= self.transpose <= 48, "between -48 and 48 semitones"),
            ("f0_method", self.f0_method in F0_METHODS, f"one of {', '.join(F0_METHODS)}"),
            ("index_rate", 0.0 <= self.index_rate <= 1.0, "between 0 and 1"),
            ("filter_radius", 0 <= self.filter_radius <= 7, "between 0 and 7"),
            ("resample_sr", self.resample_sr == 0 or 16000 <= self.resample_sr <= 192000,
             "0 (keep the model's rate) or between 16000 and 192000 Hz"),
            ("rms_mix_rate", 0.0 <= self.rms_mix_rate <= 1.0, "between 0 and 1"),
            ("protect", 0.0 <= self.protect <= 0.5, "between 0 and 0.5"),
            ("sid", self.sid >= 0, "a speaker id >= 0"),
            ("noise_scale", 0.0 <= self.noise_scale <= 2.0, "between 0 and 2"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ParameterError(f"{name}={getattr(self, name)!r} is out of range: use {allowed}")
        if self.f0_file is not None and not Path(self.f0_file).is_file():
            raise ParameterError(f"f0_file {self.f0_file!r} does not exist")
        return self

    def replace(self, **changes: Any) -> ConvertParams:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ConvertParams:
        """Build from loose input (JSON, form fields): unknown names are an error, types are coerced."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ParameterError(f"unknown parameter(s): {', '.join(unknown)}")
        coerced: dict[str, Any] = {}
        for name, value in values.items():
            if value is None or name in ("f0_method", "f0_file"):
                coerced[name] = value
                continue
            kind = int if fields[name].type in ("int", int) else float
            try:
                coerced[name] = kind(value)
            except (TypeError, ValueError) as error:
                raise ParameterError(f"{name}={value!r} is not a number") from error
        return cls(**coerced).validate()
