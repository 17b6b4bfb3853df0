"""Outputs at fsspec URLs (``s3://bucket/out.tif``): written locally in full, then uploaded.

Object stores have no rename, so an export to a URL is written to a private
temporary folder first (by the same writers as a local export) and uploaded
only once it is complete: a file with one ``put`` (a single PUT, or a
multipart upload that fsspec aborts if it fails), a folder (OME-Zarr) file by
file with its root ``zarr.json`` last, so no reader opens a half-uploaded
group.  An export or upload that fails leaves nothing under the URL and
nothing in the temporary folder.  Endpoint and credentials come from
``storage_options`` or fsspec's usual environment and configuration (e.g.
``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from imkerutils.errors import ExportExistsError, ExportWriteError, ImkerError
from imkerutils.tiling.export._atomic import write_error

if TYPE_CHECKING:
    from collections.abc import Iterator

    from imkerutils.tiling.export._source import CanvasSource

__all__ = ["output_size", "remote_output", "storage_options_for"]


def storage_options_for(url: str, canvas: CanvasSource, storage_options: dict[str, Any] | None) -> dict[str, Any]:
    """``storage_options`` if given, else the canvas's own when it lives on the same kind of store as ``url``."""
    from fsspec.utils import get_protocol

    if storage_options is not None:
        return dict(storage_options)
    location = canvas.location
    if "://" in location and get_protocol(location) == get_protocol(url):
        return dict(canvas.storage_options)
    return {}


def _fs(url: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    from fsspec.core import url_to_fs

    try:
        fs, path = url_to_fs(url, **storage_options)
        return fs, str(path)
    except (ImportError, ValueError) as exc:  # an unknown protocol, or its package not installed
        raise ExportWriteError(f"cannot write {url}: {exc}") from None


def _check_target(fs: Any, path: str, url: str, overwrite: bool) -> None:
    """Refuse an existing output (unless ``overwrite``) or a bucket that is not there, before any work."""
    try:
        if fs.exists(path) and not overwrite:
            raise ExportExistsError(f"{url} already exists (pass overwrite=True, or --overwrite, to replace it)")
        bucket = path.split("/", 1)[0]
        if fs.root_marker == "" and "/" in path and not fs.exists(bucket):  # an object store's bucket
            raise ExportWriteError(f"cannot write {url}: bucket {bucket!r} does not exist; nothing was written")
    except ImkerError:
        raise
    except OSError as exc:  # no credentials, no permission, the endpoint unreachable
        raise ExportWriteError(f"cannot write {url}: {exc}; nothing was written") from None


@contextlib.contextmanager
def remote_output(
    url: str, *, overwrite: bool = False, directory: bool = False, storage_options: dict[str, Any] | None = None
) -> Iterator[Path]:
    """Yield a local temporary path; upload it to ``url`` when the block succeeds.

    Parameters
    ----------
    url
        Where the output must end up (any fsspec URL).
    overwrite
        Replace an existing output (else :class:`ExportExistsError`, checked
        before any work and again before the upload).
    directory
        The output is a folder (OME-Zarr) rather than a file.
    storage_options
        fsspec options for ``url`` (endpoint, credentials, ...).

    Examples
    --------
    >>> import fsspec
    >>> with remote_output("memory://doctest/a.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> fsspec.filesystem("memory").cat("memory://doctest/a.txt")
    b'done'
    >>> fsspec.filesystem("memory").rm("memory://doctest", recursive=True)
    """
    fs, path = _fs(url, dict(storage_options or {}))
    _check_target(fs, path, url, overwrite)
    staging = Path(tempfile.mkdtemp(prefix="imkerutils-export-"))
    tmp = staging / PurePosixPath(path).name  # the same name: writers may look at the extension
    try:
        yield tmp
        if fs.exists(path) and not overwrite:
            raise ExportExistsError(f"{url} appeared while the export ran; the export was discarded")
        _upload(fs, tmp, path, directory)
    except BaseException as exc:
        err = write_error(exc, url)
        if err is not None:
            raise err from exc
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _upload(fs: Any, tmp: Path, path: str, directory: bool) -> None:
    if not directory:
        fs.put_file(str(tmp), path)  # one PUT, or a multipart upload fsspec aborts on failure
        return
    files = sorted(p for p in tmp.rglob("*") if p.is_file())
    remote = [f"{path}/{p.relative_to(tmp).as_posix()}" for p in files]
    root = f"{path}/zarr.json"
    old = set(fs.find(path)) if fs.exists(path) else set()
    try:
        if root in old or f"{fs.root_marker}{root}" in old:
            fs.rm_file(root)  # no reader opens the old group while its files are replaced
        body = [(str(p), r) for p, r in zip(files, remote, strict=True) if r != root]
        if body:
            fs.put([p for p, _ in body], [r for _, r in body])
        if root in remote:
            fs.put_file(str(tmp / "zarr.json"), root)  # the group appears with its last file
    except BaseException:
        with contextlib.suppress(Exception):
            fs.rm(path, recursive=True)
        raise
    stale = old - {fs._strip_protocol(r) for r in remote}
    if stale:
        fs.rm(sorted(stale))
    fs.invalidate_cache(path)


def output_size(out: str, storage_options: dict[str, Any] | None = None) -> int:
    """Bytes of the (file or folder) output at URL ``out``."""
    fs, path = _fs(out, dict(storage_options or {}))
    fs.invalidate_cache(path)
    return int(fs.du(path, total=True))
