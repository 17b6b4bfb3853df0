"""A wrapper store that serves reads and refuses every write (the base of the committed and legacy views).

>>> from zarr.storage import MemoryStore
>>> class View(ReadOnlyWrapper):
...     refusal = "a view is read-only ({action} {key!r})"
>>> View(MemoryStore()).read_only
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from typing_extensions import override
from zarr.abc.store import ByteRequest, Store
from zarr.storage import WrapperStore

if TYPE_CHECKING:
    from collections.abc import Iterable

    from zarr.core.buffer import Buffer, BufferPrototype

__all__ = ["ReadOnlyWrapper"]


class ReadOnlyWrapper(WrapperStore[Store]):
    """``store`` read through :meth:`get` (which subclasses override); ``set`` and ``delete`` raise.

    ``refusal`` is the message of the :class:`PermissionError`, formatted with ``action``
    (``"writing"`` or ``"deleting"``) and ``key``.
    """

    refusal: ClassVar[str] = "a read-only view cannot be changed ({action} {key!r})"

    @property
    @override
    def read_only(self) -> bool:
        return True

    @override
    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        return [await self.get(key, prototype, rng) for key, rng in key_ranges]

    @override
    async def set(self, key: str, value: Buffer) -> None:
        raise self._refused("writing", key)

    set_if_not_exists = set  # the same refusal: a write

    @override
    async def delete(self, key: str) -> None:
        raise self._refused("deleting", key)

    @override
    async def delete_dir(self, prefix: str) -> None:
        raise self._refused("deleting", prefix)

    @override
    async def clear(self) -> None:
        raise self._refused("deleting", "")

    def _refused(self, action: str, key: str) -> PermissionError:
        return PermissionError(self.refusal.format(action=action, key=key))
