"""The deterministic weight rule of the shared reference fixtures (``../shared/reference/README.md``).

Real RVC weights cannot be downloaded here, so tests, benchmarks and `rvc.train.reference_step` build models of
the real shapes with reproducible random weights. The rule must match the one the fixtures were recorded with bit
for bit: one ``torch.randn`` call per key, in manifest order, from one seeded generator (torch's CPU sampler takes
another code path for tensors under 16 elements, so calls cannot be merged).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch

ManifestEntry = Sequence  # [key, shape, dtype] as stored in the reference JSON files


def rule_state_dict(
    manifest: Iterable[ManifestEntry],
    seed: int,
    scale: float | Mapping[str, float],
    plus_one_keys: Iterable[str] = (),
) -> dict[str, torch.Tensor]:
    """Return the state dict that the rule gives for ``manifest`` (ordered ``[key, shape, dtype]``).

    ``scale`` is one factor, or factors per key prefix where the longest matching prefix wins ("" matches all).
    """
    generator = torch.Generator()
    generator.manual_seed(seed)
    plus_one = set(plus_one_keys)
    state: dict[str, torch.Tensor] = {}
    for entry in manifest:
        key, shape = entry[0], list(entry[1])
        if key.endswith("running_var"):
            tensor = torch.ones(shape, dtype=torch.float32)
        elif key.endswith("running_mean"):
            tensor = torch.zeros(shape, dtype=torch.float32)
        elif key.endswith("num_batches_tracked"):
            tensor = torch.zeros(shape, dtype=torch.int64)
        else:
            tensor = torch.randn(shape, generator=generator, dtype=torch.float32) * _scale_of(key, scale)
            if key in plus_one:
                tensor = tensor + 1.0
        state[key] = tensor
    return state


def _scale_of(key: str, scale: float | Mapping[str, float]) -> float:
    if not isinstance(scale, Mapping):
        return scale
    prefix = max((p for p in scale if key.startswith(p)), key=len, default=None)
    if prefix is None:
        raise KeyError(f"no scale given for {key!r} (add a prefix that matches it, or '')")
    return scale[prefix]
