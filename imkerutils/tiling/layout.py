"""The canvas folder as an OME-Zarr 0.5 image: level arrays, root metadata, bookkeeping folders.

Every level is a Zarr v3 array ``(C, H, W)`` uint8 in chunks ``(C, tile, tile)``, no sharding, with the
codecs ``transpose(1, 2, 0)``, ``bytes``, ``zstd(3)``: readers see NGFF's channel-first axes, while each
stored chunk is one zstd frame of chunky ``(tile, tile, C)`` bytes, which is what a TIFF tile holds (the
TIFF export copies them) and what canvases of format 1 stored (an upgrade links their chunks).  Reading
through an ``out`` buffer that is a channel-first view of a ``(h, w, C)`` array makes the transpose free.

The root ``zarr.json`` holds ``ome`` (``multiscales`` + ``omero``, see :mod:`.ngff`) and ``imkerutils``
(format, mode, tile, and a mirror of the committed bounds and frame; the journal's ``state.json`` is the
truth).  Bookkeeping folders (``_journal``, ``_manifest``, ``_pyramid``, ``_generated``...) each hold a
``zarr.json`` of an empty group, so zarr lists them as groups instead of warning about unknown objects.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import zarr
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync

from imkerutils.errors import CanvasCorruptError
from imkerutils.tiling.frame import Frame
from imkerutils.tiling.ngff import ome_attributes
from imkerutils.tiling.rawstore import RawStore
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from zarr.abc.store import Store

__all__ = [
    "BOOKKEEPING_ATTRS",
    "CANVAS_FORMAT",
    "MODES",
    "ZSTD_LEVEL",
    "create_level",
    "level_metadata",
    "mark_bookkeeping",
    "open_level",
    "read_window",
    "resize_level",
    "root_document",
    "root_seal",
    "write_root",
]

CANVAS_FORMAT = "imkerutils.canvas/2"
MODES = {"RGB": 3, "RGBA": 4}
ZSTD_LEVEL = 3
BOOKKEEPING_ATTRS = {"imkerutils": "bookkeeping of an imkerutils canvas (journal, manifest, markers): no image"}


def create_level(store: Store, frame: Frame, level: int, shape: tuple[int, int], channels: int) -> zarr.Array[Any]:
    """Create (or replace) level ``level``'s array at ``frame.path(level)``."""
    from zarr.codecs import BytesCodec, TransposeCodec, ZstdCodec

    t = frame.tile
    return zarr.create_array(
        store,
        name=frame.path(level),
        shape=(channels, *shape),
        chunks=(channels, t, t),
        dtype="uint8",
        fill_value=0,
        filters=[TransposeCodec(order=(1, 2, 0))],
        serializer=BytesCodec(),
        compressors=[ZstdCodec(level=ZSTD_LEVEL)],
        dimension_names=("c", "y", "x"),
        chunk_key_encoding={"name": "default", "separator": "/"},
        overwrite=True,
    )


@functools.lru_cache(maxsize=64)
def _level_metadata(tile: int, path: str, shape: tuple[int, int], channels: int) -> str:
    from zarr.storage import MemoryStore

    store = MemoryStore()
    create_level(store, Frame(tile, (0, 0)), 0, shape, channels)
    return RawStore(store).get("0/zarr.json").decode()  # type: ignore[union-attr]


def level_metadata(frame: Frame, level: int, shape: tuple[int, int], channels: int) -> dict[str, Any]:
    """Return the ``zarr.json`` :func:`create_level` writes for an array of ``(C, *shape)`` (for ``verify``)."""
    return dict(json.loads(_level_metadata(frame.tile, frame.path(level), shape, channels)))


def open_level(store: Store, frame: Frame, level: int) -> zarr.Array[Any]:
    """Level ``level``'s array; ``KeyError`` when it does not exist."""
    try:
        node = zarr.open_array(store, path=frame.path(level), mode="r" if store.read_only else "r+", zarr_format=3)
    except FileNotFoundError:
        raise KeyError(frame.path(level)) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # zarr.json that zarr cannot parse
        raise CanvasCorruptError(f"canvas level {level} ({frame.path(level)}/zarr.json) is unreadable: {exc}") from None
    if node.ndim != 3 or node.dtype != np.uint8 or node.shape[0] not in MODES.values():
        raise CanvasCorruptError(
            f"canvas level {level} has shape {node.shape} and dtype {node.dtype}; a canvas "
            "level is (C, H, W) uint8 with C = 3 or 4"
        )
    return node


def read_window(z: zarr.Array[Any], a: Window) -> np.ndarray:
    """Pixels of array window ``a`` as ``(h, w, C)``; zeros where it leaves the array.

    zarr decodes straight into a channel-first view of the result, so no transpose copy is made.
    """
    out = np.zeros((a.height, a.width, z.shape[0]), dtype=np.uint8)
    inside = a.intersection(Window(0, 0, z.shape[1], z.shape[2]))
    if inside is None:
        return out
    target = out[inside.slices((a.row_off, a.col_off))].transpose(2, 0, 1)
    try:
        z.get_basic_selection(
            (slice(None), slice(inside.row_off, inside.row_end), slice(inside.col_off, inside.col_end)),
            out=default_buffer_prototype().nd_buffer.from_numpy_array(target),
        )
    except OSError:
        raise  # the store could not be read: not a statement about the bytes
    except Exception as exc:  # the codec's own error (zstd, ...): bytes that do not decode
        raise CanvasCorruptError(
            f"a chunk of {z.path} under array rows {inside.row_off}..{inside.row_end}, cols "
            f"{inside.col_off}..{inside.col_end} cannot be decoded ({type(exc).__name__}: "
            f"{exc}): the canvas is damaged; `imkerutils verify` names every such tile"
        ) from None
    return out


def resize_level(z: zarr.Array[Any], shape: tuple[int, int]) -> None:
    """Set ``z``'s ``(H, W)``: a metadata write only (no chunk is deleted; callers keep none beyond)."""
    if tuple(z.shape[1:]) != shape:
        sync(z._async_array.resize((z.shape[0], *shape), delete_outside_chunks=False))


def root_document(mode: str, frame: Frame, bounds: Window, levels: int, name: str) -> dict[str, Any]:
    """Return the root ``zarr.json`` of a canvas with ``levels`` built levels."""
    datasets = [(frame.path(level), frame.ngff_transforms(level)) for level in range(levels)]
    doc: dict[str, Any] = {
        "zarr_format": 3,
        "node_type": "group",
        "attributes": {
            "ome": ome_attributes(datasets, mode, name),
            "imkerutils": {
                "format": CANVAS_FORMAT,
                "mode": mode,
                "tile": frame.tile,
                "bounds": bounds.to_dict(),
                "frame": frame.to_dict(),
                "levels": levels,
            },
        },
    }
    doc["attributes"]["imkerutils"]["sha256"] = root_seal(doc)
    return doc


def root_seal(doc: dict[str, Any]) -> str:
    """Return the hash a root ``zarr.json`` carries of itself (``attributes.imkerutils.sha256`` left out)."""
    import copy
    import hashlib

    body = copy.deepcopy(doc)
    body.get("attributes", {}).get("imkerutils", {}).pop("sha256", None)
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def write_root(raw: RawStore, mode: str, frame: Frame, bounds: Window, levels: int, name: str) -> None:
    """Mirror the committed state into the root ``zarr.json`` (one atomic replace)."""
    raw.put("zarr.json", json.dumps(root_document(mode, frame, bounds, levels, name), indent=1).encode())


def mark_bookkeeping(raw: RawStore, folder: str) -> None:
    """Make ``folder`` an empty Zarr group to zarr's listing (idempotent)."""
    key = f"{folder}/zarr.json"
    if not raw.exists(key):
        raw.put(key, json.dumps({"zarr_format": 3, "node_type": "group", "attributes": BOOKKEEPING_ATTRS}).encode())
