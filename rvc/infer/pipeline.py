"""One conversion as a function of audio, models and parameters: the original RVC `Pipeline`, step for step.

input peak limit -> 48 Hz high-pass -> cut points -> reflect padding -> f0 (transpose, curve file, coarse)
-> per segment: HuBERT features -> index blend -> 2x repeat -> protect -> synthesizer -> trim
-> rms_mix_rate envelope -> resample_sr -> peak normalisation.

One deliberate difference: the original trims every segment by the padding length at both ends, which drops
one or two frames per segment because HuBERT yields slightly fewer frames than the padded input. We keep
exactly the frames of the real input (the same synthesized samples, none dropped), so the output is as long
as the input at the model's rate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from rvc.audio import highpass_48hz, resample
from rvc.f0 import F0Extractor, apply_f0_curve, coarse_f0, fit_frames, load_f0_curve, shift_f0
from rvc.infer.envelope import mix_rms
from rvc.infer.params import ConvertParams
from rvc.infer.segments import (
    CPU_SEGMENTS,
    FP16_SEGMENTS,
    FP32_SEGMENTS,
    SAMPLE_RATE_16K_HZ,
    WINDOW_SAMPLES,
    Segment,
    SegmentSettings,
    find_cut_points,
    plan_segments,
)
from rvc.memory import release_free_memory
from rvc.retrieval import RetrievalIndex, prepare_features
from rvc.synth import Synthesizer

if TYPE_CHECKING:
    from rvc.embedders import Embedder

logger = logging.getLogger(__name__)

INPUT_PEAK = 0.95  # the original scales louder inputs down to this peak before converting
OUTPUT_PEAK = 0.99  # and louder outputs down to this one
# On the CPU a longer input's two stages each run without the other's model: HuBERT (0.36 GB) is released during the
# pitch stage and read again for the first segment, the pitch model (RMVPE: 345 MB) is released after the pitch stage
# and read again by the next conversion (0.8 s each, under 1% of converting two minutes there). A GPU keeps them: its
# memory is not the process's, and it converts ten minutes in seconds.
RELEASE_MODELS_AFTER_S = 120

ProgressCallback = Callable[[str, int, int], None]


@dataclass
class ConversionResult:
    audio: np.ndarray  # float32 mono in [-1, 1]
    sample_rate_hz: int
    timings_s: dict[str, float] = field(default_factory=dict)


@dataclass
class _Timer:
    timings: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, start: float) -> float:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - start
        return now


def segment_settings_for(device: torch.device, dtype: torch.dtype) -> SegmentSettings:
    """The original's segment lengths on a GPU (longer for fp16), shorter ones on the CPU (see CPU_SEGMENTS)."""
    if device.type == "cpu":
        return CPU_SEGMENTS
    return FP16_SEGMENTS if dtype == torch.float16 else FP32_SEGMENTS


def convert_audio(
    audio_16k: np.ndarray,
    synthesizer: Synthesizer,
    embedder: Embedder,
    params: ConvertParams,
    f0_extractor: F0Extractor | None = None,
    index: RetrievalIndex | None = None,
    segments: SegmentSettings | None = None,
    progress: ProgressCallback | None = None,
) -> ConversionResult:
    """Convert 16 kHz mono float audio into the synthesizer's voice: the input's preparation, its pitch, then each
    segment through HuBERT, the index and the synthesizer, then the loudness and rate of the whole."""
    _check_request(audio_16k, synthesizer, params, f0_extractor, index)
    parameter = next(synthesizer.parameters())
    device, dtype = parameter.device, parameter.dtype
    segments = segments or segment_settings_for(device, dtype)
    timer = _Timer()
    start = time.perf_counter()

    audio, padded, cuts = _prepare_input(audio_16k, segments)
    frames = padded.shape[0] // WINDOW_SAMPLES
    pitch = pitchf = None
    if synthesizer.info.f0:
        release_models = device.type == "cpu" and len(audio) > RELEASE_MODELS_AFTER_S * SAMPLE_RATE_16K_HZ
        pitch, pitchf = _pitch(padded, frames, params, f0_extractor, embedder, segments, device, release_models)
    release_free_memory()  # the pitch stage's working set (and a released model), before the segments
    start = timer.add("f0", start)

    hop = synthesizer.config.hop_length
    pad_frames = segments.pad_samples // WINDOW_SAMPLES
    plan = plan_segments(cuts, segments)
    # Each segment's real frames land at its own offset in one preallocated output: no list of pieces to join.
    output = np.zeros((frames - 2 * pad_frames) * hop, dtype=np.float32)
    sid = torch.tensor([params.sid], device=device)
    for number, segment in enumerate(plan):
        keep = (pad_frames, pad_frames + _real_frames(segment, plan, number, frames, pad_frames))
        piece, start = _convert_segment(padded[segment.start : segment.stop], segment, synthesizer, embedder,
                                        params, index, pitch, pitchf, sid, keep, timer, start)
        offset = segment.frame_start * hop
        output[offset : offset + piece.shape[0]] = piece.float().cpu().numpy()
        # The heap keeps each segment's freed buffers (their sizes differ): ~30 MB a segment, 1.2 GB over ten
        # minutes, unless returned. Trimming is milliseconds against the seconds a segment takes.
        release_free_memory()
        start = timer.add("synth", start)
        if progress:
            progress("convert", number + 1, len(plan))

    output, sample_rate = _postprocess(output, audio, synthesizer.info.sample_rate, params)
    timer.add("postprocess", start)
    return ConversionResult(output, sample_rate, timer.timings)


def _check_request(
    audio_16k: np.ndarray, synthesizer: Synthesizer, params: ConvertParams, f0_extractor: F0Extractor | None,
    index: RetrievalIndex | None,
) -> None:
    """What makes a conversion impossible, said before any work: too short, no pitch model, a foreign index."""
    model_info = synthesizer.info
    if len(audio_16k) < WINDOW_SAMPLES:
        raise ValueError(
            f"the audio is too short to convert: {len(audio_16k) * 1000 / SAMPLE_RATE_16K_HZ:.1f} ms, "
            f"at least {WINDOW_SAMPLES * 1000 // SAMPLE_RATE_16K_HZ} ms (one frame) is needed"
        )
    if model_info.f0 and f0_extractor is None:
        raise ValueError("this model uses pitch: an f0 extractor is required")
    if index is not None:
        index.check_dim(synthesizer.config.phone_dim)
    if params.sid >= model_info.speakers:
        raise ValueError(f"speaker id {params.sid} does not exist: the model has {model_info.speakers} speaker(s)")


def _prepare_input(audio_16k: np.ndarray, segments: SegmentSettings) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(the input levelled and high-passed, the same with its reflected padding, the cut points of the segments)."""
    audio = np.asarray(audio_16k, dtype=np.float32)
    peak = np.abs(audio).max() / INPUT_PEAK if audio.size else 0.0
    if peak > 1:
        audio = audio / peak
    audio = highpass_48hz(audio, SAMPLE_RATE_16K_HZ)
    cuts = find_cut_points(audio, segments)
    padded = np.pad(audio, (segments.pad_samples, segments.pad_samples), mode="reflect")
    audio = padded[segments.pad_samples : len(padded) - segments.pad_samples]  # the same samples, not a second copy
    return audio, padded, cuts


def _pitch(
    padded: np.ndarray, frames: int, params: ConvertParams, f0_extractor: F0Extractor, embedder: Embedder,
    segments: SegmentSettings, device: torch.device, release_models: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The coarse pitch and the pitch in Hz of the whole padded input, transposed and with the user's curve. With
    ``release_models`` (a long input on the CPU), HuBERT is released while the pitch model runs, and the pitch
    model after it, so that the two are never in memory together."""
    if release_models:
        embedder.release_weights()
        release_free_memory()
    f0 = fit_frames(f0_extractor.compute(padded), frames)
    f0 = shift_f0(f0, params.transpose)
    if params.f0_file:
        f0 = apply_f0_curve(f0, load_f0_curve(params.f0_file), start_frame=segments.x_pad * 100)
    pitch = torch.from_numpy(coarse_f0(f0.copy())).unsqueeze(0).to(device)
    pitchf = torch.from_numpy(f0.astype(np.float32)).unsqueeze(0).to(device)
    if release_models:
        f0_extractor.release_weights()
    return pitch, pitchf


def _convert_segment(
    chunk: np.ndarray, segment: Segment, synthesizer: Synthesizer, embedder: Embedder, params: ConvertParams,
    index: RetrievalIndex | None, pitch: torch.Tensor | None, pitchf: torch.Tensor | None, sid: torch.Tensor,
    keep: tuple[int, int], timer: _Timer, start: float,
) -> tuple[torch.Tensor, float]:
    """One segment's audio (its real frames, ``keep``) and the time its stages were timed up to."""
    parameter = next(synthesizer.parameters())
    with torch.no_grad():
        features = embedder.extract(torch.from_numpy(chunk).to(device=parameter.device, dtype=parameter.dtype),
                                    synthesizer.info.version)
        release_free_memory()  # HuBERT's activations (~0.3 GB), which the synthesizer's buffers would not reuse
        start = timer.add("hubert", start)
        seg_pitch = seg_pitchf = None
        if pitch is not None:
            seg_pitch = pitch[:, segment.frame_start : segment.frame_stop]
            seg_pitchf = pitchf[:, segment.frame_start : segment.frame_stop]
        phone, p_len = prepare_features(
            features, chunk.shape[0] // WINDOW_SAMPLES, index, params.index_rate, seg_pitchf, params.protect
        )
        if seg_pitch is not None:
            seg_pitch, seg_pitchf = seg_pitch[:, :p_len], seg_pitchf[:, :p_len]
        start = timer.add("index", start)
        # the padding is context for the encoders; the decoder makes only the real frames' audio
        out = _synthesize(synthesizer, phone, torch.tensor([p_len], device=parameter.device), seg_pitch, seg_pitchf,
                          sid, params.noise_scale, keep)
    return out[0, 0], start


def _postprocess(
    output: np.ndarray, audio: np.ndarray, sample_rate: int, params: ConvertParams
) -> tuple[np.ndarray, int]:
    """The whole output with the input's loudness envelope mixed in, at the asked rate, kept under the peak."""
    if params.rms_mix_rate != 1:
        output = mix_rms(audio, SAMPLE_RATE_16K_HZ, output, sample_rate, params.rms_mix_rate)
    if params.resample_sr >= 16000 and params.resample_sr != sample_rate:
        output = resample(output, sample_rate, params.resample_sr)
        sample_rate = params.resample_sr
    peak = max(output.max(initial=0.0), -output.min(initial=0.0)) / OUTPUT_PEAK
    if peak > 1:
        output /= peak  # in place: the output is ours, and a 10-minute song is 100 MB at 40 kHz
    return output.astype(np.float32, copy=False), sample_rate


def _synthesize(
    synthesizer: Synthesizer,
    phone: torch.Tensor,
    lengths: torch.Tensor,
    pitch: torch.Tensor | None,
    pitchf: torch.Tensor | None,
    sid: torch.Tensor,
    noise_scale: float,
    keep: tuple[int, int],
) -> torch.Tensor:
    """One segment's audio (frames ``keep`` of it). A half-precision model whose latents leave fp16's range (a wide
    prior times the noise, say) gives inf/NaN: it then switches to float32 for good (it is shared: later conversions
    use float32 too) and the segment is made again, where the original would write noise or fail at the end."""
    dtype = next(synthesizer.parameters()).dtype
    out = synthesizer.infer(phone.to(dtype), lengths, pitch, pitchf, sid, noise_scale, keep)
    if dtype != torch.float16 or torch.isfinite(out).all():
        return out
    logger.warning("the model overflows half precision (inf/NaN audio): it runs in float32 from now on")
    synthesizer.float()
    return synthesizer.infer(phone.float(), lengths, pitch, pitchf, sid, noise_scale, keep)


def _real_frames(segment, plan, number: int, total_frames: int, pad_frames: int) -> int:
    """Frames of the real (unpadded) input that this segment stands for."""
    if number + 1 < len(plan):
        return plan[number + 1].frame_start - segment.frame_start
    return total_frames - 2 * pad_frames - segment.frame_start
