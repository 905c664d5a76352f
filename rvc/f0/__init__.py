"""Pitch (f0) extraction behind one registry, and the f0 post-processing of the RVC pipeline.

extractor = get_extractor("rmvpe", device="cuda")
f0 = extractor.compute(audio_16k)            # Hz at 100 frames/s, 0 = unvoiced
pitchf = shift_f0(f0, transpose=12)          # what the synthesizer gets as pitchf
pitch = coarse_f0(pitchf)                    # and as the coarse pitch index
"""

from rvc.f0.base import (
    F0_MAX_HZ,
    F0_MIN_HZ,
    FRAMES_PER_SECOND,
    HOP_LENGTH,
    SAMPLE_RATE_HZ,
    F0Extractor,
    fit_frames,
    frame_count,
)
from rvc.f0.postprocess import apply_f0_curve, coarse_f0, load_f0_curve, shift_f0
from rvc.f0.registry import F0_METHODS, get_extractor
from rvc.f0.rmvpe import F0ModelError, RmvpeExtractor, RmvpeNet, default_model_path, load_rmvpe_net

__all__ = [
    "F0_MAX_HZ",
    "F0_METHODS",
    "F0_MIN_HZ",
    "FRAMES_PER_SECOND",
    "HOP_LENGTH",
    "SAMPLE_RATE_HZ",
    "F0Extractor",
    "F0ModelError",
    "RmvpeExtractor",
    "RmvpeNet",
    "apply_f0_curve",
    "coarse_f0",
    "default_model_path",
    "fit_frames",
    "frame_count",
    "get_extractor",
    "load_f0_curve",
    "load_rmvpe_net",
    "shift_f0",
]
