"""The content-feature extractor RVC's synthesizers were trained on: HuBERT-base / ContentVec."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
        self.source: Path | None = None  # the file or folder `load_embedder` read: where released weights come from
        self._released_placement: tuple[torch.device, torch.dtype] | None = None  # set while released
        self._extractions = 0
        self._weights_lock = threading.Lock()

    def release_weights(self) -> None:
        """Drop the weights (0.36 GB in float32 for HuBERT base) until the next `extract` reads them again from
        ``source`` (a fraction of a second): a long conversion's pitch stage runs without them. Nothing happens while
        an extraction runs on another thread, or for an embedder that was not loaded from a file."""
        with self._weights_lock:
            if self.source is None or self._extractions or self._released_placement is not None:
                return
            self._released_placement = (self.device, self.dtype)
            self.to("meta")

    @contextmanager
    def _weights_in_use(self) -> Iterator[None]:
        with self._weights_lock:
            if self._released_placement is not None:
                from rvc.embedders.load import load_embedder

                device, dtype = self._released_placement
                self.load_state_dict(load_embedder(self.source, device, dtype).state_dict(), assign=True)
                self._released_placement = None
            self._extractions += 1
        try:
            yield
        finally:
            with self._weights_lock:
                self._extractions -= 1

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
        with self._weights_in_use():
            waveform = waveform.to(device=self.device, dtype=self.dtype).unsqueeze(0)
            if version == "v2":
                return self(waveform).last_hidden_state
            hidden = self(waveform, output_hidden_states=True).hidden_states[V1_OUTPUT_LAYER]
            return self.final_proj(hidden)
