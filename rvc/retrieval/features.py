"""From HuBERT output to the synthesizer's phone input: index blend, 2x repeat, protect.

The order is the original ``Pipeline.vc``'s: the index is searched with the 50 fps HuBERT frames,
then both the blended and the untouched features are repeated 2x in time (nearest, to the
synthesizer's 100 fps), and only then does ``protect`` mix them using the 100 fps pitch.
"""

from __future__ import annotations

import torch

from rvc.retrieval.index import RetrievalIndex

PROTECT_OFF = 0.5  # protect values from here up disable protection
TIME_REPEAT = 2  # HuBERT frames (20 ms) -> synthesizer frames (10 ms)


def apply_protect(
    features: torch.Tensor, features_before: torch.Tensor, pitchf: torch.Tensor, protect: float
) -> torch.Tensor:
    """Keep unvoiced frames closer to the pre-index features, so consonants and breaths stay clear.

    ``features``/``features_before`` [1, frames, dim] are after/before the index blend, ``pitchf``
    [1, frames] the f0 in Hz. Voiced frames (f0 >= 1) keep ``features``; the others take
    ``features * protect + features_before * (1 - protect)``. The result has ``features_before``'s dtype.
    """
    pitchff = torch.ones_like(pitchf)
    pitchff[pitchf < 1] = protect
    pitchff = pitchff.unsqueeze(-1)
    return (features * pitchff + features_before * (1 - pitchff)).to(features_before.dtype)


def prepare_features(
    features: torch.Tensor,
    audio_frames: int,
    index: RetrievalIndex | None = None,
    index_rate: float = 0.0,
    pitchf: torch.Tensor | None = None,
    protect: float = PROTECT_OFF,
) -> tuple[torch.Tensor, int]:
    """Return the synthesizer's phone features [1, 2*frames, dim] and ``p_len``.

    ``features`` [1, frames, dim] come from the embedder; ``audio_frames`` is the padded audio's
    length in 10 ms frames (samples // 160 at 16 kHz), which is also ``pitchf``'s length for f0
    models. ``p_len = min(audio_frames, 2 * frames)``; the features are cut to it (in practice they
    are never longer) and the caller cuts pitch and pitchf to it.
    ``protect`` applies only with ``pitchf`` (f0 models) and below 0.5.
    """
    protecting = pitchf is not None and protect < PROTECT_OFF
    features_before = features
    if index is not None and index_rate != 0:
        frames = features[0].detach().float().cpu().numpy()
        blended = torch.from_numpy(index.blend(frames, index_rate))
        features = blended.unsqueeze(0).to(device=features.device, dtype=features.dtype)
    p_len = min(audio_frames, TIME_REPEAT * features.shape[1])
    features = features.repeat_interleave(TIME_REPEAT, dim=1)[:, :p_len]
    if protecting:
        before = features_before.repeat_interleave(TIME_REPEAT, dim=1)[:, :p_len]
        features = apply_protect(features, before, pitchf[:, :p_len], protect)
    return features, p_len
