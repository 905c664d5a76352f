"""Training checkpoints (`G_<step>.pth` / `D_<step>.pth`) and pretrained base models, for resume and fine-tuning.

A checkpoint keeps the original's four keys (model, iteration, optimizer, learning_rate), so the original
WebUI, Applio and `rvc.synth.load_checkpoint` read it, plus what an exact resume needs: the global step,
where to continue (next_epoch, next_batch: a run paused mid-epoch continues with the next batch of the same
epoch), the LR scheduler and grad scaler states, and the best validation loss so far. As in the original,
"iteration" holds the epoch and "learning_rate" the configured initial rate. Every file is written to a
temporary name and renamed (`save_training_checkpoint`), so a crash or a kill -9 leaves the previous checkpoint
intact and at worst a `.G_*.tmp` file, which the next run removes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch
from torch import nn

from rvc.synth.checkpoint import (
    CheckpointError,
    canonical_keys,
    expected_shapes,
    read_torch_file,
    save_training_checkpoint,
)
from rvc.synth.config import PHONE_DIMS, SAMPLE_RATES_HZ
from rvc.synth.discriminators import PERIODS
from rvc.synth.presets import preset_config
from rvc.train.run_config import RunConfig

LATEST_ONLY_STEP = 2333333
"""The original's file number when only the latest checkpoint is kept (G_2333333.pth)."""
CHECKPOINT_NAME = re.compile(r"^([GD])_(\d+)\.pth$")


@dataclass(frozen=True)
class ResumePoint:
    """Where a run continues: the next epoch and batch to train, and the optimizer steps already taken."""

    next_epoch: int = 1
    next_batch: int = 0
    step: int = 0
    best_val_loss_mel: float | None = None


@dataclass
class Trainables:
    """One network with what trains it; ``model`` is the bare module (never the DDP wrapper)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler


def checkpoint_path(exp_dir: Path, kind: str, step: int, latest_only: bool) -> Path:
    return exp_dir / f"{kind}_{LATEST_ONLY_STEP if latest_only else step}.pth"


def save_checkpoint_pair(
    exp_dir: Path,
    generator: Trainables,
    discriminator: Trainables,
    scaler: torch.amp.GradScaler,
    resume: ResumePoint,
    epoch: int,
    learning_rate: float,
    latest_only: bool,
) -> tuple[Path, Path]:
    """Write D then G, each atomically; resume only uses a step for which both files exist."""
    extras = {
        "step": resume.step,
        "next_epoch": resume.next_epoch,
        "next_batch": resume.next_batch,
        "best_val_loss_mel": resume.best_val_loss_mel,
        "scaler": scaler.state_dict() if scaler.is_enabled() else None,
    }
    paths = []
    for kind, part in (("D", discriminator), ("G", generator)):
        paths.append(save_training_checkpoint(
            checkpoint_path(exp_dir, kind, resume.step, latest_only), part.model, part.optimizer, learning_rate,
            epoch, {"scheduler": part.scheduler.state_dict(), **extras},
        ))
    d_path, g_path = paths
    return g_path, d_path


def remove_stale_temp_files(exp_dir: Path) -> list[Path]:
    """Delete the temporary files of saves that a killed process never finished."""
    stale = [p for p in exp_dir.glob(".[GD]_*.pth.*.tmp") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def latest_checkpoint_pair(exp_dir: Path) -> tuple[Path, Path] | None:
    """The newest (G, D) pair that exists in full, by step; None when there is none.

    Numbered files are ordered by their number (the original's global step). For `G_2333333.pth` the step
    stored inside is used (our files) or, for the original's files that lack it, the number itself, which
    sorts it last exactly as the original's `latest_checkpoint_path` does.
    """
    pairs = []
    for g_path in exp_dir.glob("G_*.pth"):
        match = CHECKPOINT_NAME.match(g_path.name)
        d_path = exp_dir / f"D_{match.group(2)}.pth" if match else None
        if match and d_path.is_file():
            pairs.append((_stored_step(g_path, int(match.group(2))), g_path, d_path))
    if not pairs:
        return None
    _, g_path, d_path = max(pairs, key=lambda pair: (pair[0], pair[1].name))
    return g_path, d_path


def _stored_step(path: Path, number: int) -> int:
    if number != LATEST_ONLY_STEP:
        return number
    try:  # memory-mapped: reading one key does not read the weights
        content = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # unreadable here: the resume itself reports it properly
        return number
    return int(content.get("step") or number) if isinstance(content, Mapping) else number


def load_checkpoint_pair(
    g_path: Path, d_path: Path, generator: Trainables, discriminator: Trainables, batches_per_epoch: int
) -> tuple[ResumePoint, dict | None, str]:
    """Restore weights, optimizers and schedulers from a pair; returns (resume point, scaler state, warning).

    Files from the original (no next_epoch/step) resume after the epoch they record, at the step the
    original would count. The warning is non-empty when G and D were saved at different steps (a crash
    between the two writes of a latest-only save).
    """
    g_content = _read_training_file(g_path)
    d_content = _read_training_file(d_path)
    for path, content, part in ((g_path, g_content, generator), (d_path, d_content, discriminator)):
        _load_weights(path, content["model"], part.model, "checkpoint")
        part.optimizer.load_state_dict(content["optimizer"])
        if content.get("scheduler"):
            part.scheduler.load_state_dict(content["scheduler"])
    epoch = int(g_content.get("iteration", 0))
    next_epoch = int(g_content.get("next_epoch") or epoch + 1)
    next_batch = int(g_content.get("next_batch") or 0)
    step = g_content.get("step")
    if step is None:
        step = (next_epoch - 1) * batches_per_epoch + next_batch
    best = g_content.get("best_val_loss_mel")
    warning = ""
    if d_content.get("step") is not None and d_content.get("step") != step:
        warning = f"{d_path.name} was saved at step {d_content['step']} and {g_path.name} at step {step}"
    resume = ResumePoint(next_epoch, next_batch, int(step), None if best is None else float(best))
    return resume, g_content.get("scaler"), warning


def _read_training_file(path: Path) -> Mapping:
    content = read_torch_file(path)
    if not isinstance(content, Mapping) or not isinstance(content.get("model"), Mapping):
        raise CheckpointError(path, "not a training checkpoint (no 'model' weights)")
    return content


def _load_weights(path: Path, state: Mapping[str, torch.Tensor], model: nn.Module, what: str) -> None:
    """Strict load, after checking every shape, so a mismatch names the file and the layers."""
    state = canonical_keys(state)
    problems = shape_problems({k: v.shape for k, v in model.state_dict().items()}, state)
    if problems:
        raise CheckpointError(path, f"this {what} does not fit the experiment's model ({_first(problems)})")
    model.load_state_dict(state, strict=True)


def shape_problems(expected: Mapping[str, torch.Size], state: Mapping[str, torch.Tensor]) -> list[str]:
    """Missing, unexpected and differently shaped keys of ``state`` against ``expected`` shapes."""
    problems = [f"missing {key}" for key in expected if key not in state]
    problems += [f"unexpected {key}" for key in state if key not in expected]
    problems += [
        f"{key} is {list(state[key].shape)}, the model needs {list(shape)}"
        for key, shape in expected.items()
        if key in state and tuple(state[key].shape) != tuple(shape)
    ]
    return problems


def _first(problems: list[str], count: int = 4) -> str:
    more = len(problems) - count
    return "; ".join(problems[:count]) + (f"; and {more} more" if more > 0 else "")


def load_pretrained_generator(path: str | Path, model: nn.Module, config: RunConfig) -> None:
    """Fine-tune from a base G (e.g. `f0G40k.pth`): it must be the experiment's version, f0 kind and rate."""
    path = Path(path)
    state = _pretrained_state(path, "G")
    phone = state.get("enc_p.emb_phone.weight")
    dims = {dim: version for version, dim in PHONE_DIMS.items()}
    if phone is None or phone.dim() != 2 or int(phone.shape[1]) not in dims:
        raise CheckpointError(path, "not a pretrained G (no 256/768-wide enc_p.emb_phone.weight)")
    version, f0 = dims[int(phone.shape[1])], "enc_p.emb_pitch.weight" in state
    rate = _standard_rate(state, version, f0)
    theirs = f"{version} {rate or '(non-standard rate)'} {'f0' if f0 else 'no-f0'}"
    if (version, f0) != (config.version, config.f0) or (rate and rate != config.synth.sample_rate_tag):
        raise CheckpointError(
            path, f"the pretrained G is a {theirs} model, but this experiment trains a {config.describe()} model"
        )
    problems = shape_problems({k: v.shape for k, v in model.state_dict().items()}, state)
    if problems:
        raise CheckpointError(
            path, f"the pretrained G ({theirs}) does not fit the experiment's {config.describe()} model "
            f"({_first(problems)})"
        )
    model.load_state_dict(state, strict=True)


def _standard_rate(state: Mapping[str, torch.Tensor], version: str, f0: bool) -> str | None:
    """The sample rate whose standard model has exactly these shapes (the decoder's upsampling differs)."""
    fitting = (rate for rate in SAMPLE_RATES_HZ if not shape_problems(_preset_shapes(version, rate, f0), state))
    return next(fitting, None)


@cache
def _preset_shapes(version: str, rate: str, f0: bool) -> dict[str, torch.Size]:
    return expected_shapes(preset_config(version, rate, f0))


def load_pretrained_discriminator(path: str | Path, model: nn.Module, config: RunConfig) -> None:
    """Fine-tune from a base D. A D file stores no config: only its layer count and shapes can be checked."""
    path = Path(path)
    state = _pretrained_state(path, "D")
    problems = shape_problems({k: v.shape for k, v in model.state_dict().items()}, state)
    if not problems:
        model.load_state_dict(state, strict=True)
        return
    count = len({key.split(".")[1] for key in state if key.startswith("discriminators.")})
    kinds = {1 + len(periods): version for version, periods in PERIODS.items()}
    looks_like = f" (the {kinds[count]} layout)" if count in kinds else ""
    ours = len(getattr(model, "periods", ())) + 1
    raise CheckpointError(
        path,
        f"the pretrained D has {count} sub-discriminators{looks_like}, this experiment's {config.version} "
        f"discriminator has {ours}, or their layers differ ({_first(problems)}). A D checkpoint stores no "
        "config, so only its shapes can be checked (not its sample rate): use the D that belongs to your G",
    )


def _pretrained_state(path: Path, kind: str) -> dict[str, torch.Tensor]:
    content = read_torch_file(path)
    if isinstance(content, Mapping) and "weight" in content and "config" in content:
        raise CheckpointError(
            path, f"this is an inference model, not a pretrained {kind}: it lacks the training-only layers "
            f"(use a base model such as f0{kind}40k.pth)"
        )
    if not isinstance(content, Mapping) or not isinstance(content.get("model"), Mapping):
        raise CheckpointError(path, f"not a pretrained {kind} (expected a 'model' dictionary of weights)")
    state = canonical_keys(content["model"])
    other = "D" if kind == "G" else "G"
    marker = "enc_p." if other == "G" else "discriminators."
    if any(key.startswith(marker) for key in state):
        raise CheckpointError(path, f"this is a pretrained {other}, given where a {kind} was expected")
    return state
