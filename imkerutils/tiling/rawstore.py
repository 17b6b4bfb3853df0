"""Byte-level access to the keys of a Zarr store: chunks, journal and manifest.

Zarr's public API reads and writes decoded arrays; the step journal needs the
*encoded* bytes of a chunk (to restore it exactly, whatever the codec) and a
few small files of its own beside the arrays.  Zarr 3 stores are async, so
this module is the one place that drives them synchronously, on zarr's own
event loop (``zarr.core.sync.sync``), which is what ``zarr.Array`` does too.

On a :class:`zarr.storage.LocalStore`, zarr replaces a chunk file by writing a
temporary file and renaming it, so an old chunk's inode is never modified in
place; a snapshot can then be a hard link (O(1), no copy).  Other stores copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import LocalStore

from imkerutils.tiling.atomicfile import replacing

if TYPE_CHECKING:
    from collections.abc import Iterable

    from zarr.abc.store import Store

__all__ = ["RawStore"]


class RawStore:
    """Synchronous get / put / delete / copy of raw bytes under string keys."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._root: Path | None = Path(store.root) if isinstance(store, LocalStore) else None

    @property
    def local_root(self) -> Path | None:
        """The directory behind a local store, else ``None``."""
        return self._root

    # -- reads -------------------------------------------------------------
    def get(self, key: str) -> bytes | None:
        """Return the bytes under ``key``, or ``None`` if there are none."""
        if self._root is not None:
            try:
                return (self._root / key).read_bytes()
            except (FileNotFoundError, NotADirectoryError):
                return None
        buf = sync(self.store.get(key, prototype=default_buffer_prototype()))
        return None if buf is None else buf.to_bytes()

    def get_many(self, keys: Iterable[str]) -> list[bytes | None]:
        """Return the bytes under each of ``keys`` (``None`` where missing), fetched concurrently."""
        keys = list(keys)
        if self._root is not None:
            return [self.get(k) for k in keys]

        async def _all() -> list[bytes | None]:
            proto = default_buffer_prototype()
            bufs = await asyncio.gather(*(self.store.get(k, prototype=proto) for k in keys))
            return [None if b is None else b.to_bytes() for b in bufs]

        return sync(_all())

    def exists(self, key: str) -> bool:
        """Return whether ``key`` exists."""
        if self._root is not None:
            return (self._root / key).is_file()
        return bool(sync(self.store.exists(key)))

    def list_prefix(self, prefix: str, *, partials: bool = False) -> list[str]:
        """Every key below ``prefix`` (a folder-like prefix ending in ``/``).

        Temporary ``*.partial`` files (of an atomic write a killed writer left) are not keys, unless
        ``partials`` (``verify`` reports them).
        """
        if self._root is not None:
            base = self._root / prefix
            if not base.is_dir():
                return []
            out: list[str] = []
            for dirpath, _dirs, files in os.walk(base):
                rel = Path(dirpath).relative_to(self._root).as_posix()
                out.extend(f if rel == "." else f"{rel}/{f}" for f in files if partials or not f.endswith(".partial"))
            return sorted(out)

        async def _list() -> list[str]:
            return [k async for k in self.store.list_prefix(prefix) if partials or not k.endswith(".partial")]

        return sorted(sync(_list()))

    def total_size(self) -> int:
        """Bytes of every key in the store (object storage: one listing)."""
        if self._root is not None:
            return sum(f.stat().st_size for f in self._root.rglob("*") if f.is_file())

        async def _sizes() -> int:
            keys = [k async for k in self.store.list_prefix("")]
            sizes = await asyncio.gather(*(self.store.getsize(k) for k in keys))
            return int(sum(sizes))

        return int(sync(_sizes()))

    def list_dir(self, prefix: str) -> list[str]:
        """Return the names directly below the folder-like ``prefix`` (ending in ``/``)."""
        if self._root is not None:
            try:
                return sorted(os.listdir(self._root / prefix))
            except (FileNotFoundError, NotADirectoryError):
                return []

        async def _list() -> list[str]:
            return [k.rstrip("/") async for k in self.store.list_dir(prefix.rstrip("/"))]

        return sorted(sync(_list()))

    # -- writes ------------------------------------------------------------
    def remove_partials(self) -> int:
        """Delete the ``*.partial`` temporary files killed writers left (ours and zarr's); returns how many.

        Object stores have none (a PUT is atomic).  Walks the whole folder: call it only on recovery.
        """
        if self._root is None:
            return 0
        count = 0
        for dirpath, _dirs, files in os.walk(self._root):
            for name in files:
                if name.endswith(".partial"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(dirpath, name))
                        count += 1
        return count

    def put(self, key: str, data: bytes) -> None:
        """Write ``data`` under ``key`` atomically (readers see old or new bytes)."""
        if self._root is not None:
            path = self._root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            with replacing(path) as tmp:
                tmp.write_bytes(data)
            return
        sync(self.store.set(key, default_buffer_prototype().buffer.from_bytes(data)))

    def put_fresh(self, key: str, data: bytes) -> None:
        """Write ``data`` under a key no reader looks at yet and no snapshot links to (no temp name needed)."""
        if self._root is None:
            self.put(key, data)
            return
        path = self._root / key
        try:
            path.write_bytes(data)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def delete(self, key: str) -> None:
        """Delete ``key`` (nothing if it is missing)."""
        if self._root is not None:
            with contextlib.suppress(FileNotFoundError):
                (self._root / key).unlink()
            return
        sync(self.store.delete(key))

    def delete_prefix(self, prefix: str) -> None:
        """Delete every key under ``prefix``."""
        if self._root is not None:
            import shutil

            shutil.rmtree(self._root / prefix, ignore_errors=True)
            return
        sync(self.store.delete_dir(prefix.rstrip("/")))

    def snapshot(self, src: str, dst: str) -> bool:
        """Like :meth:`copy`, for a ``dst`` nobody reads yet (a fresh journal entry): no temp name needed.

        On a local store this is one hard link, or nothing when ``src`` is absent.
        """
        if self._root is None:  # nothing to delete at a fresh destination: one GET, and one PUT if present
            data = self.get(src)
            if data is None:
                return False
            self.put(dst, data)
            return True
        s, d = self._root / src, self._root / dst
        d.unlink(missing_ok=True)
        try:
            os.link(s, d)
        except FileNotFoundError:
            if not s.exists():
                return False
            d.parent.mkdir(parents=True, exist_ok=True)
            os.link(s, d)
        return True

    def copy(self, src: str, dst: str) -> bool:
        """Make ``dst`` hold ``src``'s bytes; delete ``dst`` when ``src`` is absent.

        Returns whether ``src`` existed.  Atomic for readers of ``dst``.
        """
        if self._root is not None:
            s, d = self._root / src, self._root / dst
            d.parent.mkdir(parents=True, exist_ok=True)
            try:
                with replacing(d) as tmp:  # it removes tmp also when d already named the same file
                    os.link(s, tmp)
            except FileNotFoundError:
                if s.exists():
                    raise
                self.delete(dst)
                return False
            return True
        data = self.get(src)
        if data is None:
            self.delete(dst)
            return False
        self.put(dst, data)
        return True
