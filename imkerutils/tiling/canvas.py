"""The canvas: an OME-Zarr 0.5 image in stable world coordinates, written in atomic, undoable steps.

World pixel (0, 0) is the top-left of the first image; growing left or up gives negative coordinates.
Each level's array covers the content plus a bounded margin; where world tiles sit in the arrays is the
business of one :class:`~imkerutils.tiling.frame.Frame` (kept in the journal's committed state), so a
negative index never reaches Zarr and a rebase (:mod:`.rebase`) changes one value.

Writes are steps of the :mod:`~imkerutils.tiling.journal` (:mod:`.step`); each written tile's raw pixels
are hashed into a manifest that :meth:`Canvas.verify` checks (:mod:`.verify`).  The folder layout is
:mod:`.layout`'s; images come in through :mod:`.importer`.

:class:`Canvas` is the facade over modules of one concept each: :mod:`.opening` creates, opens and
upgrades the folder; :mod:`.storage` keeps the committed state and the arrays of the moment (recovery,
room for a step, settling after one, undo and redo); :mod:`.views` makes the lazy dask and xarray views;
:mod:`.artifacts` stores the canvas's own files with their hashes.
"""

from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypedDict, Unpack, overload

from imkerutils.errors import CanvasNotFoundError, CanvasReadOnlyError, InvalidWindowError
from imkerutils.tiling import artifacts, legacy, views
from imkerutils.tiling.frame import Frame, level_window
from imkerutils.tiling.grid import TILE_SIZE, TileGrid
from imkerutils.tiling.layout import CANVAS_FORMAT, MODES, read_window
from imkerutils.tiling.location import absolute
from imkerutils.tiling.opening import canvas_attributes, create_folder, open_folder, upgrade_folder
from imkerutils.tiling.pyramid import levels_needed
from imkerutils.tiling.step import (
    MANIFEST_TILES,
    Step,
    StepInfo,
    extend_flag,
    manifest_key,
    merge_tile,
    plan_pieces,
    run_later,
    run_now,
    step_keys,
)
from imkerutils.tiling.storage import CanvasStorage
from imkerutils.tiling.verify import VerifyReport, verify_canvas

if TYPE_CHECKING:
    import contextlib
    import os
    from collections.abc import Sequence
    from pathlib import Path

    import dask.array as da
    import numpy as np
    import xarray as xr
    import zarr
    from dask.delayed import Delayed
    from distributed import Client
    from zarr.abc.store import Store

    from imkerutils.tiling.window import Window

    #: Pixels to write: ``(h, w, channels)`` uint8, NumPy or dask.
    Pixels: TypeAlias = np.ndarray | da.Array
    #: Pieces to write as one step: ``(row, col, pixels)``, later ones winning where they overlap.
    Pieces: TypeAlias = Sequence[tuple[int, int, Pixels]]
    #: Free-form notes a step keeps in its journal entry (:attr:`StepInfo.info`).
    Info: TypeAlias = dict[str, Any] | None

    class WriteOptions(TypedDict, total=False):
        """The keywords of :meth:`Canvas.write` besides ``compute``, typed once for its three overloads."""

        extend: bool
        info: Info
        kind: str
        expect_token: str | None
        step_id: str | None


__all__ = ["CANVAS_FORMAT", "Canvas", "StepInfo", "VerifyReport"]


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
        attrs, self.mode, self.tile = canvas_attributes(group_attrs)
        self.channels = MODES[self.mode]
        self.grid = TileGrid(self.tile)
        self.read_only = read_only
        self._location = location
        self._storage_options = dict(storage_options or {})
        self._store = store
        self._storage = CanvasStorage(
            store, mode=self.mode, tile=self.tile, channels=self.channels, read_only=read_only, location=location
        )
        self._raw, self._journal = self._storage.raw, self._storage.journal
        if not read_only:
            self._storage.finish_interrupted(attrs)

    @property
    def frame(self) -> Frame:
        """Where world tiles sit in the level arrays (changes only on a rebase)."""
        return self._storage.state.frame

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
        attrs, store = create_folder(
            location,
            mode=mode,
            height=height,
            width=width,
            tile=tile,
            overwrite=overwrite,
            storage_options=storage_options,
            plan_for=plan_for,
        )
        return cls(attrs, store, read_only=False, location=absolute(location), storage_options=storage_options)

    @classmethod
    def open(
        cls, location: str | os.PathLike[str], *, read_only: bool = False, storage_options: dict[str, Any] | None = None
    ) -> Canvas:
        """Open an existing canvas (rolling back a step a killed writer left half done)."""
        attrs, store = open_folder(location, read_only=read_only, storage_options=storage_options)
        return cls(attrs, store, read_only=read_only, location=absolute(location), storage_options=storage_options)

    @classmethod
    def upgrade(cls, location: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None) -> bool:
        """Convert a canvas of format 1 in place (crash-safe); returns whether there was anything to do.

        Opening such a canvas for writing does the same (with a one-line notice in the log).
        """
        upgraded = upgrade_folder(location, storage_options=storage_options)
        cls.open(location, storage_options=storage_options)  # also finishes an upgrade a kill interrupted
        return upgraded

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
        root = self._raw.local_root
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
        artifacts.put_artifact(self._raw, key, data)

    def get_artifact(self, key: str) -> bytes | None:
        """Return the bytes of artifact ``key`` (``None`` when there is none)."""
        return self._storage.read_raw.get(key)

    def list_artifacts(self, prefix: str) -> list[str]:
        """Return the keys of the artifacts under the folder ``prefix``, sorted."""
        return artifacts.list_artifacts(self._storage.read_raw, prefix)

    def delete_artifacts(self, prefix: str) -> None:
        """Delete every artifact under the folder ``prefix`` (e.g. ``_staged/<id>/``) and its hash entries."""
        self._check_writable()
        artifacts.delete_artifacts(self._raw, prefix)

    @property
    def bounds(self) -> Window:
        """The world window holding content (background outside it)."""
        return self._storage.state.bounds

    @property
    def head(self) -> int:
        """Number of the last committed step (0 = none)."""
        return self._storage.state.head

    @property
    def redoable(self) -> int:
        """How many undone steps :meth:`redo` can re-apply."""
        return self._storage.state.top - self._storage.state.head

    @property
    def state_token(self) -> str:
        """Changes with every commit, undo and redo."""
        return self._storage.state.token

    def refresh(self) -> Canvas:
        """Re-read the committed state (another process may have written)."""
        self._storage.refresh()
        return self

    def __repr__(self) -> str:
        b, where = self.bounds, f"Canvas({self.location!r}, mode={self.mode!r}"
        return f"{where}, bounds=(row {b.row_off}, col {b.col_off}, {b.height}x{b.width}), steps={self.head})"

    # -- reads ---------------------------------------------------------------
    @property
    def levels(self) -> int:
        """Number of pyramid levels (level 0 included) the current bounds need."""
        return levels_needed(self.bounds, self.tile)

    def level_array(self, level: int) -> zarr.Array[Any] | None:
        """Return the Zarr array :meth:`read` reads for ``level`` (``(C, H, W)``; see :attr:`frame` for placement).

        ``None`` when that level is not built, or when a read-only canvas's pyramid is behind its
        level 0 (tiles written since its last update), so that no caller copies stale chunks.
        On a read-only canvas with a step pending this is the array over its committed view.
        """
        if level == 0:
            return self._storage.z
        if self.read_only and not self._storage.pyramid.is_current(self.bounds):
            return None  # its stored chunks may be stale: read() reduces those from finer levels
        try:
            return self._storage.pyramid.array(level)
        except KeyError:
            return None

    def level_bounds(self, level: int) -> Window:
        """Return the bounds in level-``level`` pixels (floor of the start, ceil of the end)."""
        return level_window(self.bounds, level)

    def read(self, window: Window, level: int = 0) -> np.ndarray:
        """Pixels of a window as ``(height, width, channels)`` uint8; background outside bounds.

        ``window`` is in world coordinates at ``level`` 0, and in level pixels
        (world // 2**level) above it.  Reading a coarser level of a writable
        canvas first brings the pyramid up to date; a read-only canvas reduces
        the chunks its pyramid has not caught up on in memory instead.
        """
        if level == 0:
            return self._storage.read(window)
        if not 0 < level < self.levels:
            raise InvalidWindowError(f"level must be in 0..{self.levels - 1} for this canvas, got {level}")
        if self.read_only:  # cannot update: stale or missing chunks are reduced from finer levels in memory
            return self._storage.pyramid.read_current(level, window, self.bounds)
        self.update_pyramid()
        return read_window(self._storage.pyramid.array(level), self.frame.to_array(window, level))

    def caching_tiles(self) -> contextlib.AbstractContextManager[None]:
        """Within the block, level-0 reads decode each stored tile once (a few kept; exact across writes)."""
        return self._storage.caching_tiles()

    def update_pyramid(self, *, workers: int | None = None, client: Client | None = None) -> int:
        """Recompute the coarser levels over the tiles written since the last update.

        Each level's chunks are reduced on ``workers`` threads (default: one per core), or as tasks on a
        ``dask.distributed`` ``client``'s workers, which open this canvas's location themselves.  Returns the
        number of chunks recomputed (0 when already up to date).
        """
        self._check_writable()
        return self._storage.update_pyramid(workers=workers, client=client, storage_options=self.storage_options)

    def to_dask(self, window: Window | None = None) -> da.Array:
        """Return a lazy dask array of ``window`` (default: the bounds) over only the chunks it touches."""
        return views.to_dask(self, window)

    def to_xarray(self, window: Window | None = None) -> xr.DataArray:
        """``window`` as a lazy xarray with world ``y``/``x`` coordinates and a ``c`` dimension."""
        return views.to_xarray(self, window)

    def _check_writable(self) -> None:
        if self.read_only:
            raise CanvasReadOnlyError(f"canvas {self.location} was opened read-only")

    # -- writes --------------------------------------------------------------
    @overload
    def paste(
        self, data: Pixels, row: int, col: int, *, extend: bool = ..., compute: Literal[True] = ..., info: Info = ...
    ) -> StepInfo: ...
    @overload
    def paste(
        self, data: Pixels, row: int, col: int, *, extend: bool = ..., compute: Literal[False], info: Info = ...
    ) -> Delayed: ...
    @overload
    def paste(
        self, data: Pixels, row: int, col: int, *, extend: bool = ..., compute: bool, info: Info = ...
    ) -> StepInfo | Delayed: ...
    def paste(
        self,
        data: Pixels,
        row: int,
        col: int,
        *,
        extend: bool = False,
        compute: bool = True,
        info: Info = None,
        grow: bool | None = None,
    ) -> StepInfo | Delayed:
        """Write ``data`` with its top-left at world ``(row, col)``, as one atomic step.

        ``data`` is ``(h, w, channels)`` uint8, NumPy or dask.  A window outside
        the bounds is an error unless ``extend=True`` (bounds become the union;
        ``grow=`` is its deprecated old name).
        With ``compute=False`` returns a ``dask.delayed`` object that performs
        the step when computed (one task per chunk).
        """
        extend = extend_flag(extend, grow)
        return self.write([(row, col, data)], extend=extend, compute=compute, info=info, kind="paste")

    @overload
    def write(self, pieces: Pieces, *, compute: Literal[True] = ..., **options: Unpack[WriteOptions]) -> StepInfo: ...
    @overload
    def write(self, pieces: Pieces, *, compute: Literal[False], **options: Unpack[WriteOptions]) -> Delayed: ...
    @overload
    def write(self, pieces: Pieces, *, compute: bool, **options: Unpack[WriteOptions]) -> StepInfo | Delayed: ...
    def write(
        self,
        pieces: Pieces,
        *,
        extend: bool = False,
        compute: bool = True,
        info: Info = None,
        kind: str = "write",
        expect_token: str | None = None,
        grow: bool | None = None,
        step_id: str | None = None,
    ) -> StepInfo | Delayed:
        """Write several ``(row, col, pixels)`` pieces as ONE atomic step (later pieces win on overlap).

        Every chunk the pieces touch gets exactly one task, which merges all
        the pieces that fall in it: no two tasks ever write the same chunk.
        With ``expect_token``, the step is refused (:class:`CanvasChangedError`,
        nothing written) unless the committed state still has that
        :attr:`state_token`: an optimistic check for writes computed from an
        earlier read.  ``step_id`` names the step (its :attr:`StepInfo.id`; default: a new one).
        """
        self._check_writable()
        extend = extend_flag(extend, grow)
        per_tile, covered = plan_pieces(pieces, self.tile, self.channels, self.mode, self.bounds, extend)
        tx = Step(self, kind, step_keys(list(per_tile)), covered, extend, info or {}, expect_token, step_id)
        if compute:
            return run_now(tx, per_tile, functools.partial(merge_tile, self), self._store_tile)
        return run_later(tx, per_tile)

    def _store_tile(self, ij: tuple[int, int], full: np.ndarray, hexdigest: bytes) -> None:
        """Write tile ``ij`` and its manifest hash, after its pyramid dirty marker."""
        self._storage.pyramid.mark_dirty([ij])
        self._storage.write_tile(ij, full)
        self._raw.put(manifest_key(*ij), hexdigest)

    def extend(self, window: Window, *, info: dict[str, Any] | None = None) -> StepInfo:
        """Extend the bounds to hold ``window`` (any direction), as one step; the new area is background."""
        self._check_writable()
        tx = Step(self, "extend", [], window, True, info or {})
        tx.begin()
        return tx.commit([])

    def grow(self, window: Window, *, info: dict[str, Any] | None = None) -> StepInfo:
        """Extend the bounds to hold ``window``: the deprecated old name of :meth:`extend`.

        "Grow" now means generating new content (:func:`imkerutils.exquisite.pipeline.grow`).
        """
        warnings.warn("Canvas.grow(window) is deprecated: use Canvas.extend(window)", DeprecationWarning, stacklevel=2)
        return self.extend(window, info=info)

    def undo(self) -> StepInfo:
        """Revert the last committed step (O(tiles it wrote))."""
        return self._travel(back=True)

    def redo(self) -> StepInfo:
        """Re-apply the last undone step."""
        return self._travel(back=False)

    def _travel(self, *, back: bool) -> StepInfo:
        self._check_writable()
        return StepInfo.from_meta(self._storage.travel(back=back))

    def history(self) -> list[StepInfo]:
        """Return the committed steps, oldest first."""
        return [StepInfo.from_meta(m) for m in self._journal.steps(self._storage.state)]

    def undone(self) -> list[StepInfo]:
        """Return the undone steps :meth:`redo` can re-apply, the next one to redo first."""
        state = self._storage.state
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
        """Return the number of tiles the manifest records."""
        return len(self._storage.read_raw.list_prefix(MANIFEST_TILES))

    def disk_usage(self) -> int:
        """Bytes under the canvas root (local folders; object storage: the sum of object sizes)."""
        return self._raw.total_size()

    def summary(self) -> dict[str, Any]:
        """Return what ``imkerutils info`` prints."""
        return views.summary(self)

    def written_tile_windows(self, window: Window) -> list[Window]:
        """World windows of the level-0 tiles that meet ``window`` and that some step wrote (the manifest's)."""
        return views.written_tile_windows(self, self._storage.read_raw.list_prefix(MANIFEST_TILES), window)

    def close(self) -> None:
        """Release the canvas's store (the write lock is held only inside a step, so none remains after this)."""
        self._store.close()

    def __enter__(self) -> Canvas:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
