"""The host allocator of a process evaluating on the CPU (a worker, ``lstui run``): keep
freed activations for reuse.

A CPU forward pass frees and re-allocates the same few activation sizes (megabytes each)
at every layer of every batch. glibc's ``malloc`` serves blocks above its mmap threshold
with fresh ``mmap`` pages and hands freed memory at the top of the heap back to the kernel
above its trim threshold, so those activations page-fault in again, zeroed by the kernel,
at every use: ResNet-56 on 512 CIFAR images took about 16,000 minor faults and 30-50 ms of
system time a point on a 2-core Xeon. With both thresholds raised the heap keeps the
memory: one fault and 1.5 ms of system time a point (``benchmarks/README.md``).

The cost is memory held after a free: up to ``KEEP_BYTES`` free at the top of the heap
(and whatever free blocks lie below it), within the process's own peak. Allocations bigger
than that (a whole dataset) still come from ``mmap`` and go back to the kernel when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

KEEP_BYTES = 256 * 2**20
"""Blocks up to this size come from the heap, and up to this much freed memory at its top
is kept (glibc's ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD``)."""

_M_TRIM_THRESHOLD = -1  # glibc's malloc.h
_M_MMAP_THRESHOLD = -3


def glibc() -> ctypes.CDLL | None:
    """This process's C library if it is glibc, else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError, TypeError):
        return None
    return libc


def keep_freed_memory(keep_bytes: int = KEEP_BYTES) -> bool:
    """Raise glibc's mmap and trim thresholds to ``keep_bytes`` for this process.

    Returns whether it took effect: False where the C library is not glibc (musl,
    macOS), which then allocates as it always does.
    """
    libc = glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, keep_bytes)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, keep_bytes))
    log.debug("freed memory kept up to %d MiB: %s", keep_bytes >> 20, ok)
    return ok
