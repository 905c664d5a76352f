"""What the training steps (preprocess, extract, train, index, export) share about an experiment folder.

- ``experiment_dir(name_or_path)``: ``logs/<name>`` under RVC_HOME, or a path.
- ``steps/<step>.json``: a ``StepRecord``, what a step last ran with, so a rerun redoes only what changed::

      record = StepRecord.load(exp_dir, "preprocess")
      todo = record.begin(params, stamp_files(paths))   # names new or changed; all of them when params changed
      for name in todo:
          ...
          record.done(name, output)                      # after each input; record.checkpoint() now and then
      record.save()

  A step with one result for all its inputs (index, export) asks ``record.finished(params, inputs)`` for the
  last run's result (None when anything changed, or a file it wrote was touched) and saves with ``finish``.
- ``atomic_write``, ``write_json_atomic`` (from ``rvc.atomic``): outputs appear complete or not at all.
- ``run_workers``: one worker per device (or CPU slot) fed items, threads sharing a state set up once per device
  (e.g. a model loaded), or processes for work that holds the GIL.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, TypeVar

from rvc.atomic import write_json_atomic
from rvc.config import get_paths
from rvc.events import EventSink

STEPS_FOLDER = "steps"
CHECKPOINT_INTERVAL_S = 5.0

State = TypeVar("State")
Item = TypeVar("Item")
Result = TypeVar("Result")


# --- the experiment folder -------------------------------------------------------------------------------------


def experiment_dir(name_or_path: str | os.PathLike[str]) -> Path:
    """``RVC_HOME/logs/<name>`` for a bare name; a path (absolute, or with a folder part) is taken as it is."""
    value = Path(name_or_path)
    if value.is_absolute() or len(value.parts) > 1 or str(name_or_path).startswith("."):
        return value.resolve()
    return get_paths().logs / value


# --- step records ----------------------------------------------------------------------------------------------


def file_stamp(path: str | os.PathLike[str]) -> dict[str, int]:
    """Size and modification time (ns): enough to notice an edited or replaced file without reading it."""
    stat = os.stat(path)
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def stamp_files(paths: Iterable[str | os.PathLike[str]]) -> dict[str, dict[str, int]]:
    """``{file name: file_stamp}`` of ``paths`` (names must be unique, as in one folder)."""
    return {Path(path).name: file_stamp(path) for path in paths}


class StepRecord:
    """What a step ran with: its parameters, and for each input (by name) the input's stamp and the step's output.

    Stored as ``<exp_dir>/steps/<name>.json``. ``begin`` compares a new run with the record and returns the inputs
    to (re)do; ``done`` records one finished input; ``save`` writes the record atomically. An unreadable record
    counts as none, so the worst a damaged file causes is a full redo.
    """

    def __init__(
        self, path: Path, params: dict[str, Any] | None = None, entries: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
    ):
        self.path = path
        self.params = params
        self.entries: dict[str, dict[str, Any]] = entries or {}
        self.result = result
        self._inputs: dict[str, Any] = {}
        self._last_save = time.monotonic()

    @classmethod
    def load(cls, exp_dir: str | os.PathLike[str], name: str) -> StepRecord:
        path = Path(exp_dir) / STEPS_FOLDER / f"{name}.json"
        data = _read_json(path) or {}
        entries = data.get("inputs") if isinstance(data.get("inputs"), dict) else {}
        result = data.get("result") if isinstance(data.get("result"), dict) else None
        return cls(path, data.get("params"), entries, result)

    @property
    def outputs(self) -> dict[str, Any]:
        """``{input name: output}`` of the inputs done."""
        return {name: entry.get("output") for name, entry in self.entries.items()}

    def stale(self, params: Mapping[str, Any], inputs: Mapping[str, Any]) -> list[str]:
        """Inputs (sorted names) with no valid output: new, changed, or all of them when ``params`` changed."""
        if _plain(params) != self.params:
            return sorted(inputs)
        return sorted(name for name, stamp in inputs.items() if self._stamp(name) != _plain(stamp))

    def is_current(self, params: Mapping[str, Any], inputs: Mapping[str, Any]) -> bool:
        """True when a run with ``params`` over exactly ``inputs`` would do nothing."""
        return not self.stale(params, inputs) and set(inputs) == set(self.entries)

    def begin(self, params: Mapping[str, Any], inputs: Mapping[str, Any]) -> list[str]:
        """Start a run: forget inputs that are gone (or all, when ``params`` changed); return ``stale``.

        ``inputs`` are kept for ``done``, which records the stamp the input had when the run began.
        """
        todo = self.stale(params, inputs)
        if _plain(params) != self.params:
            self.entries.clear()
        self.params = _plain(params)
        self._inputs = _plain(inputs)
        for name in set(self.entries) - set(inputs):
            del self.entries[name]
        return todo

    def done(self, name: str, output: Any = None) -> None:
        """Record that input ``name`` (of the ``begin`` call) is finished, with what the step made of it."""
        self.entries[name] = {"stamp": self._inputs[name], "output": _plain(output)}

    def forget(self, name: str) -> None:
        """Drop input ``name`` from the record, so the next run redoes it."""
        self.entries.pop(name, None)

    def finished(self, params: Mapping[str, Any], inputs: Mapping[str, Any]) -> Any:
        """The value of the last ``finish`` when it still stands (same params and inputs, and every file it wrote
        still has the stamp it had then), else None."""
        if self.result is None or not self.is_current(params, inputs):
            return None
        written = self.result.get("written") or {}
        if not all(os.path.isfile(path) and _plain(file_stamp(path)) == stamp for path, stamp in written.items()):
            return None
        return self.result.get("value")

    def finish(
        self, params: Mapping[str, Any], inputs: Mapping[str, Any], value: Any,
        written: Iterable[str | os.PathLike[str]],
    ) -> Path:
        """Record a whole-step run over all ``inputs``: its ``value`` and the stamps of the files it ``written``."""
        self.begin(params, inputs)
        for name in inputs:
            self.done(name)
        self.result = {"value": _plain(value), "written": {os.fspath(path): file_stamp(path) for path in written}}
        return self.save()

    def checkpoint(self) -> None:
        """``save`` if the last save is older than CHECKPOINT_INTERVAL_S: cheap to call after every input."""
        if time.monotonic() - self._last_save >= CHECKPOINT_INTERVAL_S:
            self.save()

    def save(self) -> Path:
        content = {"params": self.params, "inputs": self.entries, "saved_at": time.time()}
        if self.result is not None:
            content["result"] = self.result
        write_json_atomic(self.path, content)
        self._last_save = time.monotonic()
        return self.path

    def _stamp(self, name: str) -> Any:
        entry = self.entries.get(name)
        return entry.get("stamp") if isinstance(entry, dict) else None


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists...), so comparisons with a record are exact."""
    return json.loads(json.dumps(value))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class QuietSink(EventSink):
    """An EventSink that drops every event: the default of library calls made without one."""

    def __init__(self) -> None:
        super().__init__(stream=io.StringIO(), json_lines=True)

    def emit(self, event: dict[str, Any]) -> None:
        pass


# --- workers ---------------------------------------------------------------------------------------------------

_worker = threading.local()
"""In each worker (a pool thread, or the main thread of a worker process): ``state`` and ``error``."""


def run_workers(
    work: Callable[[State, Item], Result],
    items: Sequence[Item],
    setup: Callable[..., State],
    setup_args: tuple[Any, ...],
    devices: Sequence[str],
    *,
    processes: bool = False,
) -> Iterator[tuple[Item, Result]]:
    """Yield ``(item, work(state, item))`` as items finish, over one worker per entry of ``devices``.

    The state is ``setup(*setup_args, device)`` (e.g. a model loaded on the device); items go to whichever worker
    is free. With one device the work runs in this process, in order, and the state is dropped when the iteration
    ends. An exception in ``setup`` or ``work`` stops the run and is raised here.

    Workers are threads of this process by default: the state is set up once per distinct device and shared by
    that device's threads, so ``work`` must be safe to call from several threads at once (torch models in
    inference are; work whose native code releases the GIL, as torch, pyworld and soxr do, runs in parallel).
    Threads start at no cost, where a process pays its imports and model loads again: measured on 16 cores,
    two worker processes took 32 s for an extraction that one process did in 18 s.

    ``processes=True`` is for work that holds the GIL (preprocessing's decoding and slicing): spawned worker
    processes, each with a state of its own. Spawned, not forked, because a forked copy of a process that has
    started torch's threads can hang; so ``work`` and ``setup`` must be module-level functions, and a script that
    calls this must guard its top level with ``if __name__ == "__main__":``.
    """
    if not items:
        return
    if len(devices) == 1:
        state = setup(*setup_args, devices[0])
        for item in items:
            yield item, work(state, item)
        return
    n_workers = min(len(devices), len(items))
    if processes:
        context = multiprocessing.get_context("spawn")
        device_queue = context.Queue()
        for device in devices:
            device_queue.put(device)
        executor: Executor = ProcessPoolExecutor(
            max_workers=n_workers, mp_context=context,
            initializer=_start_worker_process, initargs=(setup, setup_args, device_queue),
        )
    else:
        states = {device: setup(*setup_args, device) for device in dict.fromkeys(devices[:n_workers])}
        state_queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for device in devices[:n_workers]:
            state_queue.put(states[device])
        executor = ThreadPoolExecutor(
            max_workers=n_workers, thread_name_prefix="worker", initializer=_start_worker_thread,
            initargs=(state_queue,),
        )
    try:
        pending: dict[Future, Item] = {executor.submit(_run_item, work, item): item for item in items}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield pending.pop(future), future.result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _start_worker_thread(state_queue: queue.SimpleQueue[Any]) -> None:
    _worker.state, _worker.error = state_queue.get(), None


def _start_worker_process(setup: Callable[..., Any], setup_args: tuple[Any, ...], device_queue: Any) -> None:
    """Set a worker process up. A failure is kept and raised by its first item: an exception escaping an
    initializer only breaks the pool, and the caller would never learn why (e.g. which model file is bad)."""
    _worker.state, _worker.error = None, None
    try:
        _worker.state = setup(*setup_args, device_queue.get())
    except Exception as error:
        _worker.error = error


def _run_item(work: Callable[[Any, Any], Any], item: Any) -> Any:
    if _worker.error is not None:
        raise _worker.error
    return work(_worker.state, item)
