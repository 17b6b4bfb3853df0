"""Where a canvas lives: a local folder or an fsspec URL, opened as a Zarr v3 store.

A location without a scheme (or with ``file://``) is a local folder, opened as
:class:`zarr.storage.LocalStore` (atomic file replace, hard-link snapshots,
a ``flock`` write lock).  Anything else (``s3://bucket/canvas``, ``gs://``,
``memory://``...) goes through :class:`zarr.storage.FsspecStore`; endpoint
and credentials come from ``storage_options`` or fsspec's usual environment
and configuration (e.g. ``AWS_ENDPOINT_URL``, ``FSSPEC_S3_ENDPOINT_URL``).
``IMKERUTILS_OBJECT_STORE=obstore`` opens ``s3://`` through obstore instead
(:mod:`imkerutils.tiling.objstore`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zarr.storage import FsspecStore, LocalStore

from imkerutils.tiling.objstore import backend, obstore_store
from imkerutils.tiling.rawstore import RawStore

if TYPE_CHECKING:
    from zarr.abc.store import Store

__all__ = ["absolute", "dataset_name", "exists", "has_metadata", "is_remote", "local_path", "open_store", "remove"]
__all__ = [
    "SECRET_OPTIONS",
    "absolute",
    "dataset_name",
    "exists",
    "has_metadata",
    "is_remote",
    "local_path",
    "open_store",
    "public_storage_options",
    "remove",
]

# Credentials never travel in a task graph: workers take them from their own environment (the pyramid
# update on a cluster, the distributed growth).
SECRET_OPTIONS = frozenset(
    {
        "key",
        "secret",
        "token",
        "password",
        "session_token",
        "access_key",
        "secret_key",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
    }
)


def public_storage_options(options: dict[str, Any]) -> str:
    """``options`` without credentials, as canonical JSON (hashable, for the worker-side cache).

    >>> public_storage_options({"anon": False, "Secret": "x", "endpoint_url": "http://s3"})
    '{"anon": false, "endpoint_url": "http://s3"}'
    """
    return json.dumps({k: v for k, v in options.items() if k.lower() not in SECRET_OPTIONS}, sort_keys=True)


def is_remote(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is a URL of a non-local filesystem."""
    text = os.fspath(location)
    return "://" in text and not text.startswith("file://")


def local_path(location: str | os.PathLike[str]) -> Path:
    """Return the local path of a location (a path or a ``file://`` URL)."""
    text = os.fspath(location)
    return Path(text[len("file://") :] if text.startswith("file://") else text)


def open_store(
    location: str | os.PathLike[str], *, read_only: bool = False, storage_options: dict[str, Any] | None = None
) -> Store:
    """Return the Zarr store at ``location``."""
    if is_remote(location):
        if backend() == "obstore":
            return obstore_store(os.fspath(location), read_only=read_only, storage_options=storage_options)
        return FsspecStore.from_url(os.fspath(location), storage_options=storage_options, read_only=read_only)
    return LocalStore(local_path(location), read_only=read_only)


def absolute(location: str | os.PathLike[str]) -> str:
    """Return a local location as an absolute path (other processes may have another working directory)."""
    return os.fspath(location) if is_remote(location) else str(local_path(location).absolute())


def dataset_name(location: str | os.PathLike[str]) -> str:
    """Return the dataset name readers show: the canvas folder's name.

    >>> dataset_name("s3://bucket/trees/"), dataset_name("/data/forest")
    ('trees', 'forest')
    """
    text = os.fspath(location).rstrip("/")
    return text.rsplit("/", 1)[-1] or "canvas"


def exists(location: str | os.PathLike[str], store: Store) -> bool:
    """Whether anything is at ``location`` (on object storage: a root ``zarr.json``)."""
    if not is_remote(location):
        return local_path(location).exists()
    return RawStore(store).exists("zarr.json")


def has_metadata(location: str | os.PathLike[str], store: Store) -> bool:
    """Whether ``location`` holds a root ``zarr.json``."""
    if not is_remote(location):
        return (local_path(location) / "zarr.json").is_file()
    return RawStore(store).exists("zarr.json")


def remove(location: str | os.PathLike[str], store: Store) -> None:
    """Delete everything at ``location``."""
    if not is_remote(location):
        p = local_path(location)
        shutil.rmtree(p) if p.is_dir() else p.unlink()
        return
    from zarr.core.sync import sync

    sync(store.delete_dir(""))
