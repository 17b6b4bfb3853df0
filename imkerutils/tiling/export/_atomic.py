"""Write an output under a temporary name; rename it into place only when it is complete.

An export interrupted at any point (an error, Ctrl-C, ``kill -9``, a full disk)
never leaves a file or folder under the final name that looks finished: the
data goes to ``.NAME.<random>.partial`` beside it, is flushed to disk, and is
renamed to ``NAME`` as the last step.  On an error the partial output is
removed (after ``kill -9`` it stays, under its unmistakable name).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from imkerutils.errors import ExportExistsError, ExportWriteError, ImkerError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["atomic_output", "partial_name", "write_error"]

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
PARTIAL_SUFFIX = ".partial"


def partial_name(final: Path) -> Path:
    """Return a fresh temporary name beside ``final`` (hidden, ending in ``.partial``).

    Its token starts with the writing process's id (8 hex digits), so a later export to the same name can
    tell a killed writer's leftover from a running one's (:func:`remove_stale_partials`).
    """
    return final.with_name(f".{final.name}.{os.getpid() & 0xFFFFFFFF:08x}{uuid.uuid4().hex[:8]}{PARTIAL_SUFFIX}")


def remove_stale_partials(final: Path) -> None:
    """Delete temporary outputs for ``final`` that processes no longer running left (a killed export's)."""
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
            _remove(p)
        except (PermissionError, OverflowError):
            continue  # another user's process, or no such pid form: leave it


def write_error(exc: BaseException, final: Path | str) -> ExportWriteError | None:
    """Our error for an ``OSError`` that is ``exc`` or its explicit cause (``raise ... from``), else ``None``.

    An implicit ``__context__`` is not followed: an error raised while handling an ``OSError`` (a
    ``KeyError`` for a missing Zarr node, say) is not a failure to write.
    """
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, OSError):
        seen = seen.__cause__
    if seen is None or isinstance(seen, ImkerError):  # ours already say what went wrong (a locked canvas, ...)
        return None
    if seen.errno in _FULL:
        why = "the disk is full (or a file-size limit was reached)"
    elif seen.errno == errno.EEXIST and seen.filename is not None and os.path.isfile(seen.filename):
        why = os.strerror(errno.ENOTDIR)  # mkdir(exist_ok=True) met a file where a folder must be
    elif seen.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "permission denied"
    else:
        why = seen.strerror or str(seen)
    err = ExportWriteError(f"could not write {final}: {why}; nothing was left under that name")
    err.errno = seen.errno
    return err


@contextlib.contextmanager
def atomic_output(final: str | os.PathLike[str], *, overwrite: bool = False, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; publish it as ``final`` when the block succeeds.

    Parameters
    ----------
    final
        Where the output must end up.  Missing parent folders are created.
    overwrite
        Replace an existing ``final`` (else :class:`ExportExistsError`, checked
        before any work and again at the rename).
    directory
        The output is a folder (OME-Zarr) rather than a file.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> with atomic_output(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> sorted(p.name for p in d.iterdir()), (d / "a.txt").read_text()
    (['a.txt'], 'done')
    >>> shutil.rmtree(d)
    """
    final = Path(final)
    if (final.exists() or final.is_symlink()) and not overwrite:
        raise ExportExistsError(f"{final} already exists (pass overwrite=True, or --overwrite, to replace it)")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, final) or exc from None
    remove_stale_partials(final)
    tmp = partial_name(final)
    try:
        yield tmp
        _sync(tmp)
        _publish(tmp, final, overwrite=overwrite, directory=directory)
        _sync_dir(final.parent)
    except BaseException as exc:
        _remove(tmp)
        err = write_error(exc, final)
        if err is not None:
            raise err from exc
        raise


def _publish(tmp: Path, final: Path, *, overwrite: bool, directory: bool) -> None:
    if not directory:
        if overwrite:
            os.replace(tmp, final)
            return
        try:
            os.link(tmp, final)  # fails if ``final`` appeared meanwhile: never clobber
        except FileExistsError:
            raise ExportExistsError(f"{final} appeared while the export ran; the export was discarded") from None
        except OSError:  # a file system without hard links
            if final.exists():
                raise ExportExistsError(f"{final} appeared while the export ran; the export was discarded") from None
            os.replace(tmp, final)
            return
        tmp.unlink()
        return
    old: Path | None = None
    if final.exists() or final.is_symlink():
        if not overwrite:
            raise ExportExistsError(f"{final} appeared while the export ran; the export was discarded")
        old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}.old")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        _remove(old)


def _sync(path: Path) -> None:
    """Flush a file, or every file and folder under ``path``, to disk."""
    if path.is_dir():
        files, dirs = [], []
        for root, _dirs, names in os.walk(path):
            files += [Path(root) / name for name in names]
            dirs.append(Path(root))
        with ThreadPoolExecutor(8) as pool:  # fsync waits on the disk, not the CPU
            list(pool.map(_fsync, files))
        for d in reversed(dirs):
            _sync_dir(d)
    elif path.exists():
        _fsync(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a folder
        _fsync(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
