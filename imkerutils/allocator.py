"""Let a long-running process give freed image buffers back to the system (glibc's allocator).

A growth step allocates hundreds of tile-sized NumPy buffers (1-4 MiB each) on many threads and frees
them all.  glibc's ``malloc`` serves a buffer that large with its own ``mmap``, returned on ``free``,
but after the first such free it raises that threshold (up to 32 MiB), so later buffers come from
per-thread heaps ("arenas", up to 8 per core) that it rarely shrinks.  Measured in the UI server on a
60000² canvas: resident memory stayed at ~800 MiB after three steps whose objects were all freed
(``tracemalloc``: 6 MiB live).  Fixing the threshold and capping the arenas kept it at ~95 MiB
(``benchmarks/bench_ui_memory.py``).  There is no library for this: it is two ``mallopt`` calls, made
through :mod:`ctypes` because Python does not expose them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MMAP_THRESHOLD", "fix_mmap_threshold", "return_freed_memory"]

MMAP_THRESHOLD = 128 * 1024  # bytes, glibc's default: buffers this large get their own mapping, returned on free
ARENA_MAX = 2  # per process, instead of 8 per core
_M_MMAP_THRESHOLD = -3  # glibc's <malloc.h> parameter numbers
_M_ARENA_MAX = -8


@functools.cache
def _mallopt() -> Callable[[int, int], int] | None:
    """Glibc's ``mallopt``, or ``None`` off Linux or on a C library without it (musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return cast("Callable[[int, int], int]", mallopt)


def _set(parameter: int, value: int) -> bool:
    """``mallopt(parameter, value)``; whether the allocator took it."""
    mallopt = _mallopt()
    return mallopt is not None and bool(mallopt(parameter, value))


def fix_mmap_threshold() -> bool:
    """Keep glibc's mmap threshold at its default instead of letting it grow; returns whether it was set.

    Setting it turns the adjustment off.  Measured on a 30000-px-wide PNG, libvips' decode peaked at 188
    to 316 MiB run to run with the adjustment and at 120 MiB every run without it, no slower
    (:mod:`imkerutils.tiling.decode` calls this before it starts libvips).
    """
    return _set(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def return_freed_memory() -> bool:
    """Make freed large buffers go back to the system at once (glibc on Linux; elsewhere nothing happens).

    Fixes the mmap threshold and caps the arenas at :data:`ARENA_MAX`.  Call it once at the start of a
    long-running process (the UI server), never at import.  Returns whether the allocator took both.
    """
    return fix_mmap_threshold() and _set(_M_ARENA_MAX, ARENA_MAX)
