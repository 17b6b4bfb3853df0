"""A read-only view of a canvas store as its last committed state, while a step is pending.

A writer killed mid-step leaves chunks half written until a writer opens the
canvas and rolls the step back; a writer at work leaves them so until it
commits.  A reader must not see either.  It cannot repair the canvas (it may
not write), but it does not need to: the journal entry of the pending step
holds, for every key the step may change, the bytes that key has in the
committed state (see :meth:`Journal.committed_sources`).  This store serves
those keys from there and every other key from the store itself.

If the pending step's entry disappears while the view is in use, the step was
rolled back: the journal deletes an entry's ``meta.json`` first, and only
after every key has its committed bytes back, so a missing ``meta.json`` means
the keys themselves are right again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import override

from imkerutils.tiling.readonly import ReadOnlyWrapper

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from zarr.abc.store import ByteRequest, Store
    from zarr.core.buffer import Buffer, BufferPrototype

__all__ = ["CommittedView"]


class CommittedView(ReadOnlyWrapper):
    """``store`` with each key of ``sources`` read from its snapshot key (absent snapshot: absent key).

    ``entry_key`` names the pending step's ``meta.json``.  Writes are refused.
    """

    refusal = "a committed view is read-only ({action} {key!r})"

    def __init__(self, store: Store, sources: Mapping[str, str] | None = None, entry_key: str = "") -> None:
        super().__init__(store)
        self.sources = dict(sources or {})
        self.entry_key = entry_key

    def _with_store(self, store: Store) -> CommittedView:
        return type(self)(store, self.sources, self.entry_key)

    @override
    async def get(self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None) -> Buffer | None:
        src = self.sources.get(key)
        if src is None:
            return await self._store.get(key, prototype, byte_range)
        buf = await self._store.get(src, prototype, byte_range)
        if buf is not None or await self._store.exists(self.entry_key):
            return buf  # absent snapshot, entry still there: the key is absent in the committed state
        return await self._store.get(key, prototype, byte_range)  # rolled back since: the key is right again

    @override
    async def exists(self, key: str) -> bool:
        if key not in self.sources:
            return await self._store.exists(key)
        if await self._store.exists(self.sources[key]):
            return True
        return not await self._store.exists(self.entry_key) and await self._store.exists(key)

    @override
    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        async for key in self._store.list_prefix(prefix):
            if key not in self.sources:
                yield key
        for key in sorted(k for k in self.sources if k.startswith(prefix)):
            if await self.exists(key):
                yield key
