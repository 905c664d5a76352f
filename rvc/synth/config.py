"""Synthesizer hyper-parameters, and their one conversion to and from the positional list of `.pth` files.

Every RVC inference file stores its hyper-parameters as a bare positional list (written by the original
`savee`). Keeping the list's layout in one place means the rest of the code only ever sees named fields.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rvc.vocabulary import SAMPLE_RATES, VERSIONS

Version = Literal["v1", "v2"]

SAMPLE_RATES_HZ: dict[str, int] = {"32k": 32000, "40k": 40000, "48k": 48000}
PHONE_DIMS: dict[str, int] = {"v1": 256, "v2": 768}
if tuple(SAMPLE_RATES_HZ) != SAMPLE_RATES or tuple(PHONE_DIMS) != VERSIONS:  # the vocabulary names what is built here
    raise ImportError("synthesizer rates or versions differ from rvc.vocabulary's SAMPLE_RATES and VERSIONS")
# The second element of the stored list is always the literal 32 (see the reference README).
STORED_SEGMENT_SIZE = 32

CONFIG_FIELDS = (
    "spec_channels",
    "segment_size",
    "inter_channels",
    "hidden_channels",
    "filter_channels",
    "n_heads",
    "n_layers",
    "kernel_size",
    "p_dropout",
    "resblock",
    "resblock_kernel_sizes",
    "resblock_dilation_sizes",
    "upsample_rates",
    "upsample_initial_channel",
    "upsample_kernel_sizes",
    "spk_embed_dim",
    "gin_channels",
    "sample_rate",
)


@dataclass(frozen=True)
class SynthesizerConfig:
    """Everything needed to build a synthesizer: the stored hyper-parameters plus version and f0."""

    spec_channels: int
    segment_size: int
    inter_channels: int
    hidden_channels: int
    filter_channels: int
    n_heads: int
    n_layers: int
    kernel_size: int
    p_dropout: float
    resblock: str
    resblock_kernel_sizes: tuple[int, ...]
    resblock_dilation_sizes: tuple[tuple[int, ...], ...]
    upsample_rates: tuple[int, ...]
    upsample_initial_channel: int
    upsample_kernel_sizes: tuple[int, ...]
    spk_embed_dim: int
    gin_channels: int
    sample_rate: int
    version: Version = "v2"
    f0: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def phone_dim(self) -> int:
        """Width of the content features the model takes: 256 (v1, HuBERT layer 9 + proj) or 768 (v2)."""
        return PHONE_DIMS[self.version]

    @property
    def hop_length(self) -> int:
        """Output samples per feature frame (the product of the upsampling rates)."""
        hop = 1
        for rate in self.upsample_rates:
            hop *= rate
        return hop

    @property
    def sample_rate_tag(self) -> str:
        """The ecosystem's name for the rate ("40k"), or the plain number for an unusual rate."""
        for tag, hz in SAMPLE_RATES_HZ.items():
            if hz == self.sample_rate:
                return tag
        return str(self.sample_rate)

    @classmethod
    def from_list(cls, values: list | tuple, version: str = "v2", f0: bool | int = True) -> SynthesizerConfig:
        """Build from the positional list stored in a `.pth` file (`config`)."""
        if len(values) != len(CONFIG_FIELDS):
            raise ValueError(f"config list has {len(values)} entries, expected {len(CONFIG_FIELDS)}")
        if version not in PHONE_DIMS:
            raise ValueError(f"unknown model version {version!r} (expected 'v1' or 'v2')")
        named = dict(zip(CONFIG_FIELDS, values, strict=True))
        return cls(
            spec_channels=int(named["spec_channels"]),
            segment_size=int(named["segment_size"]),
            inter_channels=int(named["inter_channels"]),
            hidden_channels=int(named["hidden_channels"]),
            filter_channels=int(named["filter_channels"]),
            n_heads=int(named["n_heads"]),
            n_layers=int(named["n_layers"]),
            kernel_size=int(named["kernel_size"]),
            p_dropout=named["p_dropout"],
            resblock=str(named["resblock"]),
            resblock_kernel_sizes=tuple(int(k) for k in named["resblock_kernel_sizes"]),
            resblock_dilation_sizes=tuple(tuple(int(d) for d in ds) for ds in named["resblock_dilation_sizes"]),
            upsample_rates=tuple(int(r) for r in named["upsample_rates"]),
            upsample_initial_channel=int(named["upsample_initial_channel"]),
            upsample_kernel_sizes=tuple(int(k) for k in named["upsample_kernel_sizes"]),
            spk_embed_dim=int(named["spk_embed_dim"]),
            gin_channels=int(named["gin_channels"]),
            sample_rate=_parse_sample_rate(named["sample_rate"]),
            version=version,  # type: ignore[arg-type]
            f0=bool(f0),
        )

    def to_list(self) -> list:
        """The positional list exactly as the original `savee` stores it (segment size written as 32)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["segment_size"] = STORED_SEGMENT_SIZE
        as_lists = {
            "resblock_kernel_sizes": list(self.resblock_kernel_sizes),
            "resblock_dilation_sizes": [list(d) for d in self.resblock_dilation_sizes],
            "upsample_rates": list(self.upsample_rates),
            "upsample_kernel_sizes": list(self.upsample_kernel_sizes),
        }
        values.update(as_lists)
        return [values[name] for name in CONFIG_FIELDS]

    def replace(self, **changes: Any) -> SynthesizerConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_experiment_json(cls, path: str | Path, version: str, f0: bool) -> SynthesizerConfig:
        """Build from an experiment's `config.json` (the original's train/data/model layout)."""
        return cls.from_experiment_sections(json.loads(Path(path).read_text()), version, f0)

    @classmethod
    def from_experiment_sections(cls, hps: Mapping[str, Any], version: str, f0: bool) -> SynthesizerConfig:
        """Build from the content of an experiment's `config.json` (its train, data and model sections)."""
        data, model, train = hps["data"], hps["model"], hps["train"]
        return cls(
            spec_channels=data["filter_length"] // 2 + 1,
            segment_size=train["segment_size"] // data["hop_length"],
            inter_channels=model["inter_channels"],
            hidden_channels=model["hidden_channels"],
            filter_channels=model["filter_channels"],
            n_heads=model["n_heads"],
            n_layers=model["n_layers"],
            kernel_size=model["kernel_size"],
            p_dropout=model["p_dropout"],
            resblock=str(model["resblock"]),
            resblock_kernel_sizes=tuple(model["resblock_kernel_sizes"]),
            resblock_dilation_sizes=tuple(tuple(d) for d in model["resblock_dilation_sizes"]),
            upsample_rates=tuple(model["upsample_rates"]),
            upsample_initial_channel=model["upsample_initial_channel"],
            upsample_kernel_sizes=tuple(model["upsample_kernel_sizes"]),
            spk_embed_dim=model["spk_embed_dim"],
            gin_channels=model["gin_channels"],
            sample_rate=int(data["sampling_rate"]),
            version=version,  # type: ignore[arg-type]
            f0=bool(f0),
        )


def _parse_sample_rate(value: int | str) -> int:
    if isinstance(value, str):
        if value in SAMPLE_RATES_HZ:
            return SAMPLE_RATES_HZ[value]
        return int(value)
    return int(value)
