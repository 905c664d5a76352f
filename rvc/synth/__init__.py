"""The RVC synthesizer, its discriminators and the checkpoint formats of the ecosystem."""

from rvc.synth.checkpoint import (
    CheckpointError,
    export_small_model,
    load_checkpoint,
    load_synthesizer,
)
from rvc.synth.config import SynthesizerConfig
from rvc.synth.presets import preset_config
from rvc.synth.synthesizer import ModelInfo, Synthesizer

__all__ = [
    "CheckpointError",
    "ModelInfo",
    "Synthesizer",
    "SynthesizerConfig",
    "export_small_model",
    "load_checkpoint",
    "load_synthesizer",
    "preset_config",
]
