"""Temporary name, then rename: the one way this package replaces a file or folder atomically.

Readers of ``NAME`` see the old content or the new, never a half-written one:
the new content goes to ``.NAME.<token>.partial`` beside it (same folder, so the
rename stays on one file system) and is renamed over ``NAME`` as the last step.
A killed writer leaves only its temporary name, which :func:`remove_stale_partials`
and the canvas's own recovery recognise by its ``.partial`` ending.

Users: chunk and journal writes (:mod:`~imkerutils.tiling.rawstore`), image
files (:func:`~imkerutils.tiling.imageio.write_image`), imports
(:mod:`~imkerutils.tiling.importer`) and exports
(:mod:`~imkerutils.tiling.export._atomic`, which adds the no-clobber rule and
its own errors on top).

>>> import tempfile
>>> target = Path(tempfile.mkdtemp()) / "a.txt"
>>> with replacing(target) as tmp:
...     n = tmp.write_text("new")
...     print(target.exists(), tmp.name.startswith(".a.txt.") and tmp.name.endswith(".partial"))
False True
>>> target.read_text(), [p.name for p in target.parent.iterdir()]
('new', ['a.txt'])
>>> remove(target.parent)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "PARTIAL_SUFFIX",
    "partial_name",
    "publish",
    "remove",
    "remove_stale_partials",
    "replacing",
    "sync_dir",
    "sync_tree",
]

PARTIAL_SUFFIX = ".partial"


def partial_name(final: Path, suffix: str = PARTIAL_SUFFIX) -> Path:
    """Return a fresh temporary name beside ``final`` (hidden, ending in ``suffix``).

    Its token starts with the writing process's id (8 hex digits), so a later writer of the same name can
    tell a killed writer's leftover from a running one's (:func:`remove_stale_partials`).
    """
    return final.with_name(f".{final.name}.{os.getpid() & 0xFFFFFFFF:08x}{uuid.uuid4().hex[:8]}{suffix}")


def remove_stale_partials(final: Path) -> None:
    """Delete temporary outputs for ``final`` that processes no longer running left (a killed writer's)."""
    prefix = f".{final.name}."
    try:
        siblings = list(final.parent.iterdir())
    except OSError:
        return
    for p in siblings:
        token = (
            p.name[len(prefix) : -len(PARTIAL_SUFFIX)]
            if p.name.startswith(prefix) and p.name.endswith(PARTIAL_SUFFIX)
            else ""
        )
        if len(token) != 16 or not all(c in "0123456789abcdef" for c in token):
            continue
        try:
            os.kill(int(token[:8], 16), 0)
            continue  # its writer still runs
        except ProcessLookupError:
            remove(p)
        except (PermissionError, OverflowError):
            continue  # another user's process, or no such pid form: leave it


@contextlib.contextmanager
def replacing(final: Path, *, directory: bool = False, suffix: str = PARTIAL_SUFFIX) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it over ``final`` when the block succeeds.

    Whatever is left under the temporary name afterwards (the block failed, or
    ``os.replace`` found both names on one inode) is removed.  The caller makes
    the parent folder.  No ``fsync``: callers that must survive a power cut call
    :func:`sync_tree` on the temporary path inside the block.
    """
    tmp = partial_name(final, suffix)
    try:
        yield tmp
        publish(tmp, final, overwrite=True, directory=directory)
    finally:
        remove(tmp)


def publish(tmp: Path, final: Path, *, overwrite: bool, directory: bool) -> None:
    """Rename ``tmp`` to ``final``.

    Without ``overwrite`` an existing ``final`` is never replaced (:class:`FileExistsError`, also when it
    appears during the call: files are hard-linked, which fails on an existing name).  A folder cannot be
    renamed over a non-empty one, so an old ``final`` folder is moved aside first and removed afterwards.
    """
    if not directory:
        if overwrite:
            os.replace(tmp, final)
            return
        try:
            os.link(tmp, final)  # fails if ``final`` appeared meanwhile: never clobber
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links
            if final.exists():
                raise FileExistsError(final) from None
            os.replace(tmp, final)
            return
        tmp.unlink()
        return
    old: Path | None = None
    if final.exists() or final.is_symlink():
        if not overwrite:
            raise FileExistsError(final)
        old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}.old")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        remove(old)


def sync_tree(path: Path) -> None:
    """Flush a file, or every file and folder under ``path``, to disk."""
    if path.is_dir():
        files, dirs = [], []
        for root, _dirs, names in os.walk(path):
            files += [Path(root) / name for name in names]
            dirs.append(Path(root))
        with ThreadPoolExecutor(8) as pool:  # fsync waits on the disk, not the CPU
            list(pool.map(_fsync, files))
        for d in reversed(dirs):
            sync_dir(d)
    elif path.exists():
        _fsync(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk, where the platform can open a folder."""
    with contextlib.suppress(OSError):
        _fsync(path)


def remove(path: Path) -> None:
    """Delete a file, a symlink or a whole folder; nothing if it does not exist.

    One ``unlink`` call in the common cases (a file, or nothing there), which matters on the chunk-write path.
    """
    try:
        path.unlink()
    except FileNotFoundError:
        return
    except (IsADirectoryError, PermissionError):  # a folder (macOS says EPERM), or a file we may not remove
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
