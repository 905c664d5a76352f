"""Which torch devices this machine has and what runs on each: CUDA GPUs, Intel GPUs (``xpu``), Apple's ``mps``.

Device names are torch's: "cpu", "cuda:N", "xpu:N", "mps". The first accelerator found (CUDA, then XPU, then MPS)
is the default. Half precision is used where it is safe for the networks here: CUDA and XPU; MPS runs float32 (as
the original RVC does there: some of its fp16 kernels are missing or inexact), and so does the CPU.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

HALF_PRECISION_KINDS = frozenset({"cuda", "xpu"})


@dataclass(frozen=True)
class Accelerator:
    device: str  # torch's name: "cuda:0", "xpu:0", "mps"
    name: str  # what the hardware calls itself


@functools.cache
def accelerators() -> tuple[Accelerator, ...]:
    """Every accelerator torch can use here, CUDA first; empty on a CPU-only machine."""
    found = [Accelerator(f"cuda:{index}", torch.cuda.get_device_name(index))
             for index in range(torch.cuda.device_count() if torch.cuda.is_available() else 0)]
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available():
        found += [Accelerator(f"xpu:{index}", xpu.get_device_name(index)) for index in range(xpu.device_count())]
    if torch.backends.mps.is_available():
        found.append(Accelerator("mps", "Apple GPU (Metal)"))
    return tuple(found)


def default_device() -> torch.device:
    """The first accelerator when there is one, else the CPU."""
    found = accelerators()
    return torch.device(found[0].device if found else "cpu")


def half_precision_safe(device: str | torch.device) -> bool:
    """Whether inference runs in float16 on ``device`` (CUDA and XPU; see the module docstring)."""
    return torch.device(device).type in HALF_PRECISION_KINDS


def default_dtype(device: str | torch.device) -> torch.dtype:
    """float16 where `half_precision_safe`, else float32."""
    return torch.float16 if half_precision_safe(device) else torch.float32
