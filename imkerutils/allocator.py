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
import sys

__all__ = ["MMAP_THRESHOLD", "return_freed_memory"]

MMAP_THRESHOLD = 256 * 1024  # bytes: buffers at least this large get their own mapping, returned on free
ARENA_MAX = 2  # per process, instead of 8 per core
_M_MMAP_THRESHOLD = -3  # glibc's <malloc.h> parameter numbers
_M_ARENA_MAX = -8


def return_freed_memory() -> bool:
    """Make freed large buffers go back to the system at once (glibc on Linux; elsewhere nothing happens).

    Call it once at the start of a long-running process (the UI server), never at import.  Returns
    whether the allocator took the settings.
    """
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_ARENA_MAX, ARENA_MAX))
