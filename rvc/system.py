"""What the machine has: CPU, memory, disk (psutil), NVIDIA GPUs (nvidia-ml-py) and every accelerator torch can use
(`rvc.devices`: CUDA, Intel XPU, Apple MPS), as plain data."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field

import psutil

from rvc.devices import Accelerator, accelerators


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    memory_total_mb: int
    memory_used_mb: int
    utilization_percent: int
    temperature_c: int | None


@dataclass(frozen=True)
class SystemInfo:
    platform: str
    python: str
    cpu_count: int
    cpu_percent: float
    memory_total_mb: int
    memory_used_mb: int
    disk_total_mb: int
    disk_free_mb: int
    gpus: list[GpuInfo] = field(default_factory=list)
    accelerators: list[Accelerator] = field(default_factory=list)  # the devices a conversion or training can use

    def to_dict(self) -> dict:
        return asdict(self)


def list_gpus() -> list[GpuInfo]:
    """NVIDIA GPUs through NVML; an empty list where there is no driver (a CPU-only machine)."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # no NVIDIA driver or library: a CPU-only machine, not an error
        return []
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            try:
                temperature = pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)
            except pynvml.NVMLError:
                temperature = None
            name = pynvml.nvmlDeviceGetName(handle)
            gpus.append(
                GpuInfo(
                    index=index,
                    name=name.decode() if isinstance(name, bytes) else str(name),
                    memory_total_mb=memory.total // 2**20,
                    memory_used_mb=memory.used // 2**20,
                    utilization_percent=pynvml.nvmlDeviceGetUtilizationRates(handle).gpu,
                    temperature_c=temperature,
                )
            )
        return gpus
    finally:
        pynvml.nvmlShutdown()


def system_info(disk_path: str | os.PathLike = ".") -> SystemInfo:
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(os.fspath(disk_path))
    return SystemInfo(
        platform=platform.platform(),
        python=platform.python_version(),
        cpu_count=psutil.cpu_count() or 1,
        cpu_percent=psutil.cpu_percent(interval=None),
        memory_total_mb=memory.total // 2**20,
        memory_used_mb=(memory.total - memory.available) // 2**20,
        disk_total_mb=disk.total // 2**20,
        disk_free_mb=disk.free // 2**20,
        gpus=list_gpus(),
        accelerators=list(accelerators()),
    )
