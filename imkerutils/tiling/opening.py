"""Creating, opening and upgrading a canvas folder: the work before a :class:`Canvas` object exists.

:func:`create_folder` writes an empty canvas (root metadata, the level-0 array, the bookkeeping folders
and the journal's first state) in a frame planned for the content about to come; :func:`open_folder`
checks that a location holds a Zarr v3 canvas and returns its root attributes, upgrading a canvas of
format 1 in place when it is opened for writing (:mod:`.legacy`); :func:`canvas_attributes` reads the
canvas's own attributes from those.  :class:`~imkerutils.tiling.canvas.Canvas` calls these from its
constructors and takes it from there (:mod:`.storage`).
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

import zarr

from imkerutils.errors import CanvasCorruptError, CanvasExistsError, CanvasNotFoundError, InvalidTileError
from imkerutils.tiling import legacy
from imkerutils.tiling.frame import plan_frame
from imkerutils.tiling.grid import check_tile_size
from imkerutils.tiling.journal import Journal, JournalState
from imkerutils.tiling.layout import CANVAS_FORMAT, MODES, create_level, mark_bookkeeping, write_root
from imkerutils.tiling.location import dataset_name, exists, has_metadata, open_store, remove
from imkerutils.tiling.pyramid import levels_needed
from imkerutils.tiling.rawstore import RawStore
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from zarr.abc.store import Store

__all__ = ["BOOKKEEPING", "canvas_attributes", "create_folder", "open_folder", "upgrade_folder"]

#: The bookkeeping folders every canvas has from its creation on.
BOOKKEEPING = ("_journal", "_manifest", "_pyramid")


def canvas_attributes(group_attrs: dict[str, Any]) -> tuple[dict[str, Any], str, int]:
    """Return the ``imkerutils`` attributes of a canvas's root group, with its mode and tile size, checked."""
    attrs = group_attrs.get("imkerutils")
    # Format 1's attributes stay until an upgrade that committed has rewritten zarr.json (see .legacy).
    if not isinstance(attrs, dict) or attrs.get("format") not in (CANVAS_FORMAT, legacy.LEGACY_FORMAT):
        raise CanvasCorruptError("this Zarr group is not an imkerutils canvas (no canvas metadata)")
    try:
        mode: str = attrs["mode"]
        tile = int(attrs["tile"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CanvasCorruptError(f"canvas metadata is incomplete: {exc}") from None
    if mode not in MODES:
        raise CanvasCorruptError(f"canvas mode {mode!r} is not one of {sorted(MODES)}")
    return attrs, mode, tile


def create_folder(
    location: str | os.PathLike[str],
    *,
    mode: str,
    height: int,
    width: int,
    tile: int,
    overwrite: bool,
    storage_options: dict[str, Any] | None,
    plan_for: Window | None,
) -> tuple[dict[str, Any], Store]:
    """Write an empty canvas at ``location`` as :meth:`Canvas.create` says; its root attributes and store."""
    if mode not in MODES:
        raise InvalidTileError(f"canvas mode must be one of {sorted(MODES)}, got {mode!r}")
    check_tile_size(tile)
    bounds = Window(0, 0, height, width)
    store = open_store(location, storage_options=storage_options)
    if exists(location, store):
        if not overwrite:
            raise CanvasExistsError(f"{os.fspath(location)} already exists (pass overwrite=True to replace it)")
        remove(location, store)
        store = open_store(location, storage_options=storage_options)
    planned = bounds if plan_for is None else bounds.union(plan_for)
    frame = plan_frame(planned, tile, levels_needed(planned, tile))
    raw = RawStore(store)
    write_root(raw, mode, frame, bounds, 1, dataset_name(location))
    create_level(store, frame, 0, frame.shape(0, bounds), MODES[mode])
    for folder in BOOKKEEPING:
        mark_bookkeeping(raw, folder)
    Journal(raw).write_state(JournalState(bounds=bounds, frame=frame))
    return _root_attributes(raw), store


def open_folder(
    location: str | os.PathLike[str], *, read_only: bool, storage_options: dict[str, Any] | None
) -> tuple[dict[str, Any], Store]:
    """Return the root attributes and store of the canvas at ``location`` (format 1: read as is, or upgraded)."""
    store = open_store(location, read_only=read_only, storage_options=storage_options)
    if not has_metadata(location, store):
        raise CanvasNotFoundError(f"no canvas at {os.fspath(location)} (no zarr.json)")
    if legacy.is_legacy(RawStore(store)):
        if read_only:
            store = legacy.LegacyView(store)  # read as before, through format 2's code
        else:
            _upgrade(location, store)
    try:
        group = zarr.open_group(store, mode="r" if read_only else "r+")
    except (ValueError, KeyError, TypeError) as exc:
        raise CanvasCorruptError(f"{os.fspath(location)}/zarr.json is not valid Zarr v3 metadata: {exc}") from None
    except zarr.errors.BaseZarrError as exc:
        raise CanvasCorruptError(f"{os.fspath(location)} is not a readable Zarr v3 canvas: {exc}") from None
    if group.metadata.zarr_format != 3:
        raise CanvasCorruptError(
            f"{os.fspath(location)}/zarr.json declares zarr_format {group.metadata.zarr_format}; a canvas is Zarr v3"
        )
    return dict(group.attrs), store


def upgrade_folder(location: str | os.PathLike[str], *, storage_options: dict[str, Any] | None) -> bool:
    """Convert the canvas at ``location`` from format 1 in place; whether it was of format 1.

    The caller opens the canvas for writing afterwards, which also finishes an upgrade a kill interrupted
    and removes an upgrade's leftovers.
    """
    store = open_store(location, storage_options=storage_options)
    if not has_metadata(location, store):
        raise CanvasNotFoundError(f"no canvas at {os.fspath(location)} (no zarr.json)")
    if not legacy.is_legacy(RawStore(store)):
        return False
    _upgrade(location, store, notice=False)
    return True


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


def _root_attributes(raw: RawStore) -> dict[str, Any]:
    """Return the attributes of the root ``zarr.json``, read as bytes (no Zarr group opened)."""
    data = raw.get("zarr.json")
    return {} if data is None else dict(json.loads(data).get("attributes", {}))
