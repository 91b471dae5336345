"""Devices: what the daemon may run workers on, and live facts about GPUs (NVML).

``CUDA_DEVICE_ORDER=PCI_BUS_ID`` is set (by importing :mod:`lstui`) so that CUDA's
indices match NVML's.
``CUDA_VISIBLE_DEVICES`` is honoured: index ``n`` below is the n-th visible device.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from lstui.errors import BadInput


@dataclass(frozen=True)
class DeviceFacts:
    """One device as shown to a person: a GPU (NVML facts when available) or the CPU."""

    key: str  # "cuda:0" or "cpu"
    name: str
    utilisation: float | None = None  # percent
    memory_used: int | None = None  # bytes
    memory_total: int | None = None
    temperature: float | None = None  # °C
    other_memory: int | None = None  # bytes used by processes that are not ours


RAY_DEVICES = ("ray", "ray-cpu")
"""Devices of a Ray cluster: a worker whose points one GPU (``ray``) or one CPU core
(``ray-cpu``) of the cluster computes, wherever Ray places it."""


def parse_devices(text: str | None) -> list[str]:
    """``None`` or ``auto`` → every visible GPU, or one CPU worker; ``0,2`` → GPUs; ``cpu:N`` → N CPU
    workers; ``ray:N`` / ``ray-cpu:N`` → N workers on GPUs / CPU cores of a Ray cluster."""
    if text is not None and not text.strip():
        # `--devices "$GPUS"` with GPUS unset: every GPU of a shared server was taken
        raise BadInput("--devices '' is empty: give GPU indices such as 0,2, cpu:N, ray:N or ray-cpu:N, "
                       "or leave it out (or auto) for every GPU")
    if text is None or text.strip().lower() == "auto":
        count = cuda_count()
        return [f"cuda:{n}" for n in range(count)] if count else ["cpu"]
    text = text.strip()
    for kind in ("cpu", *RAY_DEVICES):
        if text.lower() == kind or text.lower().startswith(f"{kind}:"):
            n_text = text[len(kind) + 1:].strip() or "1"
            if "," in n_text:  # `ray:1,cpu:1`: "expected ray:N" did not say what was wrong
                parts = [p.strip().lower() for p in text.split(",") if p.strip()]
                if len(parts) > 1 and all(p == kind or p.startswith(f"{kind}:") for p in parts):
                    raise BadInput(f"--devices {text!r}: {kind}:N is N workers ({kind}:2 for two): name it once")
                if len(parts) > 1:
                    raise _mixed(text)
            if not n_text.isdigit() or not 1 <= int(n_text) <= 256:
                raise BadInput(
                    f"--devices {text!r}: expected {kind}:N with N a whole number from 1 to 256"
                )
            return [kind] * int(n_text)
    named = [p.strip().lower() for p in text.split(",")]
    if any(p == kind or p.startswith(f"{kind}:") for p in named for kind in ("cpu", *RAY_DEVICES)):
        raise _mixed(text)  # (`0,cpu:2`: said "no GPU is visible here" on a CPU machine)
    out: list[str] = []
    count = cuda_count()
    for part in text.split(","):
        part = part.strip().removeprefix("cuda:")
        if not part.isdigit():
            raise BadInput(f"--devices {text!r}: expected GPU indices such as 0,2, cpu:N, ray:N or ray-cpu:N")
        if int(part) >= count:
            if count == 0:
                raise BadInput(f"--devices {text!r}: no GPU is visible here (CUDA finds none); "
                               "use cpu:N for N workers on the CPU")
            raise BadInput(f"--devices {text!r}: GPU {part} is not visible here ({count} visible: 0–{count - 1})")
        out.append(f"cuda:{int(part)}")
    if len(set(out)) != len(out):
        raise BadInput(f"--devices {text!r} names a GPU twice")
    return out


def _mixed(text: str) -> BadInput:
    return BadInput(f"--devices {text!r}: one kind of device at a time (GPU indices, cpu:N, ray:N or "
                    "ray-cpu:N); a daemon does not mix them")


def crowded_cpu_note(devices: list[str]) -> str | None:
    """A note for more CPU workers than this process may use cores (``cpu:100`` on 2): they
    share the cores, each with its own torch (about 600 MB); None when they fit."""
    workers = devices.count("cpu")
    cores = usable_cpus()
    if workers <= cores:
        return None
    return (f"note: cpu:{workers} starts {workers} workers on {cores} core{'s' if cores > 1 else ''}: they "
            "share those cores, each holding its own torch (about 600 MB of memory)")


def cuda_count() -> int:
    """Number of visible CUDA devices, without initialising CUDA in this process when possible."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return 0
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return 0
    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


_NVML: list[Any] = []  # the initialised pynvml module, or None; filled by the first call


def _nvml():  # type: ignore[no-untyped-def]
    """pynvml, initialised once per process (None without NVML or a driver)."""
    if not _NVML:
        try:
            import pynvml

            pynvml.nvmlInit()
            _NVML.append(pynvml)
        except Exception:
            _NVML.append(None)
    return _NVML[0]


def _visible_nvml_indices(nvml: Any, count: int) -> list[int]:
    """NVML's index of each CUDA-visible GPU, in CUDA's order.

    ``CUDA_VISIBLE_DEVICES`` may hold indices or UUIDs (``GPU-…``, as Slurm and
    Kubernetes set it); parsing stops at the first entry that names no GPU, as CUDA's does.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return list(range(count))
    out = []
    for part in visible.split(","):
        part = part.strip()
        if part.isdigit():
            index = int(part)
        elif part.startswith("GPU-"):
            try:
                handle = nvml.nvmlDeviceGetHandleByUUID(part)
                index = int(nvml.nvmlDeviceGetIndex(handle))
            except Exception:
                break
        else:
            break
        if not 0 <= index < count:
            break
        out.append(index)
    return out


def gpu_facts(own_pids: frozenset[int] = frozenset()) -> list[DeviceFacts]:
    """Facts about each visible GPU through NVML; an empty list without NVML or GPUs."""
    nvml = _nvml()
    if nvml is None:
        return []
    facts: list[DeviceFacts] = []
    try:
        total = nvml.nvmlDeviceGetCount()
        for cuda_index, nvml_index in enumerate(_visible_nvml_indices(nvml, total)):
            h = nvml.nvmlDeviceGetHandleByIndex(nvml_index)
            name = nvml.nvmlDeviceGetName(h)
            name = name.decode() if isinstance(name, bytes) else str(name)
            mem = nvml.nvmlDeviceGetMemoryInfo(h)
            try:
                util = float(nvml.nvmlDeviceGetUtilizationRates(h).gpu)
            except Exception:
                util = None
            try:
                temp = float(nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU))
            except Exception:
                temp = None
            other = 0
            try:
                for proc in nvml.nvmlDeviceGetComputeRunningProcesses(h):
                    if proc.pid not in own_pids and proc.usedGpuMemory:
                        other += int(proc.usedGpuMemory)
            except Exception:
                other = 0
            facts.append(
                DeviceFacts(
                    f"cuda:{cuda_index}", name, util, int(mem.used), int(mem.total), temp, other
                )
            )
    except Exception:
        return facts
    return facts


def busy_by_others(facts: DeviceFacts, max_share: float) -> bool:
    """True if processes other than ours hold more than ``max_share`` of the GPU's memory."""
    if facts.memory_total is None or facts.other_memory is None or facts.memory_total == 0:
        return False
    return facts.other_memory / facts.memory_total > max_share


def usable_cpus() -> int:
    """The cores this process may run on (its affinity: ``taskset``, a cgroup's cpuset),
    not every core of the machine."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on this platform
        return max(1, os.cpu_count() or 1)


def cpu_facts() -> DeviceFacts:
    """The CPU as a device: load average as utilisation, memory from /proc/meminfo."""
    util: float | None = None
    try:
        util = min(100.0, 100.0 * os.getloadavg()[0] / max(os.cpu_count() or 1, 1))
    except OSError:
        pass
    total = used = None
    try:
        info = {}
        with open("/proc/meminfo") as f:
            for line in f:
                key, _, rest = line.partition(":")
                info[key] = int(rest.split()[0]) * 1024
        total = info.get("MemTotal")
        if total is not None and "MemAvailable" in info:
            used = total - info["MemAvailable"]
    except OSError:
        pass
    return DeviceFacts("cpu", f"CPU ({cpu_cores_text()})", util, used, total, None)


def cpu_cores_text() -> str:
    """``16 cores``, or ``4 of 16 cores`` when this process may use only some of them."""
    machine = max(1, os.cpu_count() or 1)
    usable = usable_cpus()
    cores = "core" if machine == 1 else "cores"
    return f"{machine} {cores}" if usable >= machine else f"{usable} of {machine} {cores}"
