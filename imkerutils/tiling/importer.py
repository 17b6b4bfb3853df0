"""Images into canvases: decoded a strip at a time (:mod:`.decode`), written as one journaled step.

:func:`import_image` applies the input policy from the file's header (one page, 8- or 16-bit samples, the
pixel limit ``trusted`` lifts) before anything is decoded or created, plans the canvas's margin for the
image's size, then streams strips of ``tile`` rows into it with :func:`write_strips`, each strip as tile-wide
column blocks, so that each block is freed as soon as its tile is written and the decoder of the next strip
goes only as far as :class:`Budget` allows: memory stays about one strip (two while two fit in
:data:`STRIP_BUDGET`) whatever the image size.  A strip larger than :data:`SPILL_ABOVE` (1024 rows of an
image over 21845 px wide) is not held at all: it waits in an unnamed temporary file (:mod:`.spill`) and
each tile's task reads its block back, so memory holds a band of rows and the few tiles being written.

A local canvas is built under a temporary name and renamed into place, so a failure or a crash never
leaves a half-imported canvas at the target; on object storage (no rename) the import is one journaled
step, which opening the canvas rolls back (and a decoding error removes what was created).
"""

from __future__ import annotations

import collections
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from imkerutils.errors import CanvasExistsError, InvalidTileError, InvalidWindowError
from imkerutils.tiling.atomicfile import replacing
from imkerutils.tiling.chunkio import write_tile
from imkerutils.tiling.location import exists, is_remote, local_path, open_store, remove
from imkerutils.tiling.pyramid import downsample2
from imkerutils.tiling.spill import SpilledBlock
from imkerutils.tiling.step import (
    Step,
    StepInfo,
    TilePart,
    chunk_pool,
    digest,
    manifest_key,
    merge_tile,
    plan_pieces,
    step_keys,
)
from imkerutils.tiling.strippyramid import StripPyramid
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from collections.abc import Iterator
    from concurrent.futures import Future

    from imkerutils.tiling.canvas import Canvas
    from imkerutils.tiling.decode import ImageInfo, Strip

__all__ = ["import_image", "write_strips"]

STRIP_BUDGET = 160 << 20  # two strips stay alive (one decoding, one writing) only while they fit in this
SPILL_ABOVE = 64 << 20  # a strip larger than this waits in a temporary file, not in memory (see .spill)


def import_image(
    cls: type[Canvas],
    image: str | os.PathLike[str],
    location: str | os.PathLike[str],
    *,
    trusted: bool,
    tile: int,
    overwrite: bool,
    storage_options: dict[str, Any] | None,
) -> Canvas:
    """Import an image as a canvas: what :meth:`Canvas.from_image` does (see the module docstring)."""
    from imkerutils.tiling.decode import probe

    info = probe(image, trusted=trusted)  # the policy, from the header: nothing decoded yet
    if exists(location, open_store(location, read_only=True, storage_options=storage_options)) and not overwrite:
        raise CanvasExistsError(f"{os.fspath(location)} already exists (pass overwrite=True to replace it)")
    window, step_info = Window(0, 0, info.height, info.width), {"source": str(image)}
    if is_remote(location):
        canvas = cls.create(
            location, mode=info.mode, tile=tile, overwrite=overwrite, plan_for=window, storage_options=storage_options
        )
        try:
            _stream(canvas, info, window, step_info)
        except BaseException:  # the step was rolled back: remove the empty canvas it was written into
            remove(location, canvas._store)
            raise
        canvas.update_pyramid()
        return canvas
    root = local_path(location)
    with replacing(root, directory=True, suffix=".importing") as tmp:  # an old canvas is moved aside, then replaced
        canvas = cls.create(tmp, mode=info.mode, tile=tile, plan_for=window)
        _stream(canvas, info, window, step_info)
        canvas.update_pyramid()  # nothing left to do unless another writer came between (see write_strips)
    canvas = cls.open(location)
    canvas._storage.write_root()  # the dataset name follows the folder's final name
    return canvas


def _stream(canvas: Canvas, info: ImageInfo, window: Window, step_info: dict[str, Any]) -> None:
    """Decode ``info``'s file into ``canvas`` (fresh), pyramid and all, a strip at a time in bounded memory."""
    from imkerutils.tiling.decode import iter_strips

    t = canvas.tile
    strip_bytes = t * info.width * canvas.channels
    budget = Budget(max(STRIP_BUDGET, strip_bytes))  # one strip always fits
    spill = strip_bytes > SPILL_ABOVE  # then the budget holds nothing: a strip's bytes wait on disk
    strips = iter_strips(info, t, columns=t, reserve=budget.reserve, spill=spill)
    write_strips(canvas, strips, window, step_info, pyramid=True, budget=budget)


def write_strips(
    canvas: Canvas,
    strips: Iterator[tuple[int, np.ndarray]] | Iterator[tuple[int, Strip]],
    window: Window,
    info: dict[str, Any],
    *,
    pyramid: bool = False,
    budget: Budget | None = None,
) -> StepInfo:
    """Write an image that arrives strip by strip into ``window`` as ONE journaled step.

    ``strips`` yields ``(row_off, (h, window.width, channels) uint8)`` top to bottom, each ``tile`` rows (the
    last may be shorter), relative to ``window``'s top-left, which must lie on the tile grid; a strip may also
    come as a :class:`~imkerutils.tiling.strips.Strip` of tile-wide column blocks, whose bytes each tile's task
    releases from ``budget`` (the one the decoder reserves them from) once written, or of spilled blocks,
    each read back by its tile's task (on a pool of a few threads, so that few are in memory at once).  Every tile of
    the window is named up front (snapshots of absent keys cost nothing), the step is marked pending, and
    each strip's tiles are merged, hashed and written on the chunk pool while the next strip is decoded (one
    task a tile: one contiguous copy, hashed, encoded and written as its chunk file, as zarr would).  At
    most two strips are alive (one when two would pass :data:`STRIP_BUDGET`), so memory does not grow with
    the image height.  Any failure, in the decoder or in a chunk write, rolls the whole step back.
    (``Canvas.write`` cannot do this: it plans every piece before the first write, so it would need the
    whole image in memory.)

    With ``pyramid`` (a fresh canvas, ``window`` at the world origin), every coarser level is built from the
    strips as they pass (:class:`~.strippyramid.StripPyramid`: each tile's task also reduces it, and the
    parents are written on the chunk pool) and recorded after the commit, so no level-0
    chunk is read back.
    """
    canvas._check_writable()
    t = canvas.tile
    if window.row_off % t or window.col_off % t or window.is_empty:
        raise InvalidWindowError(f"a streamed import needs a non-empty, tile-aligned window, got {window}")
    alive = 2 if budget is not None or 2 * t * window.width * canvas.channels <= STRIP_BUDGET else 1
    tx = Step(canvas, "paste", step_keys(list(canvas.grid.tiles(window))), window, True, info)  # an import's kind
    if pyramid and not (canvas.bounds.is_empty and window.row_off == window.col_off == 0):
        raise InvalidWindowError(f"a streamed pyramid needs a fresh canvas and a window at the origin, got {window}")
    tx.begin()
    levels: StripPyramid | None = None
    if pyramid:
        try:
            levels = StripPyramid(canvas._storage.pyramid, window, canvas.channels)
        except BaseException:
            tx.abort()
            raise
    in_flight: collections.deque[list[Any]] = collections.deque()  # the chunk futures of each live strip
    results: list[BaseException | None] = []
    failed = False
    expect = window.row_off
    try:
        for row_off, strip in strips:
            top = window.row_off + row_off
            h = strip.shape[0]
            whole = h == t or top + h == window.row_end  # only the last strip may be shorter than a tile
            if (
                top != expect
                or not 0 < h <= t
                or not whole
                or top + h > window.row_end
                or strip.shape[1:2] != (window.width,)
            ):
                raise InvalidTileError(
                    f"strip at row {row_off} of shape {strip.shape} does not continue the "
                    f"import of {window} (expected row {expect - window.row_off})"
                )
            expect = top + h
            # plan_pieces checks channels and dtype and cuts the strip per tile (views); one task per tile
            pieces = [(top, window.col_off, strip)] if isinstance(strip, np.ndarray) else _blocks(strip, top, window, t)
            pool = chunk_pool()
            if isinstance(pieces[0][2], SpilledBlock):  # each already one tile's part, read by its task
                per_tile, pool = _spilled_parts(pieces, t, canvas.channels), _spilled_pool()
            else:
                per_tile, _ = plan_pieces(pieces, t, canvas.channels, canvas.mode, window, False)
            del pieces
            quarters: list[np.ndarray | None] | None = None if levels is None else [None] * len(per_tile)
            futures: list[Future[Any]] = [
                pool.submit(_import_tile, canvas, ij, per_tile.pop(ij), quarters, k, budget)
                for k, ij in enumerate(sorted(per_tile))  # left to right: the pyramid takes them in that order
            ]
            if levels is not None:  # each tile task leaves its quarter of a parent for the pyramid to place
                assert quarters is not None
                futures.append(levels.submit(top // t, futures[:], quarters))
            in_flight.append(futures)
            del quarters
            del strip, per_tile  # only the chunk tasks hold it now, so it is freed as soon as they finish
            while len(in_flight) >= alive:  # let the oldest strip finish before decoding another
                done = [_outcome(f) for f in in_flight.popleft()]
                failed = failed or any(r is not None for r in done)
                results.extend(done)
            if failed:
                break
        if expect != window.row_end and not failed:
            raise InvalidTileError(f"the strips ended at row {expect - window.row_off} of {window.height}")
    except BaseException:
        for futures in in_flight:  # no chunk task may outlive the step it writes for
            for f in futures:
                f.cancel()
                if not f.cancelled():
                    f.exception()
        if levels is not None:
            levels.cancel()
        tx.abort()
        raise
    while in_flight:
        results.extend(_outcome(f) for f in in_flight.popleft())
    if levels is not None:
        results.extend(levels.finish())
    step = tx.commit(results)
    if levels is not None:
        _record_levels(canvas, levels.levels, step, window)
    return step


def _record_levels(canvas: Canvas, needed: int, step: StepInfo, window: Window) -> None:
    """Record the levels built beside ``step``, unless another write came after it (then ``update`` redoes them)."""
    storage = canvas._storage
    with canvas._journal.lock():
        state = storage.recover()
        if state.head == step.number and state.bounds == window and storage.pyramid.built_levels() == 1:
            storage.pyramid.record_built(needed, 1, step.written)


def _outcome(f: Future[Any]) -> BaseException | None:
    """Return the failure of a finished task of :func:`write_strips` (a tile's exception, a pyramid row's result)."""
    exc = f.exception()
    return exc if exc is not None else f.result()


def _import_tile(
    canvas: Canvas,
    ij: tuple[int, int],
    parts: list[TilePart],
    quarters: list[np.ndarray | None] | None,
    k: int,
    budget: Budget | None,
) -> None:
    """Write tile ``ij`` of an import and its manifest hash; with ``quarters``, set ``quarters[k]`` to its reduction.

    What :func:`~imkerutils.tiling.step.write_tile` does, with the tile's chunk written by
    :func:`~imkerutils.tiling.chunkio.write_tile` (the bytes zarr writes, without zarr's per-chunk path:
    about a third of a tile's cost) and hashed, encoded and reduced from one contiguous copy.
    """
    held = sum(int(block.nbytes) for _, block in parts) if budget is not None else 0
    try:
        _write_import_tile(canvas, ij, parts, quarters, k)
    finally:
        del parts
        if budget is not None:
            budget.release(held)


def _write_import_tile(
    canvas: Canvas, ij: tuple[int, int], parts: list[TilePart], quarters: list[np.ndarray | None] | None, k: int
) -> None:
    parts = [(piece, b.read() if isinstance(b, SpilledBlock) else b) for piece, b in parts]
    full = np.ascontiguousarray(merge_tile(canvas, ij, parts))
    del parts
    hexdigest = digest(full)
    storage = canvas._storage
    a, z = canvas.frame.to_array(canvas.grid.tile_window(*ij)), storage.z
    if a.row_off >= 0 and a.col_off >= 0 and a.row_end <= z.shape[1] and a.col_end <= z.shape[2]:
        storage.pyramid.mark_dirty([ij])
        write_tile(storage.pyramid.raw, canvas.frame, z, 0, *ij, full)
        canvas._raw.put(manifest_key(*ij), hexdigest)
    else:  # not wholly inside the level-0 array (make_room made it so): the general path
        canvas._store_tile(ij, full, hexdigest)
    if quarters is not None:
        quarters[k] = downsample2(full)


def _blocks(strip: Strip, top: int, window: Window, t: int) -> list[tuple[int, int, Any]]:
    """Return the pieces of a strip handed over as column blocks: each one tile wide (the last may be narrower)."""
    col, pieces = window.col_off, []
    for block in strip.blocks:
        if block.shape[1] != t and col + block.shape[1] != window.col_end:
            raise InvalidTileError(f"a strip's column block at column {col} is {block.shape[1]} wide, not {t}")
        pieces.append((top, col, block))
        col += block.shape[1]
    return pieces


def _spilled_parts(pieces: list[tuple[int, int, Any]], t: int, channels: int) -> dict[tuple[int, int], list[TilePart]]:
    """Return the tile parts of a spilled strip's blocks (each tile-aligned, within one tile): one a tile."""
    per_tile: dict[tuple[int, int], list[TilePart]] = {}
    for row, col, block in pieces:
        h, w, c = block.shape
        if c != channels or not isinstance(block, SpilledBlock):
            raise InvalidTileError(f"a spilled block at column {col} has shape {block.shape}, not (h, w, {channels})")
        per_tile[row // t, col // t] = [(Window(row, col, h, w), block)]
    return per_tile


@functools.cache
def _spilled_pool() -> ThreadPoolExecutor:
    """Return the threads that write the tiles of spilled strips (made on first use).

    Each of those tasks reads its block back and holds it, its zstd frame and its reduction (about 7 MiB
    a 1024-px tile), so fewer run at once than on the chunk pool: about one a core beside the decoder.  A
    semaphore around the tasks on the chunk pool let later tiles overtake earlier ones, and their
    reductions piled up waiting for the pyramid, which takes them in order (80 MiB at 60000 px wide).
    """
    return ThreadPoolExecutor(max_workers=min(4, (os.cpu_count() or 1) + 1), thread_name_prefix="imkerutils-spill")


class Budget:
    """Bytes of strips alive in an import: the decoder reserves them, the tile tasks release them.

    :meth:`reserve` waits while other strips' bytes are still held and the total would pass ``limit``; a
    strip of its own never waits (``limit`` is at least a strip), so the decoder of the next strip goes
    only as far as the tiles of the last one are written.
    """

    def __init__(self, limit: int) -> None:
        self.limit, self.held = limit, 0
        self._cond = threading.Condition()

    def reserve(self, nbytes: int) -> None:
        """Hold ``nbytes`` more, once they fit."""
        with self._cond:
            self._cond.wait_for(lambda: self.held + nbytes <= self.limit or self.held == 0)
            self.held += nbytes

    def release(self, nbytes: int) -> None:
        """Free ``nbytes``."""
        with self._cond:
            self.held -= nbytes
            self._cond.notify_all()
