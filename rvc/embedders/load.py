"""``load_embedder``: a fairseq ``hubert_base.pt`` or a Hugging Face HuBERT folder -> :class:`Embedder`."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from transformers import HubertConfig

from rvc.embedders.errors import EmbedderError
from rvc.embedders.keymap import rename_keys
from rvc.embedders.model import Embedder
from rvc.embedders.safe_checkpoint import read_checkpoint
from rvc.empty_modules import empty_modules

DEFAULT_EMBEDDER = Path("assets") / "hubert" / "hubert_base.pt"
HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# Present in HuBERT checkpoints but unused for feature extraction; tolerated when absent or extra.
OPTIONAL_KEYS = frozenset({"masked_spec_embed"})
_MAX_LISTED = 5


def default_embedder_path() -> Path:
    """``assets/hubert/hubert_base.pt`` under ``RVC_HOME`` (or the working directory)."""
    return Path(os.environ.get("RVC_HOME") or Path.cwd()) / DEFAULT_EMBEDDER


def load_embedder(
    path: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> Embedder:
    """Load an embedder in eval mode on ``device``, computing in ``dtype`` (float32 when None).

    ``path`` is a fairseq checkpoint file (fp16 or fp32 weights) or a folder with ``config.json``
    and ``model.safetensors`` / ``pytorch_model.bin``; None means :func:`default_embedder_path`.
    Anything unusable raises :class:`EmbedderError` naming the path.
    """
    if path is None:
        source = default_embedder_path()
        if not source.exists():
            raise EmbedderError(
                f"{source}: HuBERT embedder not found; run `python -m rvc download hubert_base` to fetch it"
            )
    else:
        source = Path(path)
        if not source.exists():
            raise EmbedderError(f"{source}: no such embedder file or folder")
    if source.is_dir():
        config, state = _read_hf_folder(source)
    else:
        config, state = HubertConfig(), _state_dict_of(read_checkpoint(source), source)
    state = rename_keys(state)
    with_final_proj = "final_proj.weight" in state
    # Built as shapes only (`empty_modules`): a file that does not fit is refused before any memory goes into it, and
    # the file's tensors become the parameters as they are (no random initialisation: less memory, faster start).
    with empty_modules():
        embedder = Embedder(config, with_final_proj=with_final_proj)
    _check_state(embedder.state_dict(), state, source)
    embedder.load_state_dict(state, strict=False, assign=True)  # strictness enforced by _check_state
    _zero_fill_missing(embedder)
    embedder.source = source
    return embedder.to(device=device, dtype=dtype or torch.float32).eval()


def _zero_fill_missing(module: torch.nn.Module) -> None:
    """Give the optional tensors a file may lack (training-only ones, e.g. the mask embedding) real zeros."""
    for owner in module.modules():
        for name, tensor in [*owner.named_parameters(recurse=False), *owner.named_buffers(recurse=False)]:
            if tensor.is_meta:
                filled = torch.zeros(tensor.shape, dtype=tensor.dtype)
                setattr(owner, name, torch.nn.Parameter(filled, requires_grad=False)
                        if isinstance(tensor, torch.nn.Parameter) else filled)


def _state_dict_of(checkpoint: object, source: Path) -> dict[str, torch.Tensor]:
    """The tensors of a fairseq checkpoint (its ``model`` entry) or of a bare state dict."""
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, Mapping) else None
    if (
        not isinstance(state, Mapping)
        or not state
        or not all(isinstance(value, torch.Tensor) for value in state.values())
    ):
        raise EmbedderError(
            f"{source}: not a HuBERT checkpoint (no state dict of tensors, nor a 'model' entry)"
        )
    return dict(state)


def _read_hf_folder(folder: Path) -> tuple[HubertConfig, dict[str, torch.Tensor]]:
    config_path = folder / "config.json"
    try:
        config_data = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EmbedderError(f"{config_path}: cannot read the model config: {exc}") from exc
    if config_data.get("model_type") != "hubert":
        raise EmbedderError(
            f"{config_path}: model_type is {config_data.get('model_type')!r}, expected 'hubert'"
        )
    weights = next((folder / name for name in HF_WEIGHT_FILES if (folder / name).is_file()), None)
    if weights is None:
        raise EmbedderError(f"{folder}: no weights file ({' or '.join(HF_WEIGHT_FILES)})")
    if weights.suffix == ".safetensors":
        try:
            state = load_file(weights)
        except (SafetensorError, OSError) as exc:
            raise EmbedderError(f"{weights}: not a readable safetensors file: {exc}") from exc
    else:
        state = _state_dict_of(read_checkpoint(weights), weights)
    return HubertConfig.from_dict(config_data), state


def _listed(items: list[str]) -> str:
    more = f" (+{len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else ""
    return ", ".join(items[:_MAX_LISTED]) + more


def _check_state(
    expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor], source: Path
) -> None:
    """Refuse weights that do not fit the model, with a sentence instead of a load_state_dict trace."""
    wrong_shapes = [
        f"{key} {tuple(given[key].shape)} (expected {tuple(expected[key].shape)})"
        for key in expected
        if key in given and given[key].shape != expected[key].shape
    ]
    unexpected = sorted(set(given) - set(expected) - OPTIONAL_KEYS)
    missing = sorted(set(expected) - set(given) - OPTIONAL_KEYS)
    problems = [
        f"{label}: {_listed(items)}"
        for label, items in (
            ("wrong shapes", wrong_shapes),
            ("unexpected keys", unexpected),
            ("missing keys", missing),
        )
        if items
    ]
    if problems:
        raise EmbedderError(f"{source}: weights do not fit a HuBERT-base embedder; " + "; ".join(problems))
