"""Export the inference graph to ONNX, for runtimes without PyTorch.

The graph takes the prior noise as an input (``rnd``, [1, inter_channels, frames]) instead of drawing it, and runs
the sine source without its random part, so a runtime can reproduce PyTorch exactly; pass zeros for the
reproducible conversion or ``randn * noise_scale`` for the usual one.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from rvc.synth.synthesizer import Synthesizer


class OnnxGraph(nn.Module):
    """The synthesizer's inference with explicit noise: the module torch.onnx traces."""

    def __init__(self, model: Synthesizer) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        phone: torch.Tensor,
        phone_lengths: torch.Tensor,
        pitch: torch.Tensor,
        pitchf: torch.Tensor,
        sid: torch.Tensor,
        rnd: torch.Tensor,
    ) -> torch.Tensor:
        model = self.model
        g = model.speaker_embedding(sid)
        m_p, logs_p, x_mask = model.enc_p(phone, pitch if model.config.f0 else None, phone_lengths)
        z_p = (m_p + torch.exp(logs_p) * rnd) * x_mask
        z = model.flow(z_p, x_mask, g=g, reverse=True)
        return model.dec(z * x_mask, pitchf if model.config.f0 else None, g=g, deterministic=True)


def onnx_inputs(model: Synthesizer, frames: int) -> tuple[torch.Tensor, ...]:
    """Example inputs of the exported graph (zeros noise), also used to check an export."""
    generator = torch.Generator().manual_seed(0)
    phone = torch.randn(1, frames, model.config.phone_dim, generator=generator)
    pitch = torch.randint(1, 255, (1, frames), generator=generator)
    pitchf = torch.rand(1, frames, generator=generator) * 300 + 80
    rnd = torch.zeros(1, model.config.inter_channels, frames)
    return phone, torch.tensor([frames]), pitch, pitchf, torch.tensor([0]), rnd


INPUT_NAMES = ["phone", "phone_lengths", "pitch", "pitchf", "sid", "rnd"]


def export_onnx(model: Synthesizer, path: str | os.PathLike, opset: int = 17) -> Path:
    """Write ``model`` (loaded for inference) as ONNX with a dynamic number of frames."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    graph = OnnxGraph(model.float().eval())
    dynamic = {"phone": {1: "frames"}, "pitch": {1: "frames"}, "pitchf": {1: "frames"}, "rnd": {2: "frames"},
               "audio": {2: "samples"}}
    temporary = path.with_name(f".{path.name}.tmp")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph, onnx_inputs(model, 64), str(temporary), input_names=INPUT_NAMES, output_names=["audio"],
            dynamic_axes=dynamic, opset_version=opset, dynamo=False,
        )
    os.replace(temporary, path)
    return path
