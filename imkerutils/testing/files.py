"""Which files a process holds open (Linux ``/proc``): for tests that nothing is left open behind them."""

from __future__ import annotations

import os

__all__ = ["open_files_under"]


def open_files_under(folder: str | os.PathLike[str]) -> list[str]:
    """Return the targets of this process's open file descriptors that lie in ``folder`` (unnamed files too).

    An unnamed temporary file (``O_TMPFILE``) shows as ``<folder>/#<inode> (deleted)``, so it counts.
    """
    prefix = str(folder)
    links = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # closed since the listing
            continue
    return [link for link in links if link.startswith(prefix)]
