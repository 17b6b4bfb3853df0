"""The canvas: a Zarr v3 image in stable world coordinates.

World pixel (0, 0) is the top-left of the first image; growing left or up
gives negative coordinates.  Zarr arrays cannot grow towards negative
indices, so world (0, 0) sits at a fixed, tile-aligned offset (``origin``)
inside a much larger array; unwritten chunks cost nothing.  The one place
world windows become array indices is :meth:`Canvas._to_array`, so a
negative index never reaches Zarr (``z[-1024:]`` would silently write the
last chunk).

Writes are steps of the :mod:`~imkerutils.tiling.journal` (atomic, undoable);
each written chunk's raw pixels are hashed into a manifest that
:meth:`Canvas.verify` checks.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import zarr
from zarr.abc.store import Store

from imkerutils.errors import (
    CanvasChangedError,
    CanvasCorruptError,
    CanvasExistsError,
    CanvasNotFoundError,
    CanvasReadOnlyError,
    InvalidTileError,
    InvalidWindowError,
    OutOfBoundsError,
)
from imkerutils.tiling.committed import CommittedView
from imkerutils.tiling.grid import TILE_SIZE, TileGrid
from imkerutils.tiling.journal import Journal, JournalState, StepMeta
from imkerutils.tiling.location import is_remote, local_path, open_store
from imkerutils.tiling.pyramid import Pyramid, level_array, level_window, levels_needed, read_window, write_chunk
from imkerutils.tiling.rawstore import RawStore
from imkerutils.tiling.window import Window, union

if TYPE_CHECKING:
    import dask.array as da
    import xarray as xr
    from dask.delayed import Delayed

__all__ = ["CANVAS_FORMAT", "Canvas", "StepInfo", "VerifyReport"]

CANVAS_FORMAT = "imkerutils.canvas/1"
MODES = {"RGB": 3, "RGBA": 4}
LEVEL0 = "0"
MANIFEST_PREFIX = "_manifest/"
_VERIFY_BATCH = 256  # tiles verify checks at a time, on the chunk pool
# World (0, 0) sits this many tiles from the array's start on both axes: a
# multiple of 2**levels for any pyramid depth up to 17, so every level stays
# chunk-aligned.  With 1024-px tiles that is 134,217,728 px of room to grow
# left and up.  The array starts twice as large and doubles on demand, up to
# MAX_EXTENT (keeping every shape product far below 2**63).
ORIGIN_TILES = 2**17
MAX_EXTENT = 2**30


@dataclass(frozen=True, slots=True)
class StepInfo:
    """A committed (or undone / redone) step, as the caller sees it."""

    number: int
    id: str
    kind: str
    bounds_before: Window
    bounds_after: Window
    tiles: int
    created_at: str
    info: dict[str, Any]

    @classmethod
    def from_meta(cls, meta: StepMeta) -> StepInfo:
        tiles = sum(1 for k in meta.keys if k.startswith(MANIFEST_PREFIX))
        return cls(meta.number, meta.id, meta.kind, meta.bounds_before, meta.bounds_after, tiles,
                   meta.created_at, meta.info)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of :meth:`Canvas.verify`."""

    tiles_checked: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _digest(block: np.ndarray) -> bytes:
    return hashlib.sha256(np.ascontiguousarray(block).data).hexdigest().encode()


class _ArrayRegion:
    """An array-like view of one window of a Zarr array, zero outside the array.

    Lets ``dask.array.from_array`` build a graph over only the chunks a window
    touches (``from_zarr`` on the whole array costs time in its chunk count).
    """

    def __init__(self, z: zarr.Array, window: Window, token: str) -> None:
        self.z, self.window, self.token = z, window, token
        self.shape = (window.height, window.width, z.shape[2])
        self.dtype = z.dtype
        self.ndim = 3

    def __dask_tokenize__(self) -> tuple[str, str, Window]:
        return (self.token, self.z.path, self.window)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        rows, cols = key[0], key[1]
        r0, r1, _ = rows.indices(self.window.height)
        c0, c1, _ = cols.indices(self.window.width)
        sub = Window(self.window.row_off + r0, self.window.col_off + c0, r1 - r0, c1 - c0)
        out = read_window(self.z, sub)
        return out[(slice(None), slice(None), *key[2:])] if len(key) > 2 else out


class Canvas:
    """A chunked RGB(A) image on a Zarr v3 store, addressed in world coordinates.

    Open one with :meth:`create`, :meth:`from_image` or :meth:`open`.
    """

    def __init__(self, group: zarr.Group, store: Store, *, read_only: bool,
                 location: str, storage_options: dict[str, Any] | None = None) -> None:
        attrs = group.attrs.get("imkerutils")
        if not isinstance(attrs, dict) or attrs.get("format") != CANVAS_FORMAT:
            raise CanvasCorruptError("this Zarr group is not an imkerutils canvas (no canvas metadata)")
        try:
            self.mode: str = attrs["mode"]
            self.tile: int = int(attrs["tile"])
            self.origin: tuple[int, int] = (int(attrs["origin"][0]), int(attrs["origin"][1]))
            self._z = level_array(group, 0)
        except (KeyError, TypeError, ValueError) as exc:
            raise CanvasCorruptError(f"canvas metadata is incomplete: {exc}") from None
        if self.mode not in MODES:
            raise CanvasCorruptError(f"canvas mode {self.mode!r} is not one of {sorted(MODES)}")
        self.channels = MODES[self.mode]
        self.grid = TileGrid(self.tile)
        self.read_only = read_only
        self._location = location
        self._storage_options = dict(storage_options or {})
        self._group = group
        self._store = store
        self._raw = RawStore(store)
        self._local_root = self._raw.local_root
        self._journal = Journal(self._raw)
        self._pyramid = Pyramid(group, self._raw, self.tile, self.origin)
        self._state = self._journal.read_state()
        if self._state.pending is not None:
            if read_only:
                self._view_committed()
            else:
                with self._journal.lock():
                    self._state = self._journal.recover(self._journal.read_state())

    def _view_committed(self) -> None:
        """Read through a :class:`CommittedView`: a pending step's keys from their committed snapshots."""
        sources, entry_key = self._journal.committed_sources(self._state)
        self._read_through(CommittedView(self._store, sources, entry_key))

    def _read_through(self, store: Store) -> None:
        """Read the arrays, manifest and pyramid through ``store`` (read-only canvases)."""
        group = zarr.open_group(store, mode="r")
        self._z, self._raw = level_array(group, 0), RawStore(store)
        self._pyramid = Pyramid(group, self._raw, self.tile, self.origin)

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
    ) -> Canvas:
        """Create an empty canvas whose bounds are ``(0, 0, height, width)`` of background.

        ``location`` is a local folder or an fsspec URL (``s3://bucket/canvas``).
        """
        if mode not in MODES:
            raise InvalidTileError(f"canvas mode must be one of {sorted(MODES)}, got {mode!r}")
        bounds = Window(0, 0, height, width)
        store = open_store(location, storage_options=storage_options)
        if _exists(location, store):
            if not overwrite:
                raise CanvasExistsError(f"{os.fspath(location)} already exists (pass overwrite=True to replace it)")
            _remove(location, store)
            store = open_store(location, storage_options=storage_options)
        origin = ORIGIN_TILES * tile
        extent = max(2 * origin, _pow2_at_least(origin + max(height, width)))
        group = zarr.open_group(
            store,
            mode="w",
            attributes={"imkerutils": {"format": CANVAS_FORMAT, "mode": mode, "tile": tile,
                                       "origin": [origin, origin]}},
        )
        group.create_array(
            LEVEL0,
            shape=(extent, extent, MODES[mode]),
            chunks=(tile, tile, MODES[mode]),
            dtype="uint8",
            fill_value=0,
            dimension_names=("y", "x", "c"),
        )
        Journal(RawStore(store)).write_state(JournalState(bounds=bounds))
        return cls(group, store, read_only=False, location=_absolute(location), storage_options=storage_options)

    @classmethod
    def open(cls, location: str | os.PathLike[str], *, read_only: bool = False,
             storage_options: dict[str, Any] | None = None) -> Canvas:
        """Open an existing canvas (rolling back a step a killed writer left half done)."""
        store = open_store(location, read_only=read_only, storage_options=storage_options)
        if not _has_metadata(location, store):
            raise CanvasNotFoundError(f"no canvas at {os.fspath(location)} (no zarr.json)")
        try:
            group = zarr.open_group(store, mode="r" if read_only else "r+")
        except (ValueError, KeyError, TypeError) as exc:
            raise CanvasCorruptError(f"{os.fspath(location)}/zarr.json is not valid Zarr v3 metadata: {exc}") from None
        except zarr.errors.BaseZarrError as exc:
            raise CanvasCorruptError(f"{os.fspath(location)} is not a readable Zarr v3 canvas: {exc}") from None
        if group.metadata.zarr_format != 3:
            raise CanvasCorruptError(f"{os.fspath(location)}/zarr.json declares zarr_format "
                                     f"{group.metadata.zarr_format}; a canvas is Zarr v3")
        return cls(group, store, read_only=read_only, location=_absolute(location),
                   storage_options=storage_options)

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

        The input policy (one page, 8- or 16-bit samples, the pixel limit that
        ``trusted`` lifts; :func:`imkerutils.tiling.decode.probe`) is applied
        from the file's header before anything is decoded or created.  The
        image is then decoded sequentially, one strip of ``tile`` rows at a
        time, and each strip's chunks are written as it completes, so memory
        stays about two strips whatever the image size.  A local canvas is
        built under a temporary name and renamed into place, so a failure or
        a crash never leaves a half-imported canvas at ``location``; on object
        storage (no rename) the import is one journaled step, which opening
        the canvas rolls back (and a decoding error removes what was created).
        """
        # Ported from the streaming import (issue 16): probe -> create -> _write_strips -> pyramid.
        from imkerutils.tiling.decode import iter_strips, probe

        info = probe(image, trusted=trusted)  # the policy, from the header: nothing decoded yet
        if _exists(location, open_store(location, read_only=True, storage_options=storage_options)) and not overwrite:
            raise CanvasExistsError(f"{os.fspath(location)} already exists (pass overwrite=True to replace it)")
        window, step_info = Window(0, 0, info.height, info.width), {"source": str(image)}
        if is_remote(location):
            canvas = cls.create(location, mode=info.mode, tile=tile, overwrite=overwrite,
                                storage_options=storage_options)
            try:
                canvas._write_strips(iter_strips(info, tile), window, step_info)
            except BaseException:  # the step was rolled back: remove the empty canvas it was written into
                _remove(location, canvas._store)
                raise
            canvas.update_pyramid()
            return canvas
        root = local_path(location)
        tmp = root.with_name(f".{root.name}.{uuid.uuid4().hex}.importing")
        try:
            canvas = cls.create(tmp, mode=info.mode, tile=tile)
            canvas._write_strips(iter_strips(info, tile), window, step_info)
            canvas.update_pyramid()
            if root.exists():
                shutil.rmtree(root)
            os.replace(tmp, root)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return cls.open(location)

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
        """Store a file of the canvas's own (e.g. ``_generated/...``) beside its arrays, atomically."""
        self._check_writable()
        if not key.startswith(("_generated/", "outputs/")):
            raise InvalidWindowError(f"artifact keys live under _generated/ or outputs/, got {key!r}")
        self._raw.put(key, data)

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
        self._state = self._journal.read_state()
        if self.read_only and self._state.pending is not None:
            self._view_committed()  # a new view: the pending step may differ from the last one seen
        elif self.read_only and self._raw.store is not self._store:
            self._read_through(self._store)  # the step was committed or rolled back: the store itself again
        return self

    def __repr__(self) -> str:
        b = self.bounds
        return (f"Canvas({self.location!r}, mode={self.mode!r}, bounds=(row {b.row_off}, col {b.col_off}, "
                f"{b.height}x{b.width}), steps={self.head})")

    # -- coordinates ---------------------------------------------------------
    def _to_array(self, w: Window) -> Window:
        """World window -> array window (the only such conversion)."""
        return w.translate(self.origin[0], self.origin[1])

    def _chunk_of_tile(self, i: int, j: int) -> tuple[int, int]:
        return i + self.origin[0] // self.tile, j + self.origin[1] // self.tile

    def _chunks_of_keys(self, keys: Sequence[str]) -> list[tuple[int, int]]:
        """Level-0 chunk coordinates named by a step's store keys."""
        prefix = f"{LEVEL0}/c/"
        return [(int(p[0]), int(p[1])) for p in (k[len(prefix):].split("/") for k in keys if k.startswith(prefix))]

    def _tile_key(self, i: int, j: int) -> str:
        ci, cj = self._chunk_of_tile(i, j)
        return f"{LEVEL0}/" + self._z.metadata.encode_chunk_key((ci, cj, 0))

    # -- reads ---------------------------------------------------------------
    @property
    def levels(self) -> int:
        """Number of pyramid levels (level 0 included) the current bounds need."""
        return levels_needed(self.bounds, self.tile)

    def level_array(self, level: int) -> zarr.Array | None:
        """The Zarr array :meth:`read` reads for ``level``.

        ``None`` when that level is not built, or when a read-only canvas's pyramid is behind its
        level 0 (tiles written since its last update), so that no caller copies stale chunks.

        On a read-only canvas with a step pending this is the array over its committed view.
        Its array index ``origin >> level`` is world ``(0, 0)`` of that level.
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
            return read_window(self._z, self._to_array(window))
        if not 0 < level < self.levels:
            raise InvalidWindowError(f"level must be in 0..{self.levels - 1} for this canvas, got {level}")
        shift = (self.origin[0] >> level, self.origin[1] >> level)
        if self.read_only:  # cannot update: stale or missing chunks are reduced from finer levels in memory
            return self._pyramid.read_current(level, window.translate(*shift), self.bounds)
        self.update_pyramid()
        return read_window(self._pyramid.array(level), window.translate(*shift))

    def update_pyramid(self) -> int:
        """Recompute the coarser levels over the tiles written since the last update.

        Returns the number of chunks recomputed (0 when already up to date).
        """
        self._check_writable()
        if self._pyramid.is_current(self.bounds):  # the common case: no lock, so readers never contend
            return 0
        with self._journal.lock():
            return self._pyramid.update(self.bounds)

    def to_dask(self, window: Window | None = None) -> da.Array:
        """A lazy dask array of ``window`` (default: the bounds) over only the chunks it touches."""
        import dask.array as da
        from dask.base import tokenize

        w = self.bounds if window is None else window
        aw = self._to_array(w)
        rows = _aligned_chunks(aw.row_off, aw.height, self.tile)
        cols = _aligned_chunks(aw.col_off, aw.width, self.tile)
        region = _ArrayRegion(self._z, aw, f"{self.location}:{self._state.token}")
        name = "canvas-read-" + tokenize(self.location, self._state.token, w)
        return da.from_array(region, chunks=(rows, cols, (self.channels,)), name=name, asarray=False,
                             lock=False, fancy=False, meta=np.empty((0, 0, 0), np.uint8))

    def to_xarray(self, window: Window | None = None) -> xr.DataArray:
        """``window`` as a lazy xarray with world ``y``/``x`` coordinates and a ``c`` dimension."""
        import xarray as xr

        w = self.bounds if window is None else window
        return xr.DataArray(
            self.to_dask(w),
            dims=("y", "x", "c"),
            coords={"y": np.arange(w.row_off, w.row_end), "x": np.arange(w.col_off, w.col_end),
                    "c": list(self.mode)},
            name="canvas",
        )

    # -- writes --------------------------------------------------------------
    def _check_writable(self) -> None:
        if self.read_only:
            raise CanvasReadOnlyError(f"canvas {self.location} was opened read-only")

    def _ensure_extent(self, bounds: Window) -> None:
        a = self._to_array(bounds)
        if a.row_off < 0 or a.col_off < 0:
            raise OutOfBoundsError(
                f"canvas cannot grow past {self.origin[0]} px left of or above world (0, 0)")
        need = max(a.row_end, a.col_end, self._z.shape[0])
        if need > self._z.shape[0]:
            new = _pow2_at_least(need)
            if new > MAX_EXTENT:
                raise OutOfBoundsError(f"canvas cannot grow beyond {MAX_EXTENT} px of array extent")
            self._z.resize((new, new, self.channels))
            self._pyramid.resize(new)

    def _validate(self, data: Any) -> tuple[int, int]:
        shape = getattr(data, "shape", None)
        dtype = getattr(data, "dtype", None)
        if shape is None or len(shape) != 3 or shape[2] != self.channels:
            raise InvalidTileError(
                f"pixels must have shape (height, width, {self.channels}) for a {self.mode} canvas, got {shape}")
        if dtype != np.uint8:
            raise InvalidTileError(f"pixels must be uint8, got {dtype}")
        return int(shape[0]), int(shape[1])

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
        import dask

        self._check_writable()
        if not pieces:
            raise InvalidWindowError("nothing to write: no pieces given")
        per_tile: dict[tuple[int, int], list[tuple[Window, Any]]] = {}
        covered: Window | None = None
        for row, col, data in pieces:
            h, w = self._validate(data)
            target = Window(row, col, h, w)
            if target.is_empty:
                raise InvalidWindowError("nothing to paste: the pixels have zero height or width")
            if not self.bounds.contains(target) and not grow:
                b = self.bounds
                raise OutOfBoundsError(
                    f"paste window rows {target.row_off}..{target.row_end}, cols {target.col_off}..{target.col_end}"
                    f" leaves the canvas bounds rows {b.row_off}..{b.row_end}, cols {b.col_off}..{b.col_end} "
                    "(pass grow=True, or --grow on the command line, to extend the canvas)")
            covered = target if covered is None else union(covered, target)
            for (ij, piece), block in zip(self.grid.split(target), _source_blocks(data, target, self.grid),
                                          strict=True):
                # A lazy source block is computed inside its chunk task (see _Lazy), so that its failure,
                # like any other, reaches the commit task, which rolls the step back.
                per_tile.setdefault(ij, []).append((piece, _Lazy(block) if hasattr(block, "compute") else block))
        assert covered is not None
        keys = [k for ij in per_tile for k in (self._tile_key(*ij), MANIFEST_PREFIX + self._tile_key(*ij))]
        tx = _Step(self, kind, keys, covered, grow, info or {}, expect_token)
        if not compute:
            token = uuid.uuid4().hex
            begun = dask.delayed(tx.begin, pure=False)(dask_key_name=f"{kind}-begin-{token}")
            writes = [
                dask.delayed(self._write_tile, pure=False)(begun, ij, parts,
                                                           dask_key_name=f"{kind}-chunk-{token}-{n}")
                for n, (ij, parts) in enumerate(per_tile.items())
            ]
            return dask.delayed(tx.commit, pure=False)(writes, dask_key_name=f"{kind}-commit-{token}")
        # Computed now: the same tasks (begin, one per chunk, commit) on a shared pool, without the cost
        # of building and scheduling a graph.  Each chunk task reads and merges its chunk and hashes it
        # while this thread snapshots and marks the step pending (reads only: the lock is held); the
        # gate lets the writes start after that.  Chunk tasks return their failures, so commit() sees
        # them all and rolls back if needed.
        tx.lock()
        gate = _Gate()

        def chunk_task(item: tuple[tuple[int, int], list[tuple[Window, Any]]]) -> BaseException | None:
            try:
                full = self._merge_tile(*item)
                digest = _digest(full)
            except Exception as exc:
                return exc
            if not gate.wait():
                return None  # the step was abandoned before any write
            try:
                self._store_tile(item[0], full, digest)
            except Exception as exc:
                return exc
            return None

        results = _chunk_pool().map(chunk_task, per_tile.items())  # submits every task now
        try:
            tx.mark_pending()
            gate.open()
        finally:
            gate.close()  # no-op once open; else (begin failed, or an interrupt) tasks end without writing
        try:
            done = list(results)
        except BaseException:
            tx.abort()
            raise
        return tx.commit(done)

    def _write_tile(self, _begun: Any, ij: tuple[int, int], parts: list[tuple[Window, Any]]) -> BaseException | None:
        """Write one chunk's share of a step (the only writer of that chunk) and its manifest entry.

        Returns, rather than raises, any failure, so that the step's commit task
        always runs and can roll the step back, even when the graph is computed
        by a caller (``compute=False``).
        """
        try:
            full = self._merge_tile(ij, parts)
            self._store_tile(ij, full, _digest(full))
        except Exception as exc:  # handed to _Step.commit, which rolls back and re-raises
            return exc
        return None

    def _merge_tile(self, ij: tuple[int, int], parts: list[tuple[Window, Any]]) -> np.ndarray:
        """Chunk ``ij`` as the step leaves it: its pieces merged into its current pixels (no write)."""
        parts = [(piece, block.compute() if isinstance(block, _Lazy) else block) for piece, block in parts]
        tw = self.grid.tile_window(*ij)
        if len(parts) == 1 and parts[0][0] == tw:
            return np.asarray(parts[0][1])
        aw = self._to_array(tw)
        full = np.asarray(self._z[aw.row_off:aw.row_end, aw.col_off:aw.col_end])  # a fresh, writable array
        if not full.flags.writeable:
            full = full.copy()
        for piece, block in parts:
            full[piece.slices((tw.row_off, tw.col_off))] = block
        return full

    def _store_tile(self, ij: tuple[int, int], full: np.ndarray, digest: bytes) -> None:
        """Write chunk ``ij`` and its manifest hash, after its pyramid dirty marker."""
        self._pyramid.mark_dirty([self._chunk_of_tile(*ij)])
        aw = self._to_array(self.grid.tile_window(*ij))
        write_chunk(self._z, aw.row_off, aw.col_off, full)
        self._raw.put(MANIFEST_PREFIX + self._tile_key(*ij), digest)

    def grow(self, window: Window, *, info: dict[str, Any] | None = None) -> StepInfo:
        """Extend the bounds to hold ``window`` (any direction); new area is background."""
        self._check_writable()
        tx = _Step(self, "grow", [], window, True, info or {})
        tx.begin()
        return tx.commit([])

    def undo(self) -> StepInfo:
        """Revert the last committed step (O(tiles it wrote))."""
        self._check_writable()
        with self._journal.lock():
            state = self._journal.recover(self._journal.read_state())
            if state.head > 0:
                self._pyramid.mark_dirty(self._chunks_of_keys(self._journal.read_meta(state.head, state).keys))
            meta, self._state = self._journal.undo(state)
        return StepInfo.from_meta(meta)

    def redo(self) -> StepInfo:
        """Re-apply the last undone step."""
        self._check_writable()
        with self._journal.lock():
            state = self._journal.recover(self._journal.read_state())
            if state.head < state.top:
                self._pyramid.mark_dirty(self._chunks_of_keys(self._journal.read_meta(state.head + 1, state).keys))
            meta, self._state = self._journal.redo(state)
        return StepInfo.from_meta(meta)

    def history(self) -> list[StepInfo]:
        """Committed steps, oldest first."""
        return [StepInfo.from_meta(m) for m in self._journal.steps(self._state)]

    # -- integrity -------------------------------------------------------------
    def verify(self) -> VerifyReport:
        """Check every tile's pixels against the manifest of SHA-256 hashes."""
        manifest = {k[len(MANIFEST_PREFIX):] for k in self._raw.list_prefix(MANIFEST_PREFIX + LEVEL0 + "/")}
        chunks = {k for k in self._raw.list_prefix(LEVEL0 + "/c/")}
        problems = []
        for key in sorted(chunks - manifest):
            problems.append(f"chunk {key} has no manifest entry (written outside imkerutils?)")
        keys = sorted(manifest)
        for start in range(0, len(keys), _VERIFY_BATCH):  # batches: a bounded number of tasks in flight
            problems.extend(p for p in _chunk_pool().map(self._check_tile, keys[start:start + _VERIFY_BATCH]) if p)
        return VerifyReport(tiles_checked=len(manifest), problems=tuple(problems))

    def _check_tile(self, key: str) -> str | None:
        """The problem with the tile of manifest ``key`` (a chunk key), or ``None``."""
        ci, cj = (int(p) for p in key.split("/")[2:4])
        i, j = ci - self.origin[0] // self.tile, cj - self.origin[1] // self.tile
        where = f"tile ({i}, {j}) at world row {i * self.tile}, col {j * self.tile}"
        try:
            block = np.asarray(self._z[ci * self.tile:(ci + 1) * self.tile, cj * self.tile:(cj + 1) * self.tile])
        except OSError:
            raise  # the store could not be read: not a statement about the tile's bytes
        except Exception as exc:  # the codec's own error type (zstd, blosc, ...) for bytes it cannot decode
            return f"{where}: its chunk cannot be decoded ({type(exc).__name__}: {exc})"
        if self._raw.get(MANIFEST_PREFIX + key) == _digest(block):
            return None
        return f"{where}: pixels do not match the manifest hash"

    def export(self, out: str | os.PathLike[str], **options: Any) -> Path:
        """Stream a region to ``out`` (PNG, tiled BigTIFF, OME-Zarr, JPEG, WebP by extension).

        Options as :func:`imkerutils.tiling.export.export_region` (``region``,
        ``level``, ``compression``, ``pyramid``, ``progress``, ``overwrite``).
        """
        from imkerutils.tiling.export import export_region

        return export_region(self, out, **options)

    def written_tiles(self) -> int:
        """Number of tiles the manifest records."""
        return len(self._raw.list_prefix(MANIFEST_PREFIX + LEVEL0 + "/"))

    def disk_usage(self) -> int:
        """Bytes on disk under the canvas root (local stores)."""
        root = self._local_root
        if root is None:
            return 0
        return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())

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


    # -- streaming import (issue 16; self-contained, used only by from_image) ------------------------------
    def _write_strips(self, strips: Iterator[tuple[int, np.ndarray]], window: Window,
                      info: dict[str, Any]) -> StepInfo:
        """Write an image that arrives strip by strip into ``window`` as ONE journaled step.

        ``strips`` yields ``(row_off, (h, window.width, channels) uint8)`` top to
        bottom, each ``tile`` rows (the last may be shorter), relative to
        ``window``'s top-left, which must lie on the tile grid.  Every chunk key
        of the window is named up front (snapshots of absent keys cost nothing),
        the step is marked pending, and each strip's chunks are merged, hashed
        and written on the chunk pool while the next strip is decoded.  At most
        two strips are alive (one when two would pass 160 MiB), so memory does
        not grow with the image height.  Any failure, in the decoder or in a
        chunk write, rolls the whole step back and re-raises.
        """
        import collections

        self._check_writable()
        t = self.tile
        if window.row_off % t or window.col_off % t or window.is_empty:
            raise InvalidWindowError(f"a streamed import needs a non-empty, tile-aligned window, got {window}")
        budget = 160 << 20  # two strips stay alive (one decoding, one writing) only while they fit in this
        alive = 2 if 2 * t * window.width * self.channels <= budget else 1
        keys = [k for ij in self.grid.tiles(window)
                for k in (self._tile_key(*ij), MANIFEST_PREFIX + self._tile_key(*ij))]
        tx = _Step(self, "paste", keys, window, True, info)  # the kind an import always had
        tx.begin()

        def chunk_task(ij: tuple[int, int], piece: Window, block: np.ndarray) -> BaseException | None:
            try:
                full = self._merge_tile(ij, [(piece, block)])
                self._store_tile(ij, full, _digest(full))
            except Exception as exc:  # handed to commit, which rolls the step back
                return exc
            return None

        in_flight: collections.deque[list[Any]] = collections.deque()  # the chunk futures of each live strip
        results: list[BaseException | None] = []
        expect = window.row_off
        try:
            for row_off, strip in strips:
                top = window.row_off + row_off
                h, w = self._validate(strip)
                if top != expect or w != window.width or not 0 < h <= t or top + h > window.row_end:
                    raise InvalidTileError(f"strip at row {row_off} of shape {strip.shape} does not continue the "
                                           f"import of {window} (expected row {expect - window.row_off})")
                expect = top + h
                target = Window(top, window.col_off, h, window.width)
                at = (top, window.col_off)
                in_flight.append([_chunk_pool().submit(chunk_task, ij, piece, strip[piece.slices(at)])
                                  for ij, piece in self.grid.split(target)])
                del strip  # only the chunk tasks hold it now, so it is freed as soon as they finish
                while len(in_flight) >= alive:  # let the oldest strip finish before decoding another
                    results.extend(f.result() for f in in_flight.popleft())
                if any(r is not None for r in results):
                    break
            if expect != window.row_end and not any(r is not None for r in results):
                raise InvalidTileError(f"the strips ended at row {expect - window.row_off} of {window.height}")
        except BaseException:
            for futures in in_flight:  # no chunk task may outlive the step it writes for
                for f in futures:
                    f.cancel()
                    if not f.cancelled():
                        f.exception()
            tx.abort()
            raise
        while in_flight:
            results.extend(f.result() for f in in_flight.popleft())
        return tx.commit(results)


class _Step:
    """One write step: lock, snapshot, pending mark, writes, commit."""

    def __init__(self, canvas: Canvas, kind: str, keys: list[str], window: Window, grow: bool,
                 info: dict[str, Any], expect_token: str | None = None) -> None:
        self.canvas, self.kind, self.keys, self.window, self.grow, self.info = (
            canvas, kind, keys, window, grow, info)
        self.expect_token = expect_token
        self._lock: contextlib.ExitStack | None = None
        self._meta: StepMeta | None = None
        self._state: JournalState | None = None
        self._after = window

    def begin(self) -> None:
        self.lock()
        self.mark_pending()

    def lock(self) -> None:
        """Take the write lock, finish what a killed writer left, check the token, make room: no writes yet."""
        c = self.canvas
        stack = contextlib.ExitStack()
        stack.enter_context(c._journal.lock())
        self._lock = stack
        try:
            state = c._journal.recover(c._journal.read_state())
            if self.expect_token is not None and state.token != self.expect_token:
                raise CanvasChangedError(
                    f"canvas {c.location} changed since the data for this step was read; nothing was written")
            self._after = union(state.bounds, self.window) if self.grow else state.bounds
            c._ensure_extent(self._after)
            self._state = state
        except BaseException:
            self.abort()
            raise

    def mark_pending(self) -> None:
        """Snapshot every key and mark the step pending: chunk writes may start after this.

        (Each chunk task drops its chunk's pyramid dirty marker itself, just before its write.)
        """
        c = self.canvas
        assert self._state is not None
        try:
            self._meta, self._state = c._journal.begin(self._state, self.kind, self.keys, self._after, self.info)
        except BaseException:
            self.abort()
            raise

    def commit(self, writes: list[BaseException | None]) -> StepInfo:
        """Commit when every chunk task succeeded; else roll back, release the lock and raise the first failure."""
        failures = [w for w in writes if isinstance(w, BaseException)]
        if failures:
            self.abort()
            raise failures[0]
        assert self._meta is not None and self._state is not None
        c = self.canvas
        c._state = c._journal.commit(self._state, self._meta)
        self._release()
        return StepInfo.from_meta(self._meta)

    def abort(self) -> None:
        """Roll back a begun step (after a failed write) and release the lock."""
        c = self.canvas
        try:
            if self._state is not None and self._state.pending is not None and self._lock is not None:
                c._state = c._journal.rollback(c._journal.read_state())
        finally:
            self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


@functools.cache
def _chunk_pool() -> ThreadPoolExecutor:
    """The threads that run chunk tasks of writes computed at once (made on first use).

    A chunk task spends much of its time waiting on zarr's event loop (I/O, and codecs in zarr's own
    threads), so more tasks than cores keep both busy: measured on 2 cores, a 4-chunk paste took
    about 75 ms with 2 threads and 57 ms with 8 (``benchmarks/bench_paste_ratio.py``).
    """
    return ThreadPoolExecutor(max_workers=4 * (os.cpu_count() or 1), thread_name_prefix="imkerutils-chunk")


class _Gate:
    """Opened once a step is pending (chunk writes may start), or closed for good (they must not)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._open = False

    def open(self) -> None:
        self._open = True
        self._event.set()

    def close(self) -> None:
        self._event.set()

    def wait(self) -> bool:
        """Block until opened or closed; whether writes may go ahead."""
        self._event.wait()
        return self._open


class _Lazy:
    """A dask block hidden from dask's argument traversal, computed inside the task that needs it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def compute(self) -> np.ndarray:
        return np.asarray(self.value.compute(scheduler="sync"))


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


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _aligned_chunks(start: int, length: int, tile: int) -> tuple[int, ...]:
    """Chunk sizes along one axis so that block edges fall on tile lines."""
    if length == 0:
        return (0,)
    sizes = []
    pos, end = start, start + length
    while pos < end:
        nxt = min(end, (pos // tile + 1) * tile)
        sizes.append(nxt - pos)
        pos = nxt
    return tuple(sizes)


def _source_blocks(data: Any, target: Window, grid: TileGrid) -> Iterator[Any]:
    """The part of ``data`` for each tile piece of ``target``, in ``grid.split`` order.

    A dask source is rechunked so its blocks are exactly those pieces; a NumPy
    source is sliced (views, no copies).
    """
    rows = _aligned_chunks(target.row_off, target.height, grid.size)
    cols = _aligned_chunks(target.col_off, target.width, grid.size)
    if hasattr(data, "to_delayed"):
        blocks = data.rechunk((rows, cols, data.shape[2])).to_delayed()
        for bi in range(len(rows)):
            for bj in range(len(cols)):
                yield blocks[bi, bj, 0]
        return
    arr = np.asarray(data)
    r = 0
    for h in rows:
        c = 0
        for w in cols:
            yield arr[r : r + h, c : c + w]
            c += w
        r += h

