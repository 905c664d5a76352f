"""The inference pipeline: one conversion is a function of audio, models and `ConvertParams`."""

from rvc.infer.cache import ModelCache, default_device
from rvc.infer.params import F0_METHODS, ConvertParams, ParameterError
from rvc.infer.pipeline import ConversionResult, convert_audio

__all__ = [
    "F0_METHODS",
    "ConversionResult",
    "ConvertParams",
    "ModelCache",
    "ParameterError",
    "convert_audio",
    "default_device",
]
