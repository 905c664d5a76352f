"""Where a training runs: one process on the CPU or one GPU, or one process per GPU joined by torch.distributed.

`--devices` takes the original's notation: "0" (GPU 0), "0-1" (GPUs 0 and 1), or "cpu". "cpu:N" runs N CPU
processes with the gloo backend: no faster than one, it exists so the DDP path can be exercised on a machine
without GPUs. Several processes are spawned with torch.multiprocessing; rank 0 reports through a queue that
the parent drains into the caller's `EventSink`, so the events of a DDP run look exactly like a single one's.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from rvc.events import EventSink
from rvc.train.pause import PAUSE_SIGNALS
from rvc.vocabulary import AUTO_DEVICES


@dataclass(frozen=True)
class DevicePlan:
    """The processes of a run: ``kind`` "cpu" or "cuda", and the GPU index of each rank (0s for CPU)."""

    kind: str
    indices: tuple[int, ...]

    @property
    def world_size(self) -> int:
        return len(self.indices)

    def device(self, rank: int) -> torch.device:
        return torch.device("cpu") if self.kind == "cpu" else torch.device("cuda", self.indices[rank])

    @property
    def backend(self) -> str:
        """NCCL between GPUs, except on Windows (no NCCL) and on the CPU, where gloo is the one that works."""
        return "nccl" if self.kind == "cuda" and os.name != "nt" else "gloo"

    def describe(self) -> str:
        if self.kind == "cpu":
            return "CPU" if self.world_size == 1 else f"{self.world_size} CPU processes"
        return ", ".join(f"cuda:{index}" for index in self.indices)


def parse_devices(spec: str) -> DevicePlan:
    """"auto" (every CUDA GPU, else the CPU), "cpu", "cpu:N", "0", "0-1" (the original's dash-separated GPU list;
    commas also work)."""
    text = spec.strip().lower()
    if text == AUTO_DEVICES:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return DevicePlan("cuda", tuple(range(count))) if count else DevicePlan("cpu", (0,))
    if text == "cpu":
        return DevicePlan("cpu", (0,))
    match = re.fullmatch(r"cpu:(\d+)", text)
    if match and int(match.group(1)) >= 1:
        return DevicePlan("cpu", (0,) * int(match.group(1)))
    if not re.fullmatch(r"\d+([-,]\d+)*", text):
        raise ValueError(f"invalid devices {spec!r}: use cpu, a GPU index (0) or several (0-1)")
    indices = tuple(int(part) for part in re.split(r"[-,]", text))
    if len(set(indices)) != len(indices):
        raise ValueError(f"invalid devices {spec!r}: a GPU is listed twice")
    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    missing = [index for index in indices if index >= available]
    if missing:
        raise ValueError(f"GPU {missing[0]} is not available ({available} CUDA device(s) here); use --devices cpu")
    return DevicePlan("cuda", indices)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def process_group(plan: DevicePlan, rank: int, port: int) -> Iterator[None]:
    """Join the run's process group (nothing to do for a single process)."""
    if plan.kind == "cuda":
        torch.cuda.set_device(plan.device(rank))
    if plan.world_size == 1:
        yield
        return
    dist.init_process_group(
        plan.backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=plan.world_size
    )
    try:
        yield
        # Leave together: a rank that tears its group down while a peer is still saving a checkpoint can make
        # gloo abort the peer ("terminate called without an active exception"), seen on a loaded CPU.
        dist.barrier()
    finally:
        dist.destroy_process_group()


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when it is true on any: all ranks must stop at the same step or DDP hangs."""
    if not dist.is_available() or not dist.is_initialized():
        return flag
    value = torch.tensor([int(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


class NullSink(EventSink):
    """The sink of ranks other than 0: they train but do not report."""

    def emit(self, event: dict[str, Any]) -> None:
        pass


class QueueSink(EventSink):
    """Rank 0's sink in a spawned process: events go to the parent, which writes them."""

    def __init__(self, events: Any) -> None:
        super().__init__(json_lines=True)
        self.events = events

    def emit(self, event: dict[str, Any]) -> None:
        self.events.put(event)


# worker(rank, plan, sink, shared_stop_event, *args) -> result data (rank 0) or None
Worker = Callable[..., Any]


def run_processes(worker: Worker, plan: DevicePlan, args: tuple, sink: EventSink) -> Any:
    """Run ``worker`` in one process per rank and return rank 0's result event's data.

    A SIGTERM/SIGINT to this parent sets an event all ranks watch, so a pause works whichever process the
    job runner signals.
    """
    context = mp.get_context("spawn")
    events = context.Queue()
    stop = context.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in PAUSE_SIGNALS}
    result = None
    try:
        processes = mp.spawn(
            _spawned, args=(worker, plan, free_port(), events, stop, args), nprocs=plan.world_size, join=False
        )
        done = False
        while not done:
            done = processes.join(timeout=0.2)
            result = _forward(events, sink, result)
        return _forward(events, sink, result)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _forward(events: Any, sink: EventSink, result: Any) -> Any:
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            return result
        sink.emit(event)
        if event.get("type") == "result":
            result = {"status": event["status"], **event["data"]}


def _spawned(rank: int, worker: Worker, plan: DevicePlan, port: int, events: Any, stop: Any, args: tuple) -> None:
    if plan.kind == "cpu":  # share the cores: oversubscribed OpenMP threads spin and slow every process down
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // plan.world_size))
    sink = QueueSink(events) if rank == 0 else NullSink()
    with process_group(plan, rank, port):
        worker(rank, plan, sink, stop, *args)
