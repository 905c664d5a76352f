"""The ecosystem's synthesizer files: small inference `.pth`, `G_*.pth` training checkpoints, and export.

Community files are untrusted, so every read goes through `torch.load(..., weights_only=True)`. Each way
a file can be wrong (not a torch file, truncated, a discriminator, weights that do not fit the config)
becomes a `CheckpointError` that names the file and the problem, never a raw KeyError or shape trace.
"""

from __future__ import annotations

import functools
import os
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch

from rvc.atomic import atomic_write
from rvc.devices import default_dtype
from rvc.empty_modules import empty_modules
from rvc.safe_load import WeightsFileError, load_weights
from rvc.synth.config import PHONE_DIMS, SynthesizerConfig
from rvc.synth.metadata import iteration_of, small_model_fields, tensors_of
from rvc.synth.presets import all_presets
from rvc.synth.synthesizer import ModelInfo, Synthesizer

StateDict = Mapping[str, torch.Tensor]

# Foreign key spellings -> ours (legacy weight norm), applied in order by `canonical_keys`.
KEY_RENAMES: tuple[tuple[str, str], ...] = (
    (r"^module\.", ""),  # saved from a DistributedDataParallel wrapper
    (r"\.parametrizations\.weight\.original0$", ".weight_g"),
    (r"\.parametrizations\.weight\.original1$", ".weight_v"),
)
PARAMETRIZATION_RENAMES: tuple[tuple[str, str], ...] = (
    (r"\.weight_g$", ".parametrizations.weight.original0"),
    (r"\.weight_v$", ".parametrizations.weight.original1"),
)
TRAINING_ONLY_PREFIX = "enc_q."


class CheckpointError(ValueError):
    """A model file that cannot be used, with the file and the reason in the message."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass
class LoadedCheckpoint:
    """A synthesizer file read and understood, before any model is built."""

    config: SynthesizerConfig
    state_dict: dict[str, torch.Tensor]
    info: ModelInfo
    kind: str  # "inference" (small .pth) or "training" (G_*.pth)


def rename_keys(state: StateDict, renames: tuple[tuple[str, str], ...]) -> dict[str, torch.Tensor]:
    """Apply a table of (regex, replacement) pairs to every key, keeping the order of the entries."""
    compiled = [(re.compile(pattern), replacement) for pattern, replacement in renames]
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for pattern, replacement in compiled:
            key = pattern.sub(replacement, key)
        renamed[key] = value
    return renamed


def canonical_keys(state: StateDict) -> dict[str, torch.Tensor]:
    """Our (and the original's) key names, whichever weight-norm spelling the file used."""
    return rename_keys(state, KEY_RENAMES)


def parametrization_keys(state: StateDict) -> dict[str, torch.Tensor]:
    """The same weights named as `torch.nn.utils.parametrizations.weight_norm` names them."""
    return rename_keys(canonical_keys(state), PARAMETRIZATION_RENAMES)


def read_torch_file(path: str | os.PathLike) -> object:
    """`rvc.safe_load.load_weights`, turning every failure into a `CheckpointError`."""
    try:
        return load_weights(path)
    except WeightsFileError as error:
        raise CheckpointError(path, str(error)) from error


def load_checkpoint(path: str | os.PathLike) -> LoadedCheckpoint:
    """Read a small inference `.pth` or a `G_*.pth` training checkpoint and work out its config."""
    path = Path(path)
    content = read_torch_file(path)
    if not isinstance(content, Mapping):
        raise CheckpointError(path, f"not an RVC model (the file holds a {type(content).__name__})")
    if "weight" in content and "config" in content:
        return _read_inference_file(path, content)
    if "model" in content and isinstance(content["model"], Mapping):
        return _read_training_file(path, content)
    if any(isinstance(k, str) and k.startswith("enc_p.") for k in content):
        return _read_training_file(path, {"model": content})
    raise CheckpointError(
        path, "not an RVC voice model: expected 'weight' and 'config' (inference .pth) or 'model' (G_*.pth)"
    )


def _read_inference_file(path: Path, content: Mapping) -> LoadedCheckpoint:
    try:
        state = canonical_keys(tensors_of(content["weight"], "weight"))
        fields = small_model_fields(content)
    except ValueError as error:
        raise CheckpointError(path, str(error)) from error
    try:
        config = SynthesizerConfig.from_list(fields.config, fields.version, fields.f0)
    except (TypeError, ValueError) as error:
        raise CheckpointError(path, f"invalid 'config' list: {error}") from error
    if "emb_g.weight" in state:
        config = config.replace(spk_embed_dim=int(state["emb_g.weight"].shape[0]))
    info = ModelInfo(fields.version, config.sample_rate, fields.f0, config.spk_embed_dim, fields.info, "inference")
    _check_fits(path, config, state, with_training_parts=False)
    return LoadedCheckpoint(config, state, info, "inference")


def _read_training_file(path: Path, content: Mapping) -> LoadedCheckpoint:
    try:
        state = canonical_keys(tensors_of(content["model"], "model"))
        iteration = iteration_of(content)
    except ValueError as error:
        raise CheckpointError(path, str(error)) from error
    if not any(key.startswith("enc_p.") for key in state):
        if any(key.startswith("discriminators.") for key in state):
            raise CheckpointError(path, "this is a discriminator checkpoint (D_*.pth), not a voice model (G_*.pth)")
        raise CheckpointError(path, "no synthesizer weights (enc_p.*) in 'model'")
    version, f0 = _version_and_f0(path, state)
    config_json = path.parent / "config.json"
    if config_json.is_file():
        try:
            config = SynthesizerConfig.from_experiment_json(config_json, version, f0)
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(config_json, f"not an RVC experiment config: {error}") from error
        source = f"training checkpoint, config from {config_json}"
    else:
        config = _infer_config(path, state, version, f0)
        source = "training checkpoint, config inferred from the weights' shapes (no config.json beside it)"
    config = config.replace(spk_embed_dim=int(state["emb_g.weight"].shape[0]))
    info_text = f"iteration {iteration}" if iteration is not None else ""
    info = ModelInfo(version, config.sample_rate, f0, config.spk_embed_dim, info_text, source)
    _check_fits(path, config, state, with_training_parts=any(k.startswith(TRAINING_ONLY_PREFIX) for k in state))
    return LoadedCheckpoint(config, state, info, "training")


def _version_and_f0(path: Path, state: StateDict) -> tuple[str, bool]:
    phone = state.get("enc_p.emb_phone.weight")
    dims = {dim: version for version, dim in PHONE_DIMS.items()}
    if phone is None or phone.dim() != 2 or int(phone.shape[1]) not in dims:
        raise CheckpointError(path, "cannot tell v1 from v2: enc_p.emb_phone.weight is missing or not 256/768 wide")
    return dims[int(phone.shape[1])], "enc_p.emb_pitch.weight" in state


def expected_shapes(config: SynthesizerConfig, with_training_parts: bool = True) -> dict[str, torch.Size]:
    """Key -> shape of the model for ``config``."""
    return {
        key: shape
        for key, shape in _model_shapes(config)
        if with_training_parts or not key.startswith(TRAINING_ONLY_PREFIX)
    }


@functools.lru_cache(maxsize=32)
def _model_shapes(config: SynthesizerConfig) -> tuple[tuple[str, torch.Size], ...]:
    """Built as shapes only (`empty_modules`), once per config: a load checks the file against it, and a config-less
    training checkpoint is tried against each of the 12 presets."""
    with empty_modules():
        model = Synthesizer(config)
    return tuple((key, value.shape) for key, value in model.state_dict().items())


def _mismatches(config: SynthesizerConfig, state: StateDict, with_training_parts: bool) -> list[str]:
    expected = expected_shapes(config, with_training_parts)
    problems = [f"missing {key}" for key in expected if key not in state]
    problems += [f"unexpected {key}" for key in state if key not in expected]
    problems += [
        f"{key} is {list(state[key].shape)}, the config needs {list(shape)}"
        for key, shape in expected.items()
        if key in state and tuple(state[key].shape) != tuple(shape)
    ]
    return problems


def _check_fits(path: Path, config: SynthesizerConfig, state: StateDict, with_training_parts: bool) -> None:
    problems = _mismatches(config, state, with_training_parts)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise CheckpointError(path, f"the weights do not fit the model's config ({shown})")


def _infer_config(path: Path, state: StateDict, version: str, f0: bool) -> SynthesizerConfig:
    speakers = int(state["emb_g.weight"].shape[0])
    with_training_parts = any(k.startswith(TRAINING_ONLY_PREFIX) for k in state)
    for preset in all_presets():
        candidate = preset.replace(spk_embed_dim=speakers)
        if candidate.version == version and candidate.f0 == f0 and not _mismatches(
            candidate, state, with_training_parts
        ):
            return candidate
    raise CheckpointError(
        path,
        "no config.json beside this training checkpoint and its shapes match no standard RVC config; "
        "put the experiment's config.json next to it",
    )


def build_synthesizer(loaded: LoadedCheckpoint) -> Synthesizer:
    """A model with the checkpoint's weights loaded strictly (training parts kept when present).

    The modules are built as shapes only (`empty_modules`) and take the file's tensors as they are (``assign``): no
    random initialisation to overwrite, which saves a second copy of the weights in memory and a second of start-up.
    """
    with empty_modules():
        model = Synthesizer(loaded.config, loaded.info)
    if not any(key.startswith(TRAINING_ONLY_PREFIX) for key in loaded.state_dict):
        del model.enc_q
    model.load_state_dict({k: v.float() for k, v in loaded.state_dict.items()}, strict=True, assign=True)
    return model


def load_synthesizer(
    path: str | os.PathLike, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
) -> Synthesizer:
    """Load any RVC synthesizer file, ready for inference (eval, weight norm folded, no `enc_q`).

    ``dtype`` defaults to float16 where that is safe (CUDA, XPU) and float32 elsewhere (`rvc.devices`).
    """
    device = torch.device(device)
    if dtype is None:
        dtype = default_dtype(device)
    model = build_synthesizer(load_checkpoint(path)).for_inference()
    return model.to(device=device, dtype=dtype)


class _WriteErrorMemory:
    """A binary stream that remembers its first write error: `torch.save` reports one only as an opaque
    RuntimeError ("unexpected pos 704 vs 598"), which would hide a full disk.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.stream.write(data)
        except OSError as error:
            self.error = self.error or error
            raise

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as error:
            self.error = self.error or error
            raise


def atomic_torch_save(obj: object, path: str | os.PathLike) -> Path:
    """`torch.save` through `rvc.atomic`: a crash never leaves half a checkpoint under the final name, and a
    failed write (a full disk) raises an OSError naming ``path`` with the previous file at ``path`` intact.
    """
    with atomic_write(path) as temporary, open(temporary, "wb") as stream:
        writer = _WriteErrorMemory(stream)
        try:
            torch.save(obj, writer)
        except RuntimeError:
            if writer.error is None:
                raise
            raise writer.error from None
        stream.flush()
        os.fsync(stream.fileno())
    return Path(path)


def small_model_dict(state: StateDict, config: SynthesizerConfig, info: str) -> OrderedDict:
    """The original `savee` layout: fp16 weights without `enc_q`, config list, info, sr, f0, version."""
    content: OrderedDict = OrderedDict()
    content["weight"] = {
        key: value.detach().to("cpu", torch.float16)
        for key, value in canonical_keys(state).items()
        if not key.startswith(TRAINING_ONLY_PREFIX)
    }
    content["config"] = config.to_list()
    content["info"] = info
    content["sr"] = config.sample_rate_tag
    content["f0"] = int(config.f0)
    content["version"] = config.version
    return content


def export_small_model(
    source: Synthesizer | StateDict | str | os.PathLike,
    path: str | os.PathLike,
    config: SynthesizerConfig | None = None,
    info: str = "",
) -> Path:
    """Write the small inference `.pth` that the original WebUI and Applio load.

    ``source`` is a model, a state dict (then ``config`` is required) or a `G_*.pth` file.
    """
    if isinstance(source, Synthesizer):
        state, config = source.state_dict(), config or source.config
    elif isinstance(source, Mapping):
        if config is None:
            raise ValueError("exporting a bare state dict needs its SynthesizerConfig")
        state = source
    else:
        loaded = load_checkpoint(source)
        state, config = loaded.state_dict, config or loaded.config
    return atomic_torch_save(small_model_dict(state, config, info), path)


def save_training_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    learning_rate: float,
    iteration: int,
    extra: Mapping[str, object] | None = None,
) -> Path:
    """A `G_*.pth`/`D_*.pth` in the original's layout, written atomically.

    ``extra`` keys (our resume state) follow the original's four; the original's loader ignores them.
    """
    content = {
        "model": model.state_dict(),
        "iteration": iteration,
        "optimizer": optimizer.state_dict(),
        "learning_rate": learning_rate,
        **(extra or {}),
    }
    return atomic_torch_save(content, path)
