"""The training data of an experiment folder: filelist, samples, padded batches and length buckets.

The formats are the original's (see DESIGN.md): `filelist.txt` lines `gt_wav|feature|f0|f0nsf|speaker_id`
(f0 models) or `gt_wav|feature|speaker_id`, wavs at the model rate, content features at 50 frames/s, pitch at
100 frames/s. A sample aligns them like the original loader: features are repeated 2x to the spectrogram's
100 frames/s, everything is cut to the shortest of features, pitch and spectrogram (and to 900 frames), and
the waveform to that many hops. The linear spectrogram is cached as `<wav>.spec.pt` beside the wav, the
name the original uses, so either program reuses the other's cache.
"""

from __future__ import annotations

import bisect
import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import soundfile
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from rvc.synth.checkpoint import atomic_torch_save
from rvc.train.mel import MelConfig, linear_spectrogram

BUCKET_BOUNDARIES = (100, 200, 300, 400, 500, 600, 700, 800, 900)
"""Spectrogram frames; a batch holds samples of one interval (b_i, b_i+1], as in the original."""
MAX_FRAMES = 900
"""Samples are cut to 9 s at 100 frames/s, like the original (pieces from preprocessing are ~3.7 s)."""
FEATURE_REPEAT = 2
"""Content features come at 50 frames/s, the spectrogram and pitch at 100."""
HOLDOUT_MAX_PIECES = 4
HOLDOUT_FRACTION = 0.1
HOLDOUT_MIN_PIECES = 5
"""Below this many pieces nothing is held out for validation: every piece is needed for training."""


@dataclass(frozen=True)
class FilelistEntry:
    """One line of `filelist.txt`, paths resolved."""

    wav: Path
    feature: Path
    f0: Path | None
    f0nsf: Path | None
    speaker_id: int


def read_filelist(path: str | os.PathLike, f0: bool) -> list[FilelistEntry]:
    """Parse `filelist.txt`; relative paths are taken from the experiment folder, else the working folder."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the preprocess and feature extraction steps first")
    columns = 5 if f0 else 3
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split("|")
        if len(parts) != columns:
            kind = "an f0 model (wav|feature|f0|f0nsf|speaker)" if f0 else "a model without f0 (wav|feature|speaker)"
            raise ValueError(f"{path}:{number}: {len(parts)} columns, {kind} needs {columns}")
        files = [_resolve(part, path.parent) for part in parts[:-1]]
        try:
            speaker = int(parts[-1])
        except ValueError as error:
            raise ValueError(f"{path}:{number}: speaker id {parts[-1]!r} is not an integer") from error
        pitch = (files[2], files[3]) if f0 else (None, None)
        entries.append(FilelistEntry(files[0], files[1], *pitch, speaker))
    if not entries:
        raise ValueError(f"{path} lists no training pieces")
    return entries


def _resolve(name: str, exp_dir: Path) -> Path:
    path = Path(name)
    if path.is_absolute():
        return path
    beside = exp_dir / path
    return beside if beside.exists() else path


def split_validation(
    entries: Sequence[FilelistEntry], exp_dir: Path
) -> tuple[list[FilelistEntry], list[FilelistEntry]]:
    """(training, held-out) entries: min(4, 10%) of the experiment's own pieces, never trained on.

    The choice depends only on the wav names (ordered by a hash, so held-out pieces spread over the
    recording), so a resumed run holds out the same pieces. Pieces outside the experiment folder (the
    original's shared `logs/mute` silences) are never held out.
    """
    exp_dir = exp_dir.resolve()
    own = [e for e in entries if e.wav.resolve().is_relative_to(exp_dir)]
    if len(own) < HOLDOUT_MIN_PIECES:
        return list(entries), []
    count = min(HOLDOUT_MAX_PIECES, max(1, int(len(own) * HOLDOUT_FRACTION)))
    held = sorted(own, key=lambda e: (zlib.crc32(e.wav.name.encode()), e.wav.name))[:count]
    held_set = set(held)
    return [e for e in entries if e not in held_set], held


@dataclass
class Sample:
    """One aligned piece: spec [F, T], wave [1, T * hop], phone [T, dim], pitch/pitchf [T] (f0 models)."""

    spec: torch.Tensor
    wave: torch.Tensor
    phone: torch.Tensor
    pitch: torch.Tensor | None
    pitchf: torch.Tensor | None
    speaker_id: int

    def to(self, device: torch.device) -> Sample:
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        return Sample(**{k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in moved.items()})


class TrainingDataset(Dataset):
    """The pieces of a filelist as aligned `Sample`s; `lengths` (frames) drive the bucketing."""

    def __init__(
        self, entries: Sequence[FilelistEntry], mel: MelConfig, phone_dim: int, max_frames: int = MAX_FRAMES
    ) -> None:
        self.entries = list(entries)
        self.mel = mel
        self.phone_dim = phone_dim
        self.max_frames = max_frames
        self.lengths = [min(max_frames, _wav_frames(e.wav) // mel.hop_length) for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Sample:
        entry = self.entries[index]
        audio = load_wav(entry.wav, self.mel.sample_rate)
        spec = load_spectrogram(entry.wav, audio, self.mel)
        phone = np.load(entry.feature)
        if phone.ndim != 2 or phone.shape[1] != self.phone_dim:
            raise ValueError(
                f"{entry.feature}: features of shape {list(phone.shape)}, the model needs [frames, {self.phone_dim}] "
                "(v1 uses 256-d features, v2 768-d)"
            )
        phone = torch.from_numpy(np.repeat(phone.astype(np.float32), FEATURE_REPEAT, axis=0))
        lengths = [phone.shape[0], spec.shape[-1], self.max_frames]
        pitch = pitchf = None
        if entry.f0 is not None and entry.f0nsf is not None:
            pitch = torch.from_numpy(np.load(entry.f0).astype(np.int64))
            pitchf = torch.from_numpy(np.load(entry.f0nsf).astype(np.float32))
            lengths += [pitch.shape[0], pitchf.shape[0]]
        frames = min(lengths)
        return Sample(
            spec=spec[:, :frames],
            wave=audio[: frames * self.mel.hop_length].unsqueeze(0),
            phone=phone[:frames],
            pitch=None if pitch is None else pitch[:frames],
            pitchf=None if pitchf is None else pitchf[:frames],
            speaker_id=entry.speaker_id,
        )


def _wav_frames(path: Path) -> int:
    try:
        return soundfile.info(str(path)).frames
    except RuntimeError as error:
        raise ValueError(f"{path}: not a readable wav ({error})") from error


def load_wav(path: Path, sample_rate: int) -> torch.Tensor:
    """A training wav as float32 mono in [-1, 1]; it must already be at the model rate (preprocessing does it)."""
    audio, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    if rate != sample_rate:
        raise ValueError(f"{path} is {rate} Hz, the experiment trains at {sample_rate} Hz: preprocess again")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    return torch.from_numpy(np.ascontiguousarray(audio))


def load_spectrogram(wav_path: Path, audio: torch.Tensor, mel: MelConfig) -> torch.Tensor:
    """The linear spectrogram [F, T] of ``audio``, from the `.spec.pt` cache when it fits, else computed and cached.

    A cache whose shape does not fit (another n_fft or hop, a changed wav) or that cannot be read is rebuilt.
    """
    cache = wav_path.with_suffix(".spec.pt")
    expected = (mel.spec_channels, len(audio) // mel.hop_length)
    if cache.is_file():
        try:
            spec = torch.load(cache, map_location="cpu", weights_only=True)
            if isinstance(spec, torch.Tensor) and tuple(spec.shape) == expected:
                return spec
        except Exception:  # any unreadable cache (truncated, foreign) is simply rebuilt
            pass
    spec = linear_spectrogram(audio, mel)
    atomic_torch_save(spec, cache)
    return spec


@dataclass
class Batch:
    """Zero-padded tensors of one batch, in the synthesizer's argument order."""

    phone: torch.Tensor  # [B, T, dim]
    phone_lengths: torch.Tensor  # [B]
    pitch: torch.Tensor | None  # [B, T] coarse
    pitchf: torch.Tensor | None  # [B, T] Hz
    spec: torch.Tensor  # [B, F, T]
    spec_lengths: torch.Tensor
    wave: torch.Tensor  # [B, 1, T * hop]
    wave_lengths: torch.Tensor
    speaker_ids: torch.Tensor  # [B]

    def to(self, device: torch.device, non_blocking: bool = False) -> Batch:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return Batch(**{k: None if v is None else v.to(device, non_blocking=non_blocking) for k, v in values.items()})

    def pin_memory(self) -> Batch:
        """Called by DataLoader(pin_memory=True) so the copy to the GPU can overlap the step."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return Batch(**{k: None if v is None else v.pin_memory() for k, v in values.items()})

    @property
    def size(self) -> int:
        return int(self.phone.shape[0])


@dataclass(frozen=True)
class Collate:
    """Pads samples to the longest in the batch, and to at least ``min_frames`` (the training segment).

    The minimum keeps a batch of very short pieces sliceable: the model cuts segment-long windows, and the
    padding it then reads is silence, as in the original's zero-filled slices.
    """

    hop_length: int
    min_frames: int = 0

    def __call__(self, samples: Sequence[Sample]) -> Batch:
        frames = max(self.min_frames, max(s.spec.shape[-1] for s in samples))
        with_pitch = samples[0].pitch is not None
        return Batch(
            phone=_pad_stack([s.phone for s in samples], 0, frames),
            phone_lengths=torch.tensor([s.phone.shape[0] for s in samples], dtype=torch.long),
            pitch=_pad_stack([s.pitch for s in samples], 0, frames) if with_pitch else None,
            pitchf=_pad_stack([s.pitchf for s in samples], 0, frames) if with_pitch else None,
            spec=_pad_stack([s.spec for s in samples], 1, frames),
            spec_lengths=torch.tensor([s.spec.shape[-1] for s in samples], dtype=torch.long),
            wave=_pad_stack([s.wave for s in samples], 1, frames * self.hop_length),
            wave_lengths=torch.tensor([s.wave.shape[-1] for s in samples], dtype=torch.long),
            speaker_ids=torch.tensor([s.speaker_id for s in samples], dtype=torch.long),
        )


def _pad_stack(tensors: Sequence[torch.Tensor], dim: int, length: int) -> torch.Tensor:
    """Stack tensors that differ only along ``dim``, zero-padded there to ``length``."""
    shape = list(tensors[0].shape)
    shape[dim] = length
    out = tensors[0].new_zeros((len(tensors), *shape))
    for row, tensor in zip(out, tensors, strict=True):
        row.narrow(dim, 0, tensor.shape[dim]).copy_(tensor)
    return out


class BucketBatchSampler(Sampler):
    """Batches of pieces of similar length, for one process of a (possibly distributed) run.

    The original's DistributedBucketSampler: pieces are grouped by `BUCKET_BOUNDARIES`, each bucket is
    shuffled with a generator seeded by the epoch (every process draws the same order), padded by repeating
    its pieces to a multiple of num_replicas * batch_size, dealt out rank::num_replicas and cut into batches
    whose order is shuffled again. Unlike the original, pieces shorter than the first boundary or longer than
    the last join the nearest bucket instead of being dropped. ``set_epoch(epoch, skip_batches)`` makes a
    resumed epoch continue where a paused one stopped.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        boundaries: Sequence[int] = BUCKET_BOUNDARIES,
        num_replicas: int = 1,
        rank: int = 0,
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        if not lengths:
            raise ValueError("no training pieces")
        if batch_size < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"invalid batch_size={batch_size}, rank={rank}, num_replicas={num_replicas}")
        self.batch_size = batch_size
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.skip_batches = 0
        last = len(boundaries) - 2
        buckets: list[list[int]] = [[] for _ in range(last + 1)]
        for index, length in enumerate(lengths):
            buckets[min(max(bisect.bisect_left(boundaries, length) - 1, 0), last)].append(index)
        self.buckets = [bucket for bucket in buckets if bucket]
        per_step = batch_size * num_replicas
        self.batches_per_epoch = sum(-(-len(bucket) // per_step) for bucket in self.buckets)

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        self.epoch = epoch
        self.skip_batches = skip_batches

    def epoch_batches(self) -> list[list[int]]:
        """All of this process's batches of the current epoch, in order."""
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        per_step = self.batch_size * self.num_replicas
        batches = []
        for bucket in self.buckets:
            order = torch.randperm(len(bucket), generator=generator).tolist() if self.shuffle else range(len(bucket))
            picks = [bucket[i] for i in order]
            rounded_up = -(-len(picks) // per_step) * per_step
            padded = (picks * (rounded_up // len(picks) + 1))[:rounded_up]
            mine = padded[self.rank :: self.num_replicas]
            batches += [mine[i : i + self.batch_size] for i in range(0, len(mine), self.batch_size)]
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.epoch_batches()[self.skip_batches :])

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch - self.skip_batches)


class BatchSource:
    """An epoch's batches on the training device, from a DataLoader or from a device-resident cache.

    With ``cache_on_device`` (the original's if_cache_data_in_gpu) every sample is kept on the device once
    loaded, so from the second epoch on no file is read and no host-to-device copy happens; batches are still
    drawn by the sampler, so the order per epoch is the same as without the cache.
    """

    def __init__(
        self,
        dataset: TrainingDataset,
        sampler: BucketBatchSampler,
        collate: Collate,
        device: torch.device,
        cache_on_device: bool = False,
        num_workers: int = 0,
    ) -> None:
        self.dataset = dataset
        self.sampler = sampler
        self.collate = collate
        self.device = device
        self.cache: dict[int, Sample] | None = {} if cache_on_device else None
        self.loader = None
        if not cache_on_device:
            self.loader = DataLoader(
                dataset,
                batch_sampler=sampler,
                collate_fn=collate,
                num_workers=num_workers,
                pin_memory=device.type == "cuda",
                persistent_workers=num_workers > 0,
                prefetch_factor=4 if num_workers > 0 else None,
            )

    def __len__(self) -> int:
        return self.sampler.batches_per_epoch

    def epoch(self, epoch: int, skip_batches: int = 0) -> Iterator[Batch]:
        """Yield the epoch's batches (after the first ``skip_batches``), already on the device."""
        self.sampler.set_epoch(epoch, skip_batches)
        if self.loader is not None:
            for batch in self.loader:
                yield batch.to(self.device, non_blocking=True)
            return
        for indices in self.sampler:  # collated from device tensors; the lengths it creates still need moving
            yield self.collate([self._cached(index) for index in indices]).to(self.device)

    def _cached(self, index: int) -> Sample:
        assert self.cache is not None
        if index not in self.cache:
            self.cache[index] = self.dataset[index].to(self.device)
        return self.cache[index]
