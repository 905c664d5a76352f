"""The shared step helpers: step records (what a rerun may skip), experiment folders and workers."""

from __future__ import annotations

import os
import threading

import pytest

from rvc.train.steps import StepRecord, experiment_dir, file_stamp, run_workers, stamp_files

PARAMS = {"sample_rate_hz": 40000, "sizes": (1, 2)}


def write(path, text: str):
    path.write_text(text)
    return path


def test_a_saved_record_makes_a_rerun_do_nothing(tmp_path):
    inputs = stamp_files([write(tmp_path / "a.wav", "a"), write(tmp_path / "b.wav", "bb")])
    record = StepRecord.load(tmp_path, "preprocess")
    assert record.begin(PARAMS, inputs) == ["a.wav", "b.wav"]
    record.done("a.wav", {"pieces": ["0_0"]})
    record.done("b.wav")
    assert record.save() == tmp_path / "steps" / "preprocess.json"

    again = StepRecord.load(tmp_path, "preprocess")
    assert again.is_current(PARAMS, inputs)  # the tuple in PARAMS compares equal to its JSON list
    assert again.outputs == {"a.wav": {"pieces": ["0_0"]}, "b.wav": None}


def test_changed_new_and_removed_inputs(tmp_path):
    a, b = write(tmp_path / "a.wav", "a"), write(tmp_path / "b.wav", "b")
    record = StepRecord.load(tmp_path, "step")
    record.begin(PARAMS, stamp_files([a, b]))
    record.done("a.wav")
    record.done("b.wav")

    write(a, "a longer")
    c = write(tmp_path / "c.wav", "c")
    inputs = stamp_files([a, c])
    assert not record.is_current(PARAMS, inputs)
    assert record.begin(PARAMS, inputs) == ["a.wav", "c.wav"]
    assert set(record.entries) == {"a.wav"}  # b is gone; a stays recorded (old stamp) until done again
    assert record.stale({**PARAMS, "sample_rate_hz": 48000}, inputs) == ["a.wav", "c.wav"]


def test_new_params_forget_everything(tmp_path):
    inputs = stamp_files([write(tmp_path / "a.wav", "a")])
    record = StepRecord.load(tmp_path, "step")
    record.begin(PARAMS, inputs)
    record.done("a.wav", 1)
    assert record.begin({"sample_rate_hz": 32000}, inputs) == ["a.wav"]
    assert record.entries == {}


def test_a_damaged_record_counts_as_none(tmp_path):
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "extract_f0.json").write_text("{not json")
    record = StepRecord.load(tmp_path, "extract_f0")
    assert record.params is None and record.entries == {}


def test_file_stamp_changes_with_the_content(tmp_path):
    path = write(tmp_path / "x.wav", "one")
    first = file_stamp(path)
    write(path, "three")
    os.utime(path, ns=(first["mtime_ns"], first["mtime_ns"]))
    assert file_stamp(path) != first  # same mtime, other size


def test_experiment_dir_takes_names_under_logs_and_paths_as_they_are(tmp_path, monkeypatch):
    monkeypatch.setenv("RVC_HOME", str(tmp_path))
    assert experiment_dir("my-voice") == tmp_path / "logs" / "my-voice"
    assert experiment_dir(tmp_path / "elsewhere") == tmp_path / "elsewhere"
    monkeypatch.chdir(tmp_path)
    assert experiment_dir("./here") == tmp_path / "here"


def add_offset_setup(offset: int, device: str) -> tuple[int, str, int]:
    return offset, device, os.getpid()


def failing_setup(offset: int, device: str) -> None:
    raise FileNotFoundError(f"model for {device} not found")


def add_offset(state: tuple[int, str, int], item: int) -> tuple[int, str, int]:
    offset, device, pid = state
    if item < 0:
        raise ValueError(f"negative item {item}")
    return item + offset, device, pid


def test_run_workers_in_this_process_for_one_device():
    results = dict(run_workers(add_offset, [1, 2, 3], add_offset_setup, (10,), ["cpu"]))
    assert results == {1: (11, "cpu", os.getpid()), 2: (12, "cpu", os.getpid()), 3: (13, "cpu", os.getpid())}


class CountingSetup:
    """A setup that counts its calls per device (threads share the state of their device)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, offset: int, device: str) -> tuple[int, str, int]:
        self.calls.append(device)
        return add_offset_setup(offset, device)


def test_worker_threads_share_one_state_per_device_and_run_at_once():
    setup = CountingSetup()
    both_running = threading.Barrier(2, timeout=10)  # broken (an error) unless two items run at the same time

    def work(state, item):
        both_running.wait()
        return add_offset(state, item), threading.get_ident()

    results = dict(run_workers(work, [1, 2, 3, 4], setup, (100,), ["cpu", "cpu"]))
    assert sorted(setup.calls) == ["cpu"]
    assert {item: value for item, ((value, _, _), _) in results.items()} == {1: 101, 2: 102, 3: 103, 4: 104}
    assert {pid for (_, _, pid), _ in results.values()} == {os.getpid()}
    assert len({thread for _, thread in results.values()}) == 2

    setup.calls.clear()
    results = dict(run_workers(add_offset, list(range(6)), setup, (0,), ["dev:0", "dev:1", "dev:1"]))
    assert sorted(setup.calls) == ["dev:0", "dev:1"]
    assert {device for _, device, _ in results.values()} <= {"dev:0", "dev:1"}


def test_run_workers_gives_each_process_its_own_device():
    results = dict(run_workers(add_offset, list(range(8)), add_offset_setup, (100,), ["dev:0", "dev:1"],
                               processes=True))
    assert {item: value for item, (value, _, _) in results.items()} == {i: i + 100 for i in range(8)}
    pids = {pid for _, _, pid in results.values()}
    assert os.getpid() not in pids
    devices_of = {pid: {device for _, device, p in results.values() if p == pid} for pid in pids}
    assert all(len(devices) == 1 for devices in devices_of.values())  # one device per worker process
    assert {device for _, device, _ in results.values()} <= {"dev:0", "dev:1"}


@pytest.mark.parametrize("processes", [False, True])
def test_run_workers_raises_a_workers_exception(processes):
    with pytest.raises(ValueError, match="negative item -1"):
        list(run_workers(add_offset, [1, -1, 2], add_offset_setup, (0,), ["cpu", "cpu"], processes=processes))


@pytest.mark.parametrize("processes", [False, True])
def test_a_failed_worker_setup_is_raised_with_its_message(processes):
    with pytest.raises(FileNotFoundError, match="model for dev:. not found"):
        list(run_workers(add_offset, [1, 2], failing_setup, (0,), ["dev:0", "dev:1"], processes=processes))
