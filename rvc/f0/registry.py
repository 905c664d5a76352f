"""One table from the ecosystem's ``f0_method`` names to the extractors that implement them."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from rvc.f0.base import F0Extractor
from rvc.f0.classic import PmExtractor, dio, harvest
from rvc.f0.crepe import CrepeExtractor
from rvc.f0.fcpe import FcpeExtractor
from rvc.f0.rmvpe import RmvpeExtractor
from rvc.vocabulary import F0_METHODS


@dataclass(frozen=True)
class ExtractorOptions:
    """Everything a factory may use; each method reads only what applies to it (as in the original,
    ``filter_radius`` affects harvest and dio only, ``model_path`` and ``half`` rmvpe only)."""

    device: str = "cpu"
    model_path: str | os.PathLike[str] | None = None
    filter_radius: int = 0
    half: bool = False


_FACTORIES: dict[str, Callable[[ExtractorOptions], F0Extractor]] = {
    "pm": lambda options: PmExtractor(),
    "harvest": lambda options: harvest(options.filter_radius),
    "dio": lambda options: dio(options.filter_radius),
    "crepe": lambda options: CrepeExtractor("full", options.device),
    "crepe-tiny": lambda options: CrepeExtractor("tiny", options.device),
    "fcpe": lambda options: FcpeExtractor(options.device),
    "rmvpe": lambda options: RmvpeExtractor.from_file(options.model_path, options.device, options.half),
}

if tuple(_FACTORIES) != F0_METHODS:  # the vocabulary names what is implemented here, no more, no less
    raise ImportError(f"f0 registry {tuple(_FACTORIES)} differs from rvc.vocabulary.F0_METHODS {F0_METHODS}")


def get_extractor(
    name: str,
    device: str = "cpu",
    model_path: str | os.PathLike[str] | None = None,
    *,
    filter_radius: int = 0,
    half: bool = False,
) -> F0Extractor:
    """Build the extractor for ``f0_method`` ``name``, loading its model if it has one.

    ``model_path`` is the rmvpe weights (default ``assets/rmvpe/rmvpe.pt`` under ``RVC_HOME``);
    ``filter_radius`` > 2 median-filters harvest/dio tracks; ``half`` runs rmvpe in fp16 on CUDA.
    Build once and reuse: model loading dominates the cost of short inputs.
    """
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(f"unknown f0 method {name!r}; valid names: {', '.join(F0_METHODS)}") from None
    return factory(ExtractorOptions(device, model_path, filter_radius, half))
