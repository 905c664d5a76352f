"""The content-feature extractor RVC's synthesizers were trained on: HuBERT-base / ContentVec."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from transformers import HubertConfig, HubertModel

from rvc.embedders.errors import EmbedderError

SAMPLE_RATE_HZ = 16_000
MIN_SAMPLES = 400  # receptive field of the conv feature extractor: shorter input gives no frame
V1_OUTPUT_LAYER = 9  # v1 models read transformer layer 9 (1-based) through final_proj: 256-d
VERSIONS = ("v1", "v2")  # v2 models read the last layer (12 in HuBERT-base): 768-d


class Embedder(HubertModel):
    """transformers' ``HubertModel`` plus fairseq's ``final_proj``, extracting RVC v1 or v2 features.

    ``final_proj`` (hidden -> 256) exists in fairseq checkpoints but not in ``HubertModel``; it is only
    needed by v1 models, so a Hugging Face folder without it still serves v2. Keeping it as a top-level
    attribute of a ``HubertModel`` gives the key layout of the ecosystem's Hugging Face ContentVec
    folders (``final_proj.*`` beside the HuBERT keys), so ``save_pretrained`` writes such a folder.
    """

    def __init__(self, config: HubertConfig, with_final_proj: bool = True) -> None:
        super().__init__(config)
        self.final_proj = (
            nn.Linear(config.hidden_size, config.classifier_proj_size) if with_final_proj else None
        )

    @torch.no_grad()
    def extract(self, audio_16k: np.ndarray | torch.Tensor, version: str) -> torch.Tensor:
        """Features [1, frames, 256 (v1) | hidden (v2)] of mono 16 kHz audio [N] or [1, N].

        The waveform is used as given (RVC's HuBERT task does not normalise it), in this
        embedder's dtype and device. ``frames`` follows the conv stack: 16000 samples give 49.
        """
        if version not in VERSIONS:
            raise ValueError(f"unknown feature version {version!r}; expected one of {VERSIONS}")
        if version == "v1" and self.final_proj is None:
            raise EmbedderError(
                "this embedder has no final_proj weights, so it cannot make v1 (256-d) features"
            )
        waveform = torch.as_tensor(audio_16k)
        if waveform.dim() == 2 and waveform.shape[0] == 1:
            waveform = waveform[0]
        if waveform.dim() != 1:
            raise ValueError(f"expected mono audio shaped [N] or [1, N], got {tuple(waveform.shape)}")
        if waveform.numel() < MIN_SAMPLES:
            raise ValueError(f"audio too short for HuBERT: {waveform.numel()} samples, need {MIN_SAMPLES}")
        waveform = waveform.to(device=self.device, dtype=self.dtype).unsqueeze(0)
        if version == "v2":
            return self(waveform).last_hidden_state
        hidden = self(waveform, output_hidden_states=True).hidden_states[V1_OUTPUT_LAYER]
        return self.final_proj(hidden)
