"""The one owner of canvas coordinate maths: world windows to array windows, chunks and keys, and back.

A canvas level ``L`` is a Zarr array ``(C, H, W)`` whose chunk ``(0, i, j)`` holds world tile
``(i - oi, j - oj)`` of that level, where ``(oi, oj)`` is the level's *origin* in tiles: how many tiles of
margin lie left of and above world tile ``(0, 0)``.  Level 0's origin is chosen by :func:`plan_frame`;
a coarser level's is ``ceil(origin_0 / 2**L)``, so a world tile of level ``L`` is always one whole chunk
(a 2x reduction of four whole chunks of level ``L - 1``) whatever the margin.  World windows are in
level pixels (world // 2**L).  Nothing here does I/O.

The margin obeys the layout rule of ``shared/DESIGN.md`` section 2: per axis, a level's array extent is at
most ``max(2 * n, n + 8 tiles)`` for content extent ``n`` (:func:`extent_ok`).  :func:`plan_frame` leaves
half the margin the rule allows on the left and top, so growing left or up by a total of about half the
content needs no rebase, and a rebase (new origin, chunks relinked) costs O(content) once per such growth.

>>> f = Frame(tile=1024, origin=(4, 4))
>>> f.to_array(Window(-10, 0, 20, 30))
Window(row_off=4086, col_off=4096, height=20, width=30)
>>> f.level_origin(2), f.chunk_key(0, -4, 0), f.tile_of_key(0, '0/c/0/0/4')
((1, 1), '0/c/0/0/4', (-4, 0))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from imkerutils.errors import CanvasCorruptError, OutOfBoundsError
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "MAX_EXTENT",
    "ChunkProjection",
    "Frame",
    "extent_ok",
    "level_window",
    "plan_frame",
    "project",
    "tile_key",
    "tile_of_tile_key",
]

MAX_EXTENT = 2**30  # px per axis at level 0: keeps every index and shape product far from 2**63
SLACK_TILES = 8  # the rule's additive allowance: max(2 * n, n + SLACK_TILES * tile)
TILE_KEY_PREFIX = "tile/"  # a journal key naming a level-0 world tile, whatever the frame


def level_window(w: Window, level: int) -> Window:
    """Return the level-``level`` window covering world window ``w`` (floor of the start, ceil of the end).

    >>> level_window(Window(-3, 5, 4, 4), 1)
    Window(row_off=-2, col_off=2, height=3, width=3)
    """
    f = 1 << level
    return Window.from_bounds(w.row_off // f, w.col_off // f, -(-w.row_end // f), -(-w.col_end // f))


def tile_key(i: int, j: int) -> str:
    """Return the frame-independent name of level-0 world tile ``(i, j)`` (journal keys, markers, manifest)."""
    return f"{TILE_KEY_PREFIX}{i}.{j}"


def tile_of_tile_key(key: str) -> tuple[int, int]:
    """Inverse of :func:`tile_key` (also accepts the key's last path part).

    >>> tile_of_tile_key(tile_key(-3, 7))
    (-3, 7)
    """
    name = key.rsplit("/", 1)[-1]
    try:
        i, j = name.split(".")
        return int(i), int(j)
    except ValueError:
        raise CanvasCorruptError(f"{key!r} does not name a canvas tile") from None


@dataclass(frozen=True, slots=True)
class ChunkProjection:
    """One chunk's share of a window (zarr's ``ChunkProjection``, in world terms).

    ``tile`` is the world tile index, ``piece`` the part of the window inside it (world/level pixels),
    ``in_chunk`` and ``in_window`` the NumPy slices of that piece in the chunk and in the window.
    """

    tile: tuple[int, int]
    piece: Window
    in_chunk: tuple[slice, slice]
    in_window: tuple[slice, slice]
    is_complete: bool


def project(window: Window, tile: int) -> Iterator[ChunkProjection]:
    """Every tile ``window`` touches, row-major, with the slices that move pixels between them.

    >>> [(p.tile, p.is_complete) for p in project(Window(-1, 0, 2, 1024), 1024)]
    [((-1, 0), False), ((0, 0), False)]
    """
    if window.is_empty:
        return
    r0, c0, r1, c1 = window.row_off, window.col_off, window.row_end, window.col_end
    for i in range(r0 // tile, -(-r1 // tile)):
        top, bottom = max(r0, i * tile), min(r1, (i + 1) * tile)
        rows_in_chunk, rows_in_window = slice(top - i * tile, bottom - i * tile), slice(top - r0, bottom - r0)
        for j in range(c0 // tile, -(-c1 // tile)):
            left, right = max(c0, j * tile), min(c1, (j + 1) * tile)
            yield ChunkProjection(
                (i, j),
                Window(top, left, bottom - top, right - left),
                (rows_in_chunk, slice(left - j * tile, right - j * tile)),
                (rows_in_window, slice(left - c0, right - c0)),
                bottom - top == tile and right - left == tile,
            )


@dataclass(frozen=True, slots=True)
class Frame:
    """Where world tiles sit in a canvas's level arrays: the tile size, level 0's origin, the array names.

    ``generation`` counts rebases; it names the arrays (``"0"``, ``"1"``... at generation 0, then
    ``"g<n>.0"``...), so a rebase builds new arrays beside the old ones and switches by one commit.
    """

    tile: int
    origin: tuple[int, int]  # level 0: array chunk index of world tile (0, 0) (negative: content starts right of it)
    generation: int = 0

    # -- names -------------------------------------------------------------
    def path(self, level: int) -> str:
        """Return the array (dataset) path of ``level``."""
        return str(level) if self.generation == 0 else f"g{self.generation}.{level}"

    def chunk_key(self, level: int, i: int, j: int) -> str:
        """Return the store key of world tile ``(i, j)`` of ``level`` (zarr's default ``/`` chunk key encoding)."""
        oi, oj = self.level_origin(level)
        return f"{self.path(level)}/c/0/{i + oi}/{j + oj}"

    def tile_of_key(self, level: int, key: str) -> tuple[int, int]:
        """Return the world tile a chunk key of ``level`` names (inverse of :meth:`chunk_key`)."""
        prefix = f"{self.path(level)}/c/0/"
        if not key.startswith(prefix):
            raise CanvasCorruptError(f"{key!r} is not a chunk key of canvas level {level}")
        try:
            ci, cj = (int(p) for p in key[len(prefix) :].split("/"))
        except ValueError:
            raise CanvasCorruptError(f"{key!r} is not a chunk key of canvas level {level}") from None
        oi, oj = self.level_origin(level)
        return ci - oi, cj - oj

    # -- coordinates ---------------------------------------------------------
    def level_origin(self, level: int) -> tuple[int, int]:
        """Level ``level``'s origin in its own tiles: ``ceil(origin / 2**level)``."""
        f = 1 << level
        return -(-self.origin[0] // f), -(-self.origin[1] // f)

    def shift(self, level: int) -> tuple[int, int]:
        """Array index of level pixel ``(0, 0)`` of ``level``."""
        oi, oj = self.level_origin(level)
        return oi * self.tile, oj * self.tile

    def to_array(self, w: Window, level: int = 0) -> Window:
        """Level window ``w`` (level pixels) as an array window (the only such conversion)."""
        return w.translate(*self.shift(level))

    def to_world(self, a: Window, level: int = 0) -> Window:
        """Inverse of :meth:`to_array`."""
        r, c = self.shift(level)
        return a.translate(-r, -c)

    def holds(self, bounds: Window) -> bool:
        """Whether ``bounds`` start at non-negative array indices (growing right and down is a resize)."""
        a = self.to_array(bounds)
        return bounds.is_empty or (a.row_off >= 0 and a.col_off >= 0)

    def shape(self, level: int, bounds: Window) -> tuple[int, int]:
        """Return the ``(H, W)`` of ``level``'s array for ``bounds``: through the last content tile, no further."""
        lb = level_window(bounds, level)
        oi, oj = self.level_origin(level)
        t = self.tile
        end_r = -(-lb.row_end // t) if not lb.is_empty else 0
        end_c = -(-lb.col_end // t) if not lb.is_empty else 0
        return max(0, oi + end_r) * t, max(0, oj + end_c) * t

    # -- NGFF ----------------------------------------------------------------
    def ngff_transforms(self, level: int) -> list[dict[str, Any]]:
        """Return the dataset's ``scale`` and ``translation``: pixel centres, world (0, 0) at coordinate 0."""
        s = float(1 << level)
        r, c = self.shift(level)
        half = (s - 1) / 2
        return [
            {"type": "scale", "scale": [1.0, s, s]},
            {"type": "translation", "translation": [0.0, -r * s + half, -c * s + half]},
        ]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (:meth:`from_dict` reads it back)."""
        return {"tile": self.tile, "origin": list(self.origin), "generation": self.generation}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Frame:
        """Rebuild from the output of :meth:`to_dict`."""
        try:
            frame = cls(
                int(data["tile"]), (int(data["origin"][0]), int(data["origin"][1])), int(data.get("generation", 0))
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CanvasCorruptError(f"malformed canvas frame {data!r}: {exc}") from None
        if frame.tile <= 0 or frame.generation < 0:
            raise CanvasCorruptError(f"malformed canvas frame {data!r}")
        return frame


def _axis_ok(start: int, end: int, origin: int, tile: int) -> bool:
    """Return the layout rule on one axis of one level: content ``[start, end)`` with ``origin`` tiles of margin."""
    n = end - start
    if n <= 0:
        return origin <= SLACK_TILES
    extent = (origin + -(-end // tile)) * tile
    return origin + start // tile >= 0 and extent <= max(2 * n, n + SLACK_TILES * tile)


def extent_ok(frame: Frame, bounds: Window, levels: int) -> bool:
    """Whether every level's array obeys the layout rule for ``bounds`` (and holds them)."""
    for level in range(levels):
        lb = level_window(bounds, level)
        oi, oj = frame.level_origin(level)
        if lb.is_empty:
            if max(oi, oj) > SLACK_TILES:
                return False
            continue
        if not (_axis_ok(lb.row_off, lb.row_end, oi, frame.tile) and _axis_ok(lb.col_off, lb.col_end, oj, frame.tile)):
            return False
    return True


def _margin(start: int, end: int, tile: int) -> int:
    """Half the margin (tiles) the rule allows left of content ``[start, end)`` at level 0."""
    n = max(0, end - start)
    span = (-(-end // tile) - start // tile) if n else 0
    return max(0, (max(2 * n, n + SLACK_TILES * tile) // tile - span) // 2)


def plan_frame(bounds: Window, tile: int, levels: int, generation: int = 0) -> Frame:
    """Return a frame for ``bounds`` with half the allowed margin left and up, valid at every level.

    >>> plan_frame(Window(0, 0, 0, 0), 1024, 1).origin
    (4, 4)
    >>> f = plan_frame(Window(-5000, 0, 20000, 1024), 1024, 6); f.origin, extent_ok(f, Window(-5000, 0, 20000, 1024), 6)
    ((14, 4), True)
    """
    if not bounds.is_empty and max(bounds.height, bounds.width) > MAX_EXTENT // 2:
        raise OutOfBoundsError(f"a canvas cannot be larger than {MAX_EXTENT // 2} px on a side")
    ti = bounds.row_off // tile if not bounds.is_empty else 0
    tj = bounds.col_off // tile if not bounds.is_empty else 0
    mi = _margin(bounds.row_off, bounds.row_end, tile)
    mj = _margin(bounds.col_off, bounds.col_end, tile)
    while True:
        frame = Frame(tile, (mi - ti, mj - tj), generation)
        if extent_ok(frame, bounds, levels) or (mi == 0 and mj == 0):
            break
        mi, mj = mi // 2, mj // 2  # coarser levels round their margins up: give them room
    if not frame.holds(bounds):
        raise OutOfBoundsError(f"bounds {bounds} cannot be placed in a canvas frame")
    return frame
