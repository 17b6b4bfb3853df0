"""Write an export under a temporary name; rename it into place only when it is complete.

An export interrupted at any point (an error, Ctrl-C, ``kill -9``, a full disk)
never leaves a file or folder under the final name that looks finished: the
data goes to ``.NAME.<random>.partial`` beside it, is flushed to disk, and is
renamed to ``NAME`` as the last step.  On an error the partial output is
removed (after ``kill -9`` it stays, under its unmistakable name).  The
renaming itself is :mod:`imkerutils.tiling.atomicfile`'s; this module adds what an
export needs on top: never clobbering an existing output unless asked, flushing
to disk, and one error naming the path for a failed write.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING

from imkerutils.errors import ExportExistsError, ExportWriteError, ImkerError
from imkerutils.tiling.atomicfile import partial_name, publish, remove, remove_stale_partials, sync_dir, sync_tree

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["atomic_output", "write_error"]

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


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
    >>> import shutil, tempfile
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
        sync_tree(tmp)
        try:
            publish(tmp, final, overwrite=overwrite, directory=directory)
        except FileExistsError:
            raise ExportExistsError(f"{final} appeared while the export ran; the export was discarded") from None
        sync_dir(final.parent)
    except BaseException as exc:
        remove(tmp)
        err = write_error(exc, final)
        if err is not None:
            raise err from exc
        raise
