"""A canvas's arrays of the moment, kept in step with the journal's committed state.

:class:`CanvasStorage` owns what changes under a :class:`~imkerutils.tiling.canvas.Canvas` as steps commit:
the committed :class:`~imkerutils.tiling.journal.JournalState` (bounds, head, frame), the level-0 array and
the :class:`~imkerutils.tiling.pyramid.Pyramid` opened in that state's frame, and the root ``zarr.json``
that mirrors it for outside readers.  Around each step it

- *recovers* (:meth:`~CanvasStorage.recover`): rolls back or finishes what a killed writer left, a rebase
  included (:mod:`.rebase`);
- *makes room* (:meth:`~CanvasStorage.make_room`): rebases when a step needs more margin than the frame
  keeps, and resizes the arrays (never shrinking them while a step may still write);
- *settles* (:meth:`~CanvasStorage.settle`): fits the arrays to the committed bounds, rebases down when an
  undo left more margin than the layout rule allows, and rewrites the root ``zarr.json``.

A read-only canvas with a step pending reads through a :class:`~imkerutils.tiling.committed.CommittedView`,
so it sees the last committed pixels.  The canvas holds one of these and delegates to it; :mod:`.step`
drives recover, make-room and settle around a write.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from imkerutils.errors import CanvasCorruptError, CanvasLockedError
from imkerutils.tiling import rebase as _rebase
from imkerutils.tiling.artifacts import remove_lone_hashes
from imkerutils.tiling.chunkio import read_tile, write_tile
from imkerutils.tiling.committed import CommittedView
from imkerutils.tiling.frame import TILE_KEY_PREFIX, extent_ok, plan_frame, tile_of_tile_key
from imkerutils.tiling.grid import TileGrid
from imkerutils.tiling.journal import Journal, JournalState, StepMeta
from imkerutils.tiling.layout import open_level, read_window, resize_level, write_root
from imkerutils.tiling.location import dataset_name
from imkerutils.tiling.pyramid import Pyramid, levels_needed
from imkerutils.tiling.rawstore import RawStore
from imkerutils.tiling.tilecache import TileCache

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import numpy as np
    from distributed import Client
    from zarr.abc.store import Store

    from imkerutils.tiling.window import Window

__all__ = ["CanvasStorage"]


class CanvasStorage:
    """The committed state of one canvas and its level arrays opened in that state's frame.

    ``store`` is the canvas's own store; ``location`` names the canvas in errors and (its last part) in the
    root metadata.  Opening reads the committed state and opens the arrays; a writable canvas then calls
    :meth:`finish_interrupted`.
    """

    def __init__(self, store: Store, *, mode: str, tile: int, channels: int, read_only: bool, location: str) -> None:
        self.store, self.mode, self.tile, self.channels = store, mode, tile, channels
        self.read_only, self.location = read_only, location
        self.raw = RawStore(store)
        self.journal = Journal(self.raw)
        self.state = self.journal.read_state()
        self.tiles: TileCache | None = None  # inside caching_tiles()
        if self.state.frame.tile != tile:
            raise CanvasCorruptError(f"the journal's frame has tile {self.state.frame.tile}, the canvas {tile}")
        if read_only and self.state.pending is not None:
            self.view_committed()
        else:
            self.open_arrays(store)

    def finish_interrupted(self, attrs: dict[str, Any]) -> None:
        """Finish what a killed writer left (given the root attributes as opened), if anything.

        That is a step, its ``zarr.json`` mirror, a resize, a journal entry or temporary files.  When another
        writer holds the lock and nothing is pending, it is between its commit and its mirror: nothing to do.
        """
        unfinished = self.state.pending is not None or bool(self.state.retired)
        if unfinished or self.journal.interrupted() or not _mirrors(attrs, self.state):
            try:
                with self.journal.lock():
                    self.settle(self.recover())
                    self.journal.remove_orphans(self.state)
                    self.raw.remove_partials()  # its temporary files
                    remove_lone_hashes(self.raw)  # and the hash of an artifact it never wrote
            except CanvasLockedError:
                if unfinished:
                    raise
                # else a writer at work is between its commit and its mirror: nothing of ours to finish

    # -- arrays of the moment ----------------------------------------------------
    def open_arrays(self, store: Store) -> None:
        """(Re)open level 0 and the pyramid in the committed frame, reading through ``store``."""
        raw = self.raw if store is self.store else RawStore(store)
        frame = self.state.frame
        try:
            self.z = open_level(store, frame, 0)
        except KeyError:
            raise CanvasCorruptError(f"canvas {self.location} has no level-0 array at {frame.path(0)}") from None
        self.read_raw = raw
        self.pyramid = Pyramid(raw, frame, lambda: self.z, None if self.read_only else self.write_root)

    def view_committed(self) -> None:
        """Read through a :class:`CommittedView`: a pending step's keys from their committed snapshots."""
        if self.state.pending is not None and self.state.pending.get("op") == "rebase":
            self.open_arrays(self.store)  # a rebase leaves the committed arrays untouched until it commits
            return
        sources, entry_key = self.journal.committed_sources(self.state)
        self.open_arrays(CommittedView(self.store, sources, entry_key))

    def refresh(self) -> None:
        """Re-read the committed state (another process may have written)."""
        before = self.state
        self.state = self.journal.read_state()
        if self.read_only and self.state.pending is not None:
            self.view_committed()  # a new view: the pending step may differ from the last one seen
        elif self.state != before or (self.read_only and self.read_raw.store is not self.store):
            self.open_arrays(self.store)  # shapes, frame or the view changed

    def present_levels(self) -> int:
        """Return the levels built so far (level 0 included)."""
        return self.pyramid.built_levels() if hasattr(self, "pyramid") else 1

    def write_root(self, levels: int | None = None) -> None:
        """Mirror the committed bounds, frame and built levels into the root ``zarr.json``."""
        state = self.state
        write_root(
            self.raw, self.mode, state.frame, state.bounds, levels or self.present_levels(), dataset_name(self.location)
        )

    # -- the frame: room for a step, and settling after one ------------------------
    def recover(self) -> JournalState:
        """Finish or roll back what a killed writer left (the lock is held); returns the committed state."""
        state = self.journal.read_state()
        if state.pending is not None and state.pending.get("op") == "rebase":
            state = _rebase.roll_back(self.raw, self.journal, state)
        state = self.journal.recover(state)
        if state.retired:
            self.state = state
            self.write_root()  # readers switch to the rebased arrays before the old ones go
            state = _rebase.finish(self.raw, self.journal, state)
        if state != self.state or not hasattr(self, "z"):
            self.state = state
            self.open_arrays(self.store)
        return state

    def make_room(self, bounds: Window) -> JournalState:
        """Make the arrays hold ``bounds`` (lock held, nothing pending): rebase if the margin is spent, resize."""
        state = self.state
        if not state.frame.holds(bounds):
            levels = self.present_levels()
            frame = plan_frame(
                bounds, self.tile, max(levels, levels_needed(bounds, self.tile)), state.frame.generation + 1
            )
            state = _rebase.rebase(self.raw, self.journal, state, frame, levels, self.channels)
            self.state = state
            self.open_arrays(self.store)
            self.write_root()
            state = self.state = _rebase.finish(self.raw, self.journal, state)
        self.resize_arrays(bounds, grow_only=True)
        return state

    def settle(self, state: JournalState) -> None:
        """After a commit, undo, redo or rollback: fit the arrays to the bounds, mirror them into zarr.json."""
        self.state = state
        self.resize_arrays(state.bounds, grow_only=False)
        levels = self.present_levels()
        if not extent_ok(state.frame, state.bounds, levels):  # an undo left too much margin: rebase down
            frame = plan_frame(state.bounds, self.tile, levels, state.frame.generation + 1)
            self.state = _rebase.rebase(self.raw, self.journal, state, frame, levels, self.channels)
            self.open_arrays(self.store)
            self.write_root()
            self.state = _rebase.finish(self.raw, self.journal, self.state)
            return
        self.write_root()

    def resize_arrays(self, bounds: Window, *, grow_only: bool) -> None:
        """Resize every built level to the frame's shape for ``bounds`` (``grow_only``: never smaller)."""
        frame = self.state.frame
        for level in range(self.present_levels()):
            z = self.z if level == 0 else self.pyramid.array(level)
            want = frame.shape(level, bounds)
            if grow_only:
                want = (max(want[0], z.shape[1]), max(want[1], z.shape[2]))
            resize_level(z, want)

    def update_pyramid(self, *, workers: int | None, client: Client | None, storage_options: dict[str, Any]) -> int:
        """Recompute the coarser levels over the tiles written since the last update; the chunks recomputed.

        ``storage_options`` are the canvas's, for ``client``'s workers, which open its location themselves.
        """
        if self.pyramid.is_current(self.state.bounds):  # the common case: no lock, so readers never contend
            return 0
        with self.journal.lock():
            self.recover()
            return self.pyramid.update(
                self.state.bounds,
                workers=workers,
                client=client,
                location=self.location,
                storage_options=storage_options,
            )

    # -- level-0 tiles -------------------------------------------------------------
    def read(self, window: Window) -> np.ndarray:
        """Level-0 pixels of world ``window`` as a new ``(h, w, C)`` array (kept tiles inside :meth:`caching_tiles`)."""
        if self.tiles is not None:
            return self.tiles.read(window)
        return read_window(self.z, self.state.frame.to_array(window))

    @contextlib.contextmanager
    def caching_tiles(self) -> Iterator[None]:
        """Within the block, level-0 reads decode each stored tile once.

        :meth:`write_tile` and :meth:`travel` drop what they replace, so reads stay exact.  Nested blocks share
        the outer one's tiles.
        """
        if self.tiles is not None:
            yield
            return
        self.tiles = TileCache(
            lambda i, j: read_tile(self.read_raw, self.state.frame, self.z, 0, i, j), TileGrid(self.tile), self.channels
        )
        try:
            yield
        finally:
            self.tiles = None

    def write_tile(self, ij: tuple[int, int], block: np.ndarray) -> None:
        """Store level-0 tile ``ij``: its chunk's bytes as zarr writes them, without zarr's write path.

        Encoding the chunk ourselves (:func:`~.chunkio.write_tile`) takes a photo tile from 30 to 22 ms.
        """
        if self.tiles is not None:
            self.tiles.forget(ij)
        write_tile(self.raw, self.state.frame, self.z, 0, *ij, block)

    # -- history -------------------------------------------------------------------
    def travel(self, *, back: bool) -> StepMeta:
        """Undo (``back``) or redo the next step, under the write lock; returns its journal entry."""
        if self.tiles is not None:
            self.tiles.clear()  # any tile may change
        with self.journal.lock():
            state = self.recover()
            n = state.head if back else state.head + 1
            if 1 <= n <= state.top:
                meta = self.journal.read_meta(n, state)
                state = self.make_room(meta.bounds_after)  # a redo may need the margin an undo gave back
                self.pyramid.mark_dirty(_tiles_of_keys(meta.keys))
            meta, state = self.journal.undo(state) if back else self.journal.redo(state)
            self.settle(state)
        return meta


def _mirrors(attrs: dict[str, Any], state: JournalState) -> bool:
    """Whether the root attributes mirror the committed bounds and frame."""
    return attrs.get("bounds") == state.bounds.to_dict() and attrs.get("frame") == state.frame.to_dict()


def _tiles_of_keys(keys: Sequence[str]) -> list[tuple[int, int]]:
    """Level-0 world tiles named by a step's journal keys."""
    return [tile_of_tile_key(k) for k in keys if k.startswith(TILE_KEY_PREFIX)]
