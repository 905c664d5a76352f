"""Training data: filelist, the original's alignment rules, the spectrogram cache, padding, buckets, hold-out."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from rvc.train.data import (
    BatchSource,
    BucketBatchSampler,
    Collate,
    FilelistEntry,
    Sample,
    TrainingDataset,
    read_filelist,
    split_validation,
)
from rvc.train.mel import MelConfig
from rvc.train.run_config import load_run_config, prepare_experiment_config
from tests.unit.train.tiny_experiment import HOP, TINY_DATA, make_experiment

MEL = MelConfig(40000, TINY_DATA["filter_length"], HOP, TINY_DATA["win_length"], TINY_DATA["n_mel_channels"])


@pytest.fixture()
def experiment(tmp_path: Path) -> Path:
    return make_experiment(tmp_path, pieces=6)


def test_filelist_rows_and_relative_paths(experiment: Path):
    entries = read_filelist(experiment / "filelist.txt", f0=True)
    assert len(entries) == 6
    assert entries[1].speaker_id == 1 and entries[0].f0nsf.name == "0_0.wav.npy"
    relative = experiment / "relative.txt"
    relative.write_text("0_gt_wavs/0_0.wav|3_feature768/0_0.npy|0\n\n")
    (entry,) = read_filelist(relative, f0=False)
    assert entry.wav == experiment / "0_gt_wavs" / "0_0.wav" and entry.f0 is None


def test_filelist_column_count_must_fit_the_model_kind(experiment: Path):
    with pytest.raises(ValueError, match="5 columns, a model without f0"):
        read_filelist(experiment / "filelist.txt", f0=False)
    with pytest.raises(FileNotFoundError, match="preprocess"):
        read_filelist(experiment / "missing.txt", f0=True)


def test_sample_alignment_follows_the_original(experiment: Path):
    entry = read_filelist(experiment / "filelist.txt", f0=True)[0]
    dataset = TrainingDataset([entry], MEL, phone_dim=768)
    sample = dataset[0]
    audio_len = soundfile.info(str(entry.wav)).frames
    features = np.load(entry.feature)
    spec_frames = audio_len // HOP
    frames = min(spec_frames, 2 * len(features))
    assert dataset.lengths == [spec_frames]
    assert sample.spec.shape == (MEL.spec_channels, frames)
    assert sample.phone.shape == (frames, 768)
    assert torch.equal(sample.phone[0], sample.phone[1])  # 50 fps features repeated to 100 fps
    np.testing.assert_array_equal(sample.phone[2].numpy(), features[1])
    assert sample.pitch.dtype == torch.long and sample.pitch.shape == (frames,)
    assert sample.pitchf.shape == (frames,)
    assert sample.wave.shape == (1, frames * HOP)


def test_samples_are_cut_to_max_frames(experiment: Path):
    entry = read_filelist(experiment / "filelist.txt", f0=True)[0]
    sample = TrainingDataset([entry], MEL, phone_dim=768, max_frames=50)[0]
    assert sample.spec.shape[-1] == 50 and sample.wave.shape[-1] == 50 * HOP


def test_spectrogram_cache_is_written_reused_and_rebuilt_when_stale(experiment: Path):
    entry = read_filelist(experiment / "filelist.txt", f0=True)[0]
    cache = entry.wav.with_suffix(".spec.pt")
    first = TrainingDataset([entry], MEL, 768)[0].spec
    assert cache.is_file()
    torch.save(torch.full((MEL.spec_channels, first.shape[-1] + 2), 7.0), cache)  # another wav's shape
    rebuilt = TrainingDataset([entry], MEL, 768)[0].spec
    assert torch.allclose(rebuilt, first)
    marked = torch.load(cache, weights_only=True).clone()
    marked[0, 0] = 123.0
    torch.save(marked, cache)
    assert TrainingDataset([entry], MEL, 768)[0].spec[0, 0] == 123.0  # a fitting cache is used as is
    cache.write_bytes(b"garbage")
    assert torch.allclose(TrainingDataset([entry], MEL, 768)[0].spec, first)


def test_wrong_rate_and_wrong_feature_width_are_clear_errors(experiment: Path):
    entry = read_filelist(experiment / "filelist.txt", f0=True)[0]
    with pytest.raises(ValueError, match="the model needs \\[frames, 256\\]"):
        TrainingDataset([entry], MEL, phone_dim=256)[0]
    other = MelConfig(48000, 1024, 480, 1024, 64)
    with pytest.raises(ValueError, match="40000 Hz, the experiment trains at 48000 Hz"):
        TrainingDataset([entry], other, 768)[0]


def test_collate_pads_to_the_longest_and_to_the_segment(experiment: Path):
    dataset = TrainingDataset(read_filelist(experiment / "filelist.txt", f0=True)[:3], MEL, 768)
    samples = [dataset[i] for i in range(3)]
    batch = Collate(HOP)(samples)
    longest = max(s.spec.shape[-1] for s in samples)
    assert batch.spec.shape == (3, MEL.spec_channels, longest)
    assert batch.wave.shape == (3, 1, longest * HOP)
    assert batch.phone.shape == (3, longest, 768) and batch.pitch.shape == (3, longest)
    assert batch.spec_lengths.tolist() == [s.spec.shape[-1] for s in samples]
    short = samples[0].spec.shape[-1]
    assert torch.all(batch.spec[0, :, short:] == 0) and torch.all(batch.phone[0, short:] == 0)
    assert batch.speaker_ids.tolist() == [0, 1, 0]
    assert Collate(HOP, min_frames=longest + 20)(samples).spec.shape[-1] == longest + 20


def test_collate_without_pitch():
    samples = [Sample(torch.ones(5, 4), torch.ones(1, 4 * HOP), torch.ones(4, 8), None, None, 0)]
    batch = Collate(HOP)(samples)
    assert batch.pitch is None and batch.pitchf is None and batch.to(torch.device("cpu")).pitch is None


def test_buckets_cover_every_piece_once_per_epoch_and_are_reproducible():
    lengths = [150] * 7 + [350] * 5 + [20, 2000]  # the last two lie outside the boundaries
    sampler = BucketBatchSampler(lengths, batch_size=2, seed=3)
    sampler.set_epoch(1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == sampler.batches_per_epoch == 4 + 3 + 1
    seen = Counter(i for batch in batches for i in batch)
    assert set(seen) == set(range(len(lengths)))  # nothing is dropped
    assert all(len(batch) == 2 for batch in batches)
    interval = {150: 0, 20: 0, 350: 2, 2000: 7}  # (100, 200], (300, 400], (800, 900]: out-of-range pieces clamp
    assert all(len({interval[lengths[i]] for i in batch}) == 1 for batch in batches)
    assert list(sampler) == batches
    sampler.set_epoch(2)
    assert list(sampler) != batches


def test_resumed_epoch_skips_the_batches_already_trained():
    sampler = BucketBatchSampler([150] * 10, batch_size=2)
    sampler.set_epoch(5)
    full = list(sampler)
    sampler.set_epoch(5, skip_batches=3)
    assert list(sampler) == full[3:] and len(sampler) == 2


def test_replicas_get_equal_disjoint_shares():
    lengths = [150] * 9 + [450] * 5
    shares = []
    for rank in range(2):
        sampler = BucketBatchSampler(lengths, batch_size=2, num_replicas=2, rank=rank)
        sampler.set_epoch(1)
        shares.append([i for batch in sampler for i in batch])
    assert len(shares[0]) == len(shares[1]) == 10  # 9 -> 12 and 5 -> 8 pieces (repeats), over two replicas
    assert set(shares[0]) | set(shares[1]) == set(range(14))


def test_holdout_is_small_deterministic_and_never_mute(tmp_path: Path):
    exp = tmp_path / "exp"
    own = [FilelistEntry(exp / "0_gt_wavs" / f"0_{i}.wav", Path("f"), None, None, 0) for i in range(57)]
    mute = [FilelistEntry(tmp_path / "mute" / "mute40k.wav", Path("f"), None, None, 0)] * 2
    train, held = split_validation(own + mute, exp)
    assert len(held) == 4 and not set(held) & set(train) and len(train) == 55
    assert split_validation(list(reversed(own + mute)), exp)[1] == held
    assert len(split_validation(own[:12] + mute, exp)[1]) == 1
    assert split_validation(own[:4] + mute, exp)[1] == []


def test_device_cache_gives_the_loader_batches(experiment: Path):
    dataset = TrainingDataset(read_filelist(experiment / "filelist.txt", f0=True), MEL, 768)
    cpu = torch.device("cpu")
    sources = [
        BatchSource(dataset, BucketBatchSampler(dataset.lengths, 2), Collate(HOP, 10), cpu, cache_on_device=cached)
        for cached in (False, True)
    ]
    for epoch in (1, 2):
        plain, cached = (list(source.epoch(epoch)) for source in sources)
        assert len(plain) == len(cached) == 3
        for a, b in zip(plain, cached, strict=True):
            assert torch.equal(a.spec, b.spec) and torch.equal(a.pitch, b.pitch)
    assert len(sources[1].cache) == 6


def test_experiment_config_is_completed_and_checked(tmp_path: Path):
    exp = make_experiment(tmp_path, pieces=2, f0=False)
    config = json.loads((exp / "config.json").read_text())
    del config["version"], config["if_f0"]
    (exp / "config.json").write_text(json.dumps(config))
    path = prepare_experiment_config(exp)  # version from 3_feature768, f0 from the filelist's columns
    run = load_run_config(path)
    assert (run.version, run.f0, run.synth.sample_rate) == ("v2", False, 40000)
    assert run.discriminator_periods == (2, 3) and run.discriminator_channel_divisor == 16
    with pytest.raises(ValueError, match="prepared for 40000 Hz but 48k was asked"):
        prepare_experiment_config(exp, sample_rate="48k")
    with pytest.raises(ValueError, match="records f0=False"):
        prepare_experiment_config(exp, f0=True)
    (exp / "config.json").unlink()
    path = prepare_experiment_config(exp, sample_rate="40k", version="v2")  # from the preset
    assert load_run_config(path).synth.inter_channels == 192
    (exp / "G_1.pth").write_bytes(b"")
    other = tmp_path / "other.json"
    other.write_text((exp / "config.json").read_text().replace('"inter_channels": 192', '"inter_channels": 8'))
    with pytest.raises(ValueError, match="already has checkpoints"):
        prepare_experiment_config(exp, source=other)
