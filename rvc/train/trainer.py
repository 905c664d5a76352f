"""Train an RVC voice: the original's GAN recipe, on an experiment folder, resumable, pausable, on 1..N devices.

Per step, as in the original (`rvc.train.gan_step`): the synthesizer decodes a random segment of each piece;
the discriminator is updated on (real, generated.detach()) with the LSGAN loss; then the generator with
adversarial + feature-matching + 45 x mel L1 + KL. AdamW(lr 1e-4, betas (0.8, 0.99), eps 1e-9) for both, the
learning rate decayed by 0.999875 after every epoch. Gradients are not clipped (the original's clip_grad_value_
with None only measures the norm, which we report). On CUDA the forward passes run under autocast: bfloat16
where the GPU supports it, else float16 with a GradScaler; the losses and spectrograms stay in float32.

Epochs and steps count from 1. Events (DESIGN.md's protocol): a `metric` per logged step, a `progress` per
epoch, `artifact`s for checkpoints, models and previews, then one `result` ("completed" or "paused").
The validation loss is a `metric` event of the save step with the key `val_loss_mel` (see
rvc.train.validation); when that step's training losses were logged, the event repeats them, because the job
store keeps one row per step and a later event for a step replaces the earlier one. `metrics.jsonl` in the
experiment folder receives the same records, so there too the last record of a step is the complete one.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from rvc.config import get_paths
from rvc.events import EventSink
from rvc.synth import Synthesizer, export_small_model
from rvc.synth.discriminators import MultiPeriodDiscriminator
from rvc.train.checkpoints import (
    ResumePoint,
    latest_checkpoint_pair,
    load_checkpoint_pair,
    load_pretrained_discriminator,
    load_pretrained_generator,
    remove_stale_temp_files,
    save_checkpoint_pair,
)
from rvc.train.data import (
    Batch,
    BatchSource,
    BucketBatchSampler,
    Collate,
    TrainingDataset,
    read_filelist,
    split_validation,
)
from rvc.train.distributed import DevicePlan, any_rank, parse_devices, process_group, run_processes
from rvc.train.gan_step import GanStep, build_trainables, choose_precision
from rvc.train.pause import PauseWatch
from rvc.train.run_config import CONFIG_NAME, RunConfig, load_run_config, prepare_experiment_config
from rvc.train.validation import Validator

METRICS_FILE = "metrics.jsonl"
PREVIEWS_DIR = "previews"
LOG_POINTS_PER_EPOCH = 10
"""Metrics are logged every train.log_interval steps, or more often so an epoch shows ~10 points at least."""
MAX_LOADER_WORKERS = 4


@dataclass(frozen=True)
class TrainJob:
    """What `train` was asked to do (picklable: it is handed to every spawned process)."""

    exp_dir: Path
    epochs: int
    batch_size: int
    save_every: int
    latest_only: bool
    cache_in_gpu: bool
    save_small_each: bool
    pretrained_g: Path | None
    pretrained_d: Path | None
    model_name: str
    weights_dir: Path


def train(
    exp_dir: str | os.PathLike,
    epochs: int,
    batch_size: int,
    save_every: int,
    latest_only: bool = False,
    cache_in_gpu: bool = False,
    save_small_each: bool = False,
    pretrained_g: str | os.PathLike | None = None,
    pretrained_d: str | os.PathLike | None = None,
    devices: str = "cpu",
    config_path: str | os.PathLike | None = None,
    sink: EventSink | None = None,
    model_name: str | None = None,
) -> dict[str, Any]:
    """Train (or continue training) the experiment in ``exp_dir`` up to epoch ``epochs``.

    Starting again after a pause or a crash continues from the latest G_/D_ pair; without one, from
    ``pretrained_g``/``pretrained_d`` or random weights. ``config_path`` replaces the experiment's
    config.json (only before its first checkpoint). Returns the result event's data with its "status"
    ("completed" or "paused").
    """
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("save_every", save_every)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        raise FileNotFoundError(f"experiment folder {exp_dir} not found: run preprocessing first")
    prepare_experiment_config(exp_dir, source=config_path)
    job = TrainJob(
        exp_dir=exp_dir,
        epochs=epochs,
        batch_size=batch_size,
        save_every=save_every,
        latest_only=latest_only,
        cache_in_gpu=cache_in_gpu,
        save_small_each=save_small_each,
        pretrained_g=None if pretrained_g is None else Path(pretrained_g),
        pretrained_d=None if pretrained_d is None else Path(pretrained_d),
        model_name=model_name or exp_dir.name,
        weights_dir=get_paths().weights,
    )
    plan = parse_devices(devices)
    sink = sink or EventSink()
    if plan.world_size > 1:
        return run_processes(train_process, plan, (job,), sink)
    with process_group(plan, 0, port=0):  # a single process joins no group, but selects its GPU
        return train_process(0, plan, sink, None, job)


def train_process(rank: int, plan: DevicePlan, sink: EventSink, stop_event: Any, job: TrainJob) -> dict[str, Any]:
    """One rank of a run (the whole run when single-process); returns the result data on rank 0."""
    pause = PauseWatch(job.exp_dir, stop_event)
    with pause.signals():
        return TrainingSession(job, plan, rank, sink, pause).run()


def log_interval(configured: int, batches_per_epoch: int) -> int:
    """Steps between metric events: the config's train.log_interval, capped so small runs log every step."""
    return max(1, min(configured, batches_per_epoch // LOG_POINTS_PER_EPOCH))


class TrainingSession:
    """One process's training: data, models, optimisers, and the epoch loop."""

    def __init__(self, job: TrainJob, plan: DevicePlan, rank: int, sink: EventSink, pause: PauseWatch) -> None:
        self.job, self.plan, self.rank, self.sink, self.pause = job, plan, rank, sink, pause
        self.is_main = rank == 0
        self.config: RunConfig = load_run_config(job.exp_dir / CONFIG_NAME)
        config = self.config
        torch.manual_seed(config.seed)
        self.device = plan.device(rank)
        self.precision = choose_precision(self.device, config.mixed_precision)
        if self.is_main:
            for path in remove_stale_temp_files(job.exp_dir):
                sink.log(f"removed {path.name}, left by a save that never finished")

        entries = read_filelist(job.exp_dir / "filelist.txt", config.f0)
        train_entries, held_out = split_validation(entries, job.exp_dir)
        self.dataset = TrainingDataset(train_entries, config.mel, config.synth.phone_dim)
        sampler = BucketBatchSampler(
            self.dataset.lengths, job.batch_size, num_replicas=plan.world_size, rank=rank, seed=config.seed
        )
        workers = 0 if self.device.type == "cpu" else min(
            MAX_LOADER_WORKERS, max(1, (os.cpu_count() or 2) // plan.world_size - 1)
        )
        collate = Collate(config.mel.hop_length, config.segment_frames)
        self.batches = BatchSource(self.dataset, sampler, collate, self.device, job.cache_in_gpu, workers)
        self.batches_per_epoch = len(self.batches)
        self.log_every = log_interval(config.log_interval, self.batches_per_epoch)
        held = TrainingDataset(held_out if self.is_main else [], config.mel, config.synth.phone_dim)
        self.validator = Validator(
            [held[i].to(self.device) for i in range(len(held))], config.mel, config.c_mel, job.exp_dir / PREVIEWS_DIR
        )

        self.generator = build_trainables(Synthesizer(config.synth).to(self.device), config)
        discriminator = MultiPeriodDiscriminator(
            config.version, config.discriminator_periods, config.discriminator_channel_divisor
        )
        self.discriminator = build_trainables(discriminator.to(self.device), config)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision.needs_scaler)
        self.resume = self._restore()
        self.step = self.resume.step
        self.best_val_loss_mel = self.resume.best_val_loss_mel
        self.net_g = self._distributed(self.generator.model)
        self.net_d = self._distributed(self.discriminator.model)
        self.gan_step = GanStep(
            config, self.generator, self.discriminator, self.net_g, self.net_d, self.device.type, self.precision,
            self.scaler,
        )
        self.metrics_path = job.exp_dir / METRICS_FILE
        self.last_metric: tuple[int, dict[str, float]] = (-1, {})
        self.last_checkpoint: Path | None = None
        self.saved_at_step = -1

    def _distributed(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.plan.world_size == 1:
            return model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids)

    def _restore(self) -> ResumePoint:
        """Continue from the latest checkpoint pair, else start from the pretrained models (or random)."""
        job = self.job
        pair = latest_checkpoint_pair(job.exp_dir)
        if pair is not None:
            resume, scaler_state, warning = load_checkpoint_pair(
                *pair, self.generator, self.discriminator, self.batches_per_epoch
            )
            if scaler_state and self.scaler.is_enabled():
                self.scaler.load_state_dict(scaler_state)
            self._log(f"resuming from {pair[0].name}/{pair[1].name}: epoch {resume.next_epoch}, step {resume.step}")
            if warning:
                self._log(warning, "warning")
            if job.pretrained_g or job.pretrained_d:
                self._log("the experiment has checkpoints, so the pretrained models are not loaded")
            return resume
        if job.pretrained_g:
            load_pretrained_generator(job.pretrained_g, self.generator.model, self.config)
            self._log(f"loaded pretrained G {job.pretrained_g}")
        if job.pretrained_d:
            load_pretrained_discriminator(job.pretrained_d, self.discriminator.model, self.config)
            self._log(f"loaded pretrained D {job.pretrained_d}")
        return ResumePoint()

    def _log(self, message: str, level: str = "info") -> None:
        if self.is_main:
            self.sink.log(message, level)

    # ---- the loop ----

    def run(self) -> dict[str, Any]:
        job, start = self.job, self.resume
        self._log(
            f"training {job.model_name} ({self.config.describe()}) on {self.plan.describe()}: "
            f"{len(self.dataset)} pieces, {len(self.validator.samples)} held out, batch {job.batch_size}, "
            f"{self.batches_per_epoch} steps per epoch, precision {self.precision.dtype or torch.float32}"
        )
        if start.next_epoch > job.epochs:
            self._log(f"already trained {start.next_epoch - 1} epochs; ask for more epochs to continue")
            return self._result("completed", start.next_epoch - 1)
        self.session_start, self.session_steps = time.monotonic(), 0
        for epoch in range(start.next_epoch, job.epochs + 1):
            skip = start.next_batch if epoch == start.next_epoch else 0
            for index, batch in enumerate(self.batches.epoch(epoch, skip), start=skip):
                measure = (self.step + 1) % self.log_every == 0
                values = self.train_step(batch, measure)
                self.step += 1
                self.session_steps += 1
                if measure:
                    self._metric(epoch, values)
                if index + 1 < self.batches_per_epoch and self._pause_requested():
                    return self._pause(epoch, epoch, index + 1)
            self.generator.scheduler.step()
            self.discriminator.scheduler.step()
            self._end_of_epoch(epoch)
            if epoch < job.epochs and self._pause_requested():
                return self._pause(epoch, epoch + 1, 0)
        return self._finish(job.epochs)

    def train_step(self, batch: Batch, measure: bool) -> dict[str, float]:
        """One discriminator update then one generator update; loss values only when ``measure``."""
        result = self.gan_step(batch, measure)
        if not measure:
            return {}
        return {**result.metrics(), "lr": self.generator.optimizer.param_groups[0]["lr"]}

    def _pause_requested(self) -> bool:
        return any_rank(self.pause.requested(), self.device)

    # ---- reporting and saving (rank 0) ----

    def _metric(self, epoch: int, values: dict[str, float]) -> None:
        if not self.is_main:
            return
        self.last_metric = (self.step, values)
        self.sink.metric(self.step, epoch, **values)
        record = {"step": self.step, "epoch": epoch, **values, "time": time.time()}
        with self.metrics_path.open("a", encoding="utf-8") as metrics:
            metrics.write(json.dumps(record) + "\n")

    def _end_of_epoch(self, epoch: int) -> None:
        job = self.job
        if self.is_main:
            seconds_per_step = (time.monotonic() - self.session_start) / max(1, self.session_steps)
            remaining = timedelta(seconds=round(seconds_per_step * (job.epochs - epoch) * self.batches_per_epoch))
            self.sink.progress(
                "train", epoch, job.epochs,
                f"epoch {epoch}/{job.epochs}, step {self.step}, {seconds_per_step:.2f} s/step, ETA {remaining}",
            )
        if epoch % job.save_every == 0 or epoch == job.epochs:
            self._validate(epoch)
            self._save_checkpoint(epoch, ResumePoint(epoch + 1, 0, self.step, self.best_val_loss_mel))
            if job.save_small_each and self.is_main:
                self._export(f"{job.model_name}_e{epoch}_s{self.step}", epoch)

    def _validate(self, epoch: int) -> None:
        if not self.is_main or not self.validator:
            return
        result = self.validator.evaluate(self.generator.model, f"e{epoch}_s{self.step}")
        logged_step, logged = self.last_metric
        self._metric(epoch, {**(logged if logged_step == self.step else {}), "val_loss_mel": result.loss_mel})
        if result.preview is not None:
            self.sink.artifact("audio", str(result.preview))
        if self.best_val_loss_mel is None or result.loss_mel < self.best_val_loss_mel:
            self.best_val_loss_mel = result.loss_mel
            self._export(f"{self.job.model_name}_best", epoch)
            self._log(f"new best validation mel loss {result.loss_mel:.3f} at epoch {epoch}")

    def _save_checkpoint(self, epoch: int, resume: ResumePoint) -> None:
        if not self.is_main or self.saved_at_step == self.step:
            return
        g_path, d_path = save_checkpoint_pair(
            self.job.exp_dir, self.generator, self.discriminator, self.scaler, resume, epoch,
            self.config.learning_rate, self.job.latest_only,
        )
        self.saved_at_step, self.last_checkpoint = self.step, g_path
        self.sink.artifact("checkpoint", str(g_path))
        self.sink.artifact("checkpoint", str(d_path))

    def _export(self, name: str, epoch: int) -> Path:
        path = export_small_model(
            self.generator.model, self.job.weights_dir / f"{name}.pth", self.config.synth, info=f"{epoch}epoch"
        )
        self.sink.artifact("model", str(path))
        return path

    def _pause(self, epoch: int, next_epoch: int, next_batch: int) -> dict[str, Any]:
        self._save_checkpoint(epoch, ResumePoint(next_epoch, next_batch, self.step, self.best_val_loss_mel))
        if self.is_main:
            self.pause.clear()
            self._log(f"paused at epoch {epoch}, step {self.step}; start the training again to continue")
        return self._result("paused", epoch)

    def _finish(self, epoch: int) -> dict[str, Any]:
        model = self._export(self.job.model_name, epoch) if self.is_main else None
        return self._result("completed", epoch, model)

    def _result(self, status: str, epoch: int, model: Path | None = None) -> dict[str, Any]:
        best = self.job.weights_dir / f"{self.job.model_name}_best.pth"
        data = {
            "experiment": self.job.exp_dir.name,
            "epoch": epoch,
            "step": self.step,
            "checkpoint": None if self.last_checkpoint is None else str(self.last_checkpoint),
            "model": None if model is None else str(model),
            "best_model": str(best) if best.is_file() else None,
            "best_val_loss_mel": self.best_val_loss_mel,
        }
        if self.is_main:
            self.sink.result(data, status)
        return {"status": status, **data}
