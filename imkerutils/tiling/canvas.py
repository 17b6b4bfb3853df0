"""The canvas: an OME-Zarr 0.5 image in stable world coordinates, written in atomic, undoable steps.

World pixel (0, 0) is the top-left of the first image; growing left or up gives negative coordinates.
Each level's array covers the content plus a bounded margin; where world tiles sit in the arrays is the
business of one :class:`~imkerutils.tiling.frame.Frame` (kept in the journal's committed state), so a
negative index never reaches Zarr and a rebase (:mod:`.rebase`) changes one value.

Writes are steps of the :mod:`~imkerutils.tiling.journal` (:mod:`.step`); each written tile's raw pixels
are hashed into a manifest that :meth:`Canvas.verify` checks (:mod:`.verify`).  The folder layout is
:mod:`.layout`'s; images come in through :mod:`.importer`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import zarr
from zarr.abc.store import Store

from imkerutils.errors import (
    CanvasCorruptError,
    CanvasExistsError,
    CanvasLockedError,
    CanvasNotFoundError,
    CanvasReadOnlyError,
    InvalidTileError,
    InvalidWindowError,
)
from imkerutils.tiling import legacy
from imkerutils.tiling import rebase as _rebase
from imkerutils.tiling.committed import CommittedView
from imkerutils.tiling.frame import Frame, extent_ok, level_window, plan_frame, tile_of_tile_key
from imkerutils.tiling.grid import TILE_SIZE, TileGrid
from imkerutils.tiling.journal import Journal, JournalState
from imkerutils.tiling.layout import (
    CANVAS_FORMAT,
    MODES,
    create_level,
    mark_bookkeeping,
    open_level,
    read_window,
    resize_level,
    write_block,
    write_root,
)
from imkerutils.tiling.location import is_remote, local_path, open_store
from imkerutils.tiling.pyramid import Pyramid, levels_needed
from imkerutils.tiling.rawstore import RawStore
from imkerutils.tiling.step import (
    MANIFEST_TILES,
    Step,
    StepInfo,
    TilePart,
    _Lazy,
    aligned_chunks,
    digest,
    manifest_key,
    plan_pieces,
    run_now,
    step_keys,
)
from imkerutils.tiling.verify import (
    ARTIFACT_HASH_SUFFIX,
    ARTIFACT_PREFIXES,
    VerifyReport,
    artifact_hash_key,
    verify_canvas,
)
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    import dask.array as da
    import xarray as xr
    from dask.delayed import Delayed
    from distributed import Client

__all__ = ["CANVAS_FORMAT", "Canvas", "StepInfo", "VerifyReport"]

LEGACY_FORMAT = legacy.LEGACY_FORMAT
BOOKKEEPING = ("_journal", "_manifest", "_pyramid")


class _LevelRegion:
    """An array-like view of one level-0 world window of a canvas, read when dask asks.

    Lets ``dask.array.from_array`` build a graph over only the chunks a window touches (``from_zarr`` on
    the whole array costs time in its chunk count).  It reads through the canvas's arrays of the moment,
    so a graph built before a rebase still reads the right chunks after it.
    """

    def __init__(self, canvas: Canvas, window: Window, token: str) -> None:
        self.canvas, self.window, self.token = canvas, window, token
        self.shape = (window.height, window.width, canvas.channels)
        self.dtype = np.dtype(np.uint8)
        self.ndim = 3

    def __dask_tokenize__(self) -> tuple[str, Window]:
        return (self.token, self.window)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        rows, cols = key[0], key[1]
        r0, r1, _ = rows.indices(self.window.height)
        c0, c1, _ = cols.indices(self.window.width)
        out = self.canvas.read(Window(self.window.row_off + r0, self.window.col_off + c0, r1 - r0, c1 - c0))
        return out[(slice(None), slice(None), *key[2:])] if len(key) > 2 else out


class Canvas:
    """A chunked RGB(A) image on a Zarr v3 store, addressed in world coordinates.

    Open one with :meth:`create`, :meth:`from_image` or :meth:`open`.
    """

    def __init__(
        self,
        group_attrs: dict[str, Any],
        store: Store,
        *,
        read_only: bool,
        location: str,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        attrs = group_attrs.get("imkerutils")
        # Format 1's attributes stay until an upgrade that committed has rewritten zarr.json (see .legacy).
        if not isinstance(attrs, dict) or attrs.get("format") not in (CANVAS_FORMAT, LEGACY_FORMAT):
            raise CanvasCorruptError("this Zarr group is not an imkerutils canvas (no canvas metadata)")
        try:
            self.mode: str = attrs["mode"]
            self.tile: int = int(attrs["tile"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CanvasCorruptError(f"canvas metadata is incomplete: {exc}") from None
        if self.mode not in MODES:
            raise CanvasCorruptError(f"canvas mode {self.mode!r} is not one of {sorted(MODES)}")
        self.channels = MODES[self.mode]
        self.grid = TileGrid(self.tile)
        self.read_only = read_only
        self._location = location
        self._storage_options = dict(storage_options or {})
        self._store = store
        self._raw = RawStore(store)
        self._local_root = self._raw.local_root
        self._journal = Journal(self._raw)
        self._state = self._journal.read_state()
        if self._state.frame.tile != self.tile:
            raise CanvasCorruptError(f"the journal's frame has tile {self._state.frame.tile}, the canvas {self.tile}")
        if read_only:
            if self._state.pending is not None:
                self._view_committed()
            else:
                self._open_arrays(store)
        else:
            self._open_arrays(store)
            unfinished = self._state.pending is not None or bool(self._state.retired)
            if unfinished or self._journal.interrupted() or not _mirrors(attrs, self._state):
                # a killed writer's work: a step, its zarr.json mirror, a resize, an entry, temporary files
                try:
                    with self._journal.lock():
                        self._settle(self._recover())
                        self._journal.remove_orphans(self._state)
                        self._raw.remove_partials()  # its temporary files
                except CanvasLockedError:
                    if unfinished:
                        raise
                    # else a writer at work is between its commit and its mirror: nothing of ours to finish

    # -- arrays of the moment ----------------------------------------------------
    def _open_arrays(self, store: Store) -> None:
        """(Re)open level 0 and the pyramid in the committed frame, reading through ``store``."""
        raw = self._raw if store is self._store else RawStore(store)
        frame = self._state.frame
        try:
            self._z = open_level(store, frame, 0)
        except KeyError:
            raise CanvasCorruptError(f"canvas {self.location} has no level-0 array at {frame.path(0)}") from None
        self._read_raw = raw
        self._pyramid = Pyramid(raw, frame, lambda: self._z, None if self.read_only else self._write_root)

    def _view_committed(self) -> None:
        """Read through a :class:`CommittedView`: a pending step's keys from their committed snapshots."""
        if self._state.pending is not None and self._state.pending.get("op") == "rebase":
            self._open_arrays(self._store)  # a rebase leaves the committed arrays untouched until it commits
            return
        sources, entry_key = self._journal.committed_sources(self._state)
        self._open_arrays(CommittedView(self._store, sources, entry_key))

    @property
    def frame(self) -> Frame:
        """Where world tiles sit in the level arrays (changes only on a rebase)."""
        return self._state.frame

    # -- construction ------------------------------------------------------
    @classmethod
    def create(
        cls,
        location: str | os.PathLike[str],
        *,
        mode: str = "RGB",
        height: int = 0,
        width: int = 0,
        tile: int = TILE_SIZE,
        overwrite: bool = False,
        storage_options: dict[str, Any] | None = None,
        plan_for: Window | None = None,
    ) -> Canvas:
        """Create an empty canvas whose bounds are ``(0, 0, height, width)`` of background.

        ``location`` is a local folder or an fsspec URL (``s3://bucket/canvas``).  ``plan_for`` is the
        content the caller is about to write (an import's image), so the margin is planned for it.
        """
        if mode not in MODES:
            raise InvalidTileError(f"canvas mode must be one of {sorted(MODES)}, got {mode!r}")
        if not isinstance(tile, int) or tile <= 0:
            raise InvalidWindowError(f"tile size must be a positive integer, got {tile!r}")
        bounds = Window(0, 0, height, width)
        store = open_store(location, storage_options=storage_options)
        if _exists(location, store):
            if not overwrite:
                raise CanvasExistsError(f"{os.fspath(location)} already exists (pass overwrite=True to replace it)")
            _remove(location, store)
            store = open_store(location, storage_options=storage_options)
        planned = bounds if plan_for is None else bounds.union(plan_for)
        frame = plan_frame(planned, tile, levels_needed(planned, tile))
        raw = RawStore(store)
        name = _name(location)
        write_root(raw, mode, frame, bounds, 1, name)
        create_level(store, frame, 0, frame.shape(0, bounds), MODES[mode])
        for folder in BOOKKEEPING:
            mark_bookkeeping(raw, folder)
        Journal(raw).write_state(JournalState(bounds=bounds, frame=frame))
        return cls(
            _root_attrs(raw), store, read_only=False, location=_absolute(location), storage_options=storage_options
        )

    @classmethod
    def open(
        cls, location: str | os.PathLike[str], *, read_only: bool = False, storage_options: dict[str, Any] | None = None
    ) -> Canvas:
        """Open an existing canvas (rolling back a step a killed writer left half done)."""
        store = open_store(location, read_only=read_only, storage_options=storage_options)
        if not _has_metadata(location, store):
            raise CanvasNotFoundError(f"no canvas at {os.fspath(location)} (no zarr.json)")
        if legacy.is_legacy(RawStore(store)):
            if read_only:
                store = legacy.LegacyView(store)  # read as before, through format 2's code
            else:
                cls._upgrade(location, store)
        try:
            group = zarr.open_group(store, mode="r" if read_only else "r+")
        except (ValueError, KeyError, TypeError) as exc:
            raise CanvasCorruptError(f"{os.fspath(location)}/zarr.json is not valid Zarr v3 metadata: {exc}") from None
        except zarr.errors.BaseZarrError as exc:
            raise CanvasCorruptError(f"{os.fspath(location)} is not a readable Zarr v3 canvas: {exc}") from None
        if group.metadata.zarr_format != 3:
            raise CanvasCorruptError(
                f"{os.fspath(location)}/zarr.json declares zarr_format "
                f"{group.metadata.zarr_format}; a canvas is Zarr v3"
            )
        return cls(
            dict(group.attrs), store, read_only=read_only, location=_absolute(location), storage_options=storage_options
        )

    @classmethod
    def upgrade(cls, location: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None) -> bool:
        """Convert a canvas of format 1 in place (crash-safe); returns whether there was anything to do.

        Opening such a canvas for writing does the same (with a one-line notice in the log).
        """
        store = open_store(location, storage_options=storage_options)
        if not _has_metadata(location, store):
            raise CanvasNotFoundError(f"no canvas at {os.fspath(location)} (no zarr.json)")
        if not legacy.is_legacy(RawStore(store)):
            cls.open(location, storage_options=storage_options)  # finishes an upgrade a kill interrupted
            return False
        cls._upgrade(location, store, notice=False)
        cls.open(location, storage_options=storage_options)
        return True

    @staticmethod
    def _upgrade(location: str | os.PathLike[str], store: Store, *, notice: bool = True) -> None:
        """Upgrade the format-1 canvas in ``store`` under its write lock (its leftovers go on the next open)."""
        raw = RawStore(store)
        with Journal(raw).lock():
            if not legacy.is_legacy(raw):
                return  # another process upgraded it meanwhile
            if notice:
                logging.getLogger("imkerutils").warning(
                    "upgrading canvas %s from format 1 to %s in place", os.fspath(location), CANVAS_FORMAT
                )
            legacy.upgrade(raw)

    @classmethod
    def from_image(
        cls,
        image: str | os.PathLike[str],
        location: str | os.PathLike[str],
        *,
        trusted: bool = False,
        tile: int = TILE_SIZE,
        overwrite: bool = False,
        storage_options: dict[str, Any] | None = None,
    ) -> Canvas:
        """Create a canvas at ``location`` holding ``image`` (PNG, JPEG, TIFF, ...) at world (0, 0).

        The input policy is applied from the file's header before anything is decoded or created; the
        image is then decoded a strip at a time, in bounded memory, and written as one step
        (:mod:`.importer`).  A crash or a bad file never leaves a half-imported canvas at ``location``.
        """
        from imkerutils.tiling.importer import import_image

        return import_image(
            cls, image, location, trusted=trusted, tile=tile, overwrite=overwrite, storage_options=storage_options
        )

    # -- properties --------------------------------------------------------
    @property
    def path(self) -> Path:
        """The local folder of the canvas (see :attr:`location` for canvases on object storage)."""
        root = self._local_root
        if root is None:
            raise CanvasNotFoundError(f"canvas {self.location} is not on the local disk")
        return root

    @property
    def location(self) -> str:
        """Where the canvas lives: an absolute folder, or a URL."""
        return self._location

    @property
    def storage_options(self) -> dict[str, Any]:
        """The fsspec ``storage_options`` the canvas was opened with (a copy)."""
        return dict(self._storage_options)

    def put_artifact(self, key: str, data: bytes) -> None:
        """Store a file of the canvas's own (e.g. ``_generated/...``) beside its arrays, atomically.

        Its SHA-256 goes beside it (``<key>.sha256``), which :meth:`verify` checks it against.
        """
        self._check_writable()
        if not key.startswith(ARTIFACT_PREFIXES) or ".." in key.split("/"):
            raise InvalidWindowError(f"artifact keys live under {', '.join(ARTIFACT_PREFIXES)}, got {key!r}")
        mark_bookkeeping(self._raw, key.split("/", 1)[0])
        self._raw.put(key, data)
        self._raw.put(artifact_hash_key(key), hashlib.sha256(data).hexdigest().encode())

    def get_artifact(self, key: str) -> bytes | None:
        """The bytes of artifact ``key`` (``None`` when there is none)."""
        return self._read_raw.get(key)

    def list_artifacts(self, prefix: str) -> list[str]:
        """The keys of the artifacts under the folder ``prefix``, sorted."""
        return [k for k in self._read_raw.list_prefix(prefix) if not k.endswith(("/zarr.json", ARTIFACT_HASH_SUFFIX))]

    def delete_artifacts(self, prefix: str) -> None:
        """Delete every artifact under the folder ``prefix`` (e.g. ``_staged/<id>/``) and its hash entries."""
        self._check_writable()
        if not prefix.startswith(ARTIFACT_PREFIXES) or not prefix.endswith("/") or ".." in prefix.split("/"):
            raise InvalidWindowError(f"artifact folders live under {', '.join(ARTIFACT_PREFIXES)}, got {prefix!r}")
        self._raw.delete_prefix(prefix)  # the hashes beside the artifacts go with them

    @property
    def bounds(self) -> Window:
        """The world window holding content (background outside it)."""
        return self._state.bounds

    @property
    def head(self) -> int:
        """Number of the last committed step (0 = none)."""
        return self._state.head

    @property
    def redoable(self) -> int:
        """How many undone steps :meth:`redo` can re-apply."""
        return self._state.top - self._state.head

    @property
    def state_token(self) -> str:
        """Changes with every commit, undo and redo."""
        return self._state.token

    def refresh(self) -> Canvas:
        """Re-read the committed state (another process may have written)."""
        before = self._state
        self._state = self._journal.read_state()
        if self.read_only and self._state.pending is not None:
            self._view_committed()  # a new view: the pending step may differ from the last one seen
        elif self._state != before or (self.read_only and self._read_raw.store is not self._store):
            self._open_arrays(self._store)  # shapes, frame or the view changed
        return self

    def __repr__(self) -> str:
        b = self.bounds
        return (
            f"Canvas({self.location!r}, mode={self.mode!r}, bounds=(row {b.row_off}, col {b.col_off}, "
            f"{b.height}x{b.width}), steps={self.head})"
        )

    # -- reads ---------------------------------------------------------------
    @property
    def levels(self) -> int:
        """Number of pyramid levels (level 0 included) the current bounds need."""
        return levels_needed(self.bounds, self.tile)

    def level_array(self, level: int) -> zarr.Array[Any] | None:
        """The Zarr array :meth:`read` reads for ``level`` (``(C, H, W)``; see :attr:`frame` for placement).

        ``None`` when that level is not built, or when a read-only canvas's pyramid is behind its
        level 0 (tiles written since its last update), so that no caller copies stale chunks.
        On a read-only canvas with a step pending this is the array over its committed view.
        """
        if level == 0:
            return self._z
        if self.read_only and not self._pyramid.is_current(self.bounds):
            return None  # its stored chunks may be stale: read() reduces those from finer levels
        try:
            return self._pyramid.array(level)
        except KeyError:
            return None

    def level_bounds(self, level: int) -> Window:
        """The bounds in level-``level`` pixels (floor of the start, ceil of the end)."""
        return level_window(self.bounds, level)

    def read(self, window: Window, level: int = 0) -> np.ndarray:
        """Pixels of a window as ``(height, width, channels)`` uint8; background outside bounds.

        ``window`` is in world coordinates at ``level`` 0, and in level pixels
        (world // 2**level) above it.  Reading a coarser level of a writable
        canvas first brings the pyramid up to date; a read-only canvas reduces
        the chunks its pyramid has not caught up on in memory instead.
        """
        if level == 0:
            return read_window(self._z, self.frame.to_array(window))
        if not 0 < level < self.levels:
            raise InvalidWindowError(f"level must be in 0..{self.levels - 1} for this canvas, got {level}")
        if self.read_only:  # cannot update: stale or missing chunks are reduced from finer levels in memory
            return self._pyramid.read_current(level, window, self.bounds)
        self.update_pyramid()
        return read_window(self._pyramid.array(level), self.frame.to_array(window, level))

    def update_pyramid(self, *, workers: int | None = None, client: Client | None = None) -> int:
        """Recompute the coarser levels over the tiles written since the last update.

        Each level's chunks are reduced on ``workers`` threads (default: one per core), or as tasks on a
        ``dask.distributed`` ``client``'s workers, which open this canvas's location themselves.  Returns the
        number of chunks recomputed (0 when already up to date).
        """
        self._check_writable()
        if self._pyramid.is_current(self.bounds):  # the common case: no lock, so readers never contend
            return 0
        with self._journal.lock():
            self._recover()
            return self._pyramid.update(
                self.bounds,
                workers=workers,
                client=client,
                location=self.location,
                storage_options=self.storage_options,
            )

    def to_dask(self, window: Window | None = None) -> da.Array:
        """A lazy dask array of ``window`` (default: the bounds) over only the chunks it touches."""
        import dask.array as da
        from dask.base import tokenize

        w = self.bounds if window is None else window
        rows = aligned_chunks(w.row_off, w.height, self.tile)
        cols = aligned_chunks(w.col_off, w.width, self.tile)
        token = f"{self.location}:{self._state.token}"
        name = "canvas-read-" + tokenize(self.location, self._state.token, w)
        view: da.Array = da.from_array(
            _LevelRegion(self, w, token),
            chunks=(rows, cols, (self.channels,)),
            name=name,
            asarray=False,
            lock=False,
            fancy=False,
            meta=np.empty((0, 0, 0), np.uint8),
        )
        return view

    def to_xarray(self, window: Window | None = None) -> xr.DataArray:
        """``window`` as a lazy xarray with world ``y``/``x`` coordinates and a ``c`` dimension."""
        import xarray as xr

        w = self.bounds if window is None else window
        return xr.DataArray(
            self.to_dask(w),
            dims=("y", "x", "c"),
            coords={"y": np.arange(w.row_off, w.row_end), "x": np.arange(w.col_off, w.col_end), "c": list(self.mode)},
            name="canvas",
        )

    # -- the frame: room for a step, and settling after one ------------------------
    def _check_writable(self) -> None:
        if self.read_only:
            raise CanvasReadOnlyError(f"canvas {self.location} was opened read-only")

    def _recover(self) -> JournalState:
        """Finish or roll back what a killed writer left (the lock is held); returns the committed state."""
        state = self._journal.read_state()
        if state.pending is not None and state.pending.get("op") == "rebase":
            state = _rebase.roll_back(self._raw, self._journal, state)
        state = self._journal.recover(state)
        if state.retired:
            self._state = state
            self._write_root()  # readers switch to the rebased arrays before the old ones go
            state = _rebase.finish(self._raw, self._journal, state)
        if state != self._state or not hasattr(self, "_z"):
            self._state = state
            self._open_arrays(self._store)
        return state

    def _present_levels(self) -> int:
        return self._pyramid.built_levels() if hasattr(self, "_pyramid") else 1

    def _make_room(self, bounds: Window) -> JournalState:
        """Make the arrays hold ``bounds`` (lock held, nothing pending): rebase if the margin is spent, resize."""
        state = self._state
        if not state.frame.holds(bounds):
            levels = self._present_levels()
            frame = plan_frame(
                bounds, self.tile, max(levels, levels_needed(bounds, self.tile)), state.frame.generation + 1
            )
            state = _rebase.rebase(self._raw, self._journal, state, frame, levels, self.channels)
            self._state = state
            self._open_arrays(self._store)
            self._write_root()
            state = self._state = _rebase.finish(self._raw, self._journal, state)
        self._resize_arrays(bounds, grow_only=True)
        return state

    def _settle(self, state: JournalState) -> None:
        """After a commit, undo, redo or rollback: fit the arrays to the bounds, mirror them into zarr.json."""
        self._state = state
        self._resize_arrays(state.bounds, grow_only=False)
        levels = self._present_levels()
        if not extent_ok(state.frame, state.bounds, levels):  # an undo left too much margin: rebase down
            frame = plan_frame(state.bounds, self.tile, levels, state.frame.generation + 1)
            self._state = _rebase.rebase(self._raw, self._journal, state, frame, levels, self.channels)
            self._open_arrays(self._store)
            self._write_root()
            self._state = _rebase.finish(self._raw, self._journal, self._state)
            return
        self._write_root()

    def _resize_arrays(self, bounds: Window, *, grow_only: bool) -> None:
        frame = self.frame
        for level in range(self._present_levels()):
            z = self._z if level == 0 else self._pyramid.array(level)
            want = frame.shape(level, bounds)
            if grow_only:
                want = (max(want[0], z.shape[1]), max(want[1], z.shape[2]))
            resize_level(z, want)

    def _write_root(self, levels: int | None = None) -> None:
        """Mirror the committed bounds, frame and built levels into the root ``zarr.json``."""
        write_root(
            self._raw, self.mode, self.frame, self.bounds, levels or self._present_levels(), _name(self.location)
        )

    # -- writes --------------------------------------------------------------
    @overload
    def paste(
        self,
        data: np.ndarray | da.Array,
        row: int,
        col: int,
        *,
        grow: bool = ...,
        compute: Literal[True] = ...,
        info: dict[str, Any] | None = ...,
    ) -> StepInfo: ...
    @overload
    def paste(
        self,
        data: np.ndarray | da.Array,
        row: int,
        col: int,
        *,
        grow: bool = ...,
        compute: Literal[False],
        info: dict[str, Any] | None = ...,
    ) -> Delayed: ...
    @overload
    def paste(
        self,
        data: np.ndarray | da.Array,
        row: int,
        col: int,
        *,
        grow: bool = ...,
        compute: bool,
        info: dict[str, Any] | None = ...,
    ) -> StepInfo | Delayed: ...
    def paste(
        self,
        data: np.ndarray | da.Array,
        row: int,
        col: int,
        *,
        grow: bool = False,
        compute: bool = True,
        info: dict[str, Any] | None = None,
    ) -> StepInfo | Delayed:
        """Write ``data`` with its top-left at world ``(row, col)``, as one atomic step.

        ``data`` is ``(h, w, channels)`` uint8, NumPy or dask.  A window outside
        the bounds is an error unless ``grow=True`` (bounds become the union).
        With ``compute=False`` returns a ``dask.delayed`` object that performs
        the step when computed (one task per chunk).
        """
        return self.write([(row, col, data)], grow=grow, compute=compute, info=info, kind="paste")

    @overload
    def write(
        self,
        pieces: Sequence[tuple[int, int, np.ndarray | da.Array]],
        *,
        grow: bool = ...,
        compute: Literal[True] = ...,
        info: dict[str, Any] | None = ...,
        kind: str = ...,
        expect_token: str | None = ...,
    ) -> StepInfo: ...
    @overload
    def write(
        self,
        pieces: Sequence[tuple[int, int, np.ndarray | da.Array]],
        *,
        grow: bool = ...,
        compute: Literal[False],
        info: dict[str, Any] | None = ...,
        kind: str = ...,
        expect_token: str | None = ...,
    ) -> Delayed: ...
    @overload
    def write(
        self,
        pieces: Sequence[tuple[int, int, np.ndarray | da.Array]],
        *,
        grow: bool = ...,
        compute: bool,
        info: dict[str, Any] | None = ...,
        kind: str = ...,
        expect_token: str | None = ...,
    ) -> StepInfo | Delayed: ...
    def write(
        self,
        pieces: Sequence[tuple[int, int, np.ndarray | da.Array]],
        *,
        grow: bool = False,
        compute: bool = True,
        info: dict[str, Any] | None = None,
        kind: str = "write",
        expect_token: str | None = None,
    ) -> StepInfo | Delayed:
        """Write several ``(row, col, pixels)`` pieces as ONE atomic step (later pieces win on overlap).

        Every chunk the pieces touch gets exactly one task, which merges all
        the pieces that fall in it: no two tasks ever write the same chunk.
        With ``expect_token``, the step is refused (:class:`CanvasChangedError`,
        nothing written) unless the committed state still has that
        :attr:`state_token`: an optimistic check for writes computed from an
        earlier read.
        """
        from dask.delayed import delayed

        self._check_writable()
        per_tile, covered = plan_pieces(pieces, self.tile, self.channels, self.mode, self.bounds, grow)
        tx = Step(self, kind, step_keys(list(per_tile)), covered, grow, info or {}, expect_token)
        if compute:
            return run_now(tx, per_tile, self._merge_tile, self._store_tile)
        token = uuid.uuid4().hex
        begun = delayed(tx.begin, pure=False)(dask_key_name=f"{kind}-begin-{token}")
        writes = [
            delayed(self._write_tile, pure=False)(begun, ij, parts, dask_key_name=f"{kind}-chunk-{token}-{n}")
            for n, (ij, parts) in enumerate(per_tile.items())
        ]
        commit: Delayed = delayed(tx.commit, pure=False)(writes, dask_key_name=f"{kind}-commit-{token}")
        return commit

    def _write_tile(self, _begun: Any, ij: tuple[int, int], parts: list[TilePart]) -> BaseException | None:
        """Write one tile's share of a step (the only writer of that chunk) and its manifest entry.

        Returns, rather than raises, any failure, so that the step's commit task
        always runs and can roll the step back, even when the graph is computed
        by a caller (``compute=False``).
        """
        try:
            full = self._merge_tile(ij, parts)
            self._store_tile(ij, full, digest(full))
        except Exception as exc:  # handed to Step.commit, which rolls back and re-raises
            return exc
        return None

    def _merge_tile(self, ij: tuple[int, int], parts: list[TilePart]) -> np.ndarray:
        """Tile ``ij`` as the step leaves it: its parts merged into its current pixels (no write)."""
        parts = [(piece, block.compute() if isinstance(block, _Lazy) else block) for piece, block in parts]
        tw = self.grid.tile_window(*ij)
        if len(parts) == 1 and parts[0][0] == tw:
            return np.asarray(parts[0][1])
        full = self.read(tw)  # a fresh, writable array
        for piece, block in parts:
            full[piece.slices((tw.row_off, tw.col_off))] = block
        return full

    def _store_tile(self, ij: tuple[int, int], full: np.ndarray, hexdigest: bytes) -> None:
        """Write tile ``ij`` and its manifest hash, after its pyramid dirty marker."""
        self._pyramid.mark_dirty([ij])
        a = self.frame.to_array(self.grid.tile_window(*ij))
        write_block(self._z, a.row_off, a.col_off, full)
        self._raw.put(manifest_key(*ij), hexdigest)

    def grow(self, window: Window, *, info: dict[str, Any] | None = None) -> StepInfo:
        """Extend the bounds to hold ``window`` (any direction); new area is background."""
        self._check_writable()
        tx = Step(self, "grow", [], window, True, info or {})
        tx.begin()
        return tx.commit([])

    def undo(self) -> StepInfo:
        """Revert the last committed step (O(tiles it wrote))."""
        return self._travel(back=True)

    def redo(self) -> StepInfo:
        """Re-apply the last undone step."""
        return self._travel(back=False)

    def _travel(self, *, back: bool) -> StepInfo:
        self._check_writable()
        with self._journal.lock():
            state = self._recover()
            n = state.head if back else state.head + 1
            if 1 <= n <= state.top:
                meta = self._journal.read_meta(n, state)
                state = self._make_room(meta.bounds_after)  # a redo may need the margin an undo gave back
                self._pyramid.mark_dirty(_tiles_of_keys(meta.keys))
            meta, state = self._journal.undo(state) if back else self._journal.redo(state)
            self._settle(state)
        return StepInfo.from_meta(meta)

    def history(self) -> list[StepInfo]:
        """Committed steps, oldest first."""
        return [StepInfo.from_meta(m) for m in self._journal.steps(self._state)]

    def undone(self) -> list[StepInfo]:
        """The undone steps :meth:`redo` can re-apply, the next one to redo first."""
        state = self._state
        return [StepInfo.from_meta(self._journal.read_meta(n, state)) for n in range(state.head + 1, state.top + 1)]

    # -- integrity -------------------------------------------------------------
    def verify(self) -> VerifyReport:
        """Check every byte that matters (tiles, pyramid, journal, metadata, artifacts; see :mod:`.verify`)."""
        return verify_canvas(self, full=not isinstance(self._store, legacy.LegacyView))

    def export(self, out: str | os.PathLike[str], **options: Any) -> Path | str:
        """Stream a region to ``out`` (PNG, tiled BigTIFF, OME-Zarr, JPEG, WebP by extension).

        Options as :func:`imkerutils.tiling.export.export_region` (``region``,
        ``level``, ``compression``, ``pyramid``, ``progress``, ``overwrite``).
        """
        from imkerutils.tiling.export import export_region

        return export_region(self, out, **options)

    def written_tiles(self) -> int:
        """Number of tiles the manifest records."""
        return len(self._read_raw.list_prefix(MANIFEST_TILES))

    def disk_usage(self) -> int:
        """Bytes under the canvas root (local folders; object storage: the sum of object sizes)."""
        root = self._local_root
        if root is not None:
            return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
        return self._raw.total_size()

    def summary(self) -> dict[str, Any]:
        """What ``imkerutils info`` prints."""
        b = self.bounds
        return {
            "path": self.location,
            "mode": self.mode,
            "tile": self.tile,
            "bounds": b.to_dict(),
            "size": [b.height, b.width],
            "steps": self.head,
            "redoable": self.redoable,
            "tiles_written": self.written_tiles(),
            "levels": self.levels,
            "bytes_on_disk": self.disk_usage(),
        }

    def written_tile_windows(self, window: Window) -> list[Window]:
        """World windows of the level-0 tiles that meet ``window`` and that some step wrote (the manifest's)."""
        out = []
        for key in self._read_raw.list_prefix(MANIFEST_TILES):
            w = self.grid.tile_window(*tile_of_tile_key(key))
            if w.intersection(window) is not None:
                out.append(w)
        return sorted(out, key=lambda w: (w.row_off, w.col_off))

    def close(self) -> None:
        """Release the canvas's store (the write lock is held only inside a step, so none remains after this)."""
        self._store.close()

    def __enter__(self) -> Canvas:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _mirrors(attrs: dict[str, Any], state: JournalState) -> bool:
    """Whether the root attributes mirror the committed bounds and frame."""
    return attrs.get("bounds") == state.bounds.to_dict() and attrs.get("frame") == state.frame.to_dict()


def _tiles_of_keys(keys: Sequence[str]) -> list[tuple[int, int]]:
    """Level-0 world tiles named by a step's journal keys."""
    from imkerutils.tiling.frame import TILE_KEY_PREFIX

    return [tile_of_tile_key(k) for k in keys if k.startswith(TILE_KEY_PREFIX)]


def _root_attrs(raw: RawStore) -> dict[str, Any]:
    import json

    data = raw.get("zarr.json")
    return {} if data is None else dict(json.loads(data).get("attributes", {}))


def _name(location: str | os.PathLike[str]) -> str:
    """The dataset name readers show: the canvas folder's name."""
    text = os.fspath(location).rstrip("/")
    return text.rsplit("/", 1)[-1] or "canvas"


def _absolute(location: str | os.PathLike[str]) -> str:
    """A local location as an absolute path (other processes may have another working directory)."""
    return os.fspath(location) if is_remote(location) else str(local_path(location).absolute())


def _exists(location: str | os.PathLike[str], store: Store) -> bool:
    if not is_remote(location):
        return local_path(location).exists()
    return RawStore(store).exists("zarr.json")


def _has_metadata(location: str | os.PathLike[str], store: Store) -> bool:
    if not is_remote(location):
        return (local_path(location) / "zarr.json").is_file()
    return RawStore(store).exists("zarr.json")


def _remove(location: str | os.PathLike[str], store: Store) -> None:
    if not is_remote(location):
        p = local_path(location)
        shutil.rmtree(p) if p.is_dir() else p.unlink()
        return
    from zarr.core.sync import sync

    sync(store.delete_dir(""))
