"""The kernel-cache cap of converting processes: set before the first convolution, and it really bounds the cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from rvc.infer.cache import ModelCache
from rvc.memory import INFERENCE_KERNEL_CACHE

# One conv over three lengths and the first again: a cache of 2 kernels has forgotten it, the default has not.
_CONVOLUTIONS = textwrap.dedent(
    """
    import sys, torch
    from rvc.memory import limit_kernel_cache
    if sys.argv[1] == "capped":
        limit_kernel_cache(2)
    conv = torch.nn.Conv1d(64, 64, 3, padding=1)
    with torch.inference_mode():
        for length in (2000, 2100, 2200, 2000):
            conv(torch.randn(1, 64, length))
    """
)


def _convolution_cache_lookups(mode: str) -> list[str]:
    env = {**os.environ, "ONEDNN_VERBOSE": "profile_create"}
    env.pop("ONEDNN_PRIMITIVE_CACHE_CAPACITY", None)
    output = subprocess.run(
        [sys.executable, "-c", _CONVOLUTIONS, mode], env=env, capture_output=True, text=True, check=True
    ).stdout
    return [line.split(",")[3] for line in output.splitlines() if ",cpu,convolution," in line]


def test_a_model_cache_caps_the_kernel_cache_unless_the_environment_says(monkeypatch):
    monkeypatch.setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "")  # so that monkeypatch restores what was there
    monkeypatch.delenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY")
    ModelCache("cpu")
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == str(INFERENCE_KERNEL_CACHE)
    monkeypatch.setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "512")
    ModelCache("cpu")
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "512"


def test_the_cap_takes_effect_after_torch_is_imported():
    assert _convolution_cache_lookups("default")[-1] == "create:cache_hit"
    assert _convolution_cache_lookups("capped") == ["create:cache_miss"] * 4
