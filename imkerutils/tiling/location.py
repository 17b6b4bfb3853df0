"""Where a canvas lives: a local folder or an fsspec URL, opened as a Zarr v3 store.

A location without a scheme (or with ``file://``) is a local folder, opened as
:class:`zarr.storage.LocalStore` (atomic file replace, hard-link snapshots,
a ``flock`` write lock).  Anything else (``s3://bucket/canvas``, ``gs://``,
``memory://``...) goes through :class:`zarr.storage.FsspecStore`; endpoint
and credentials come from ``storage_options`` or fsspec's usual environment
and configuration (e.g. ``AWS_ENDPOINT_URL``, ``FSSPEC_S3_ENDPOINT_URL``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from zarr.abc.store import Store
from zarr.storage import FsspecStore, LocalStore

__all__ = ["is_remote", "local_path", "open_store"]


def is_remote(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is a URL of a non-local filesystem."""
    text = os.fspath(location)
    return "://" in text and not text.startswith("file://")


def local_path(location: str | os.PathLike[str]) -> Path:
    text = os.fspath(location)
    return Path(text[len("file://") :] if text.startswith("file://") else text)


def open_store(
    location: str | os.PathLike[str], *, read_only: bool = False, storage_options: dict[str, Any] | None = None
) -> Store:
    """The Zarr store at ``location``."""
    if is_remote(location):
        return FsspecStore.from_url(os.fspath(location), storage_options=storage_options, read_only=read_only)
    return LocalStore(local_path(location), read_only=read_only)
