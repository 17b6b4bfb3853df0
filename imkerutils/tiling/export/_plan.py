"""What an export covers: the region at each level, and the compression asked for.

A region is a world window.  At pyramid level ``L`` (each level halves the
previous one) it covers the level-``L`` pixel window whose start is the
world start divided by ``2**L`` rounded down and whose end is rounded up, so
every level's pixel grid lines up with the canvas's own pyramid.

>>> level_window(Window(-5, 3, 10, 10), 1)
Window(row_off=-3, col_off=1, height=6, width=6)
>>> parse_compression("zstd:3", {"zstd": (1, 22), "none": None}, default="zstd", fmt=".tif")
Compression(name='zstd', level=3)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from imkerutils.errors import ExportFormatError, InvalidWindowError, OutOfBoundsError
from imkerutils.tiling.window import Window, intersection

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from imkerutils.tiling.export._source import CanvasSource, Progress

__all__ = ["Compression", "Format", "LevelRegion", "level_window", "parse_compression", "plan_levels", "plan_region"]


@dataclass(frozen=True, slots=True)
class Compression:
    """A compression method and its optional level (or quality)."""

    name: str
    level: int | None = None


@dataclass(frozen=True, slots=True)
class LevelRegion:
    """The pixels of one exported level.

    Pixel ``(i, j)`` of ``window`` covers the world pixels
    ``[offset[0] + i * scale, offset[0] + (i + 1) * scale)`` by
    ``[offset[1] + j * scale, ...)``.  With ``offset`` (0, 0) this is the
    canvas's own level-``level`` grid; TIFF pyramids use a grid offset to
    start at the exported image's corner (readers expect each level to halve
    the one before it exactly).
    """

    level: int
    window: Window
    offset: tuple[int, int] = (0, 0)

    @property
    def scale(self) -> int:
        """World pixels per pixel of this level along each axis."""
        return 1 << self.level

    @property
    def world_origin(self) -> tuple[int, int]:
        """World (row, col) of the top-left corner of this level's first pixel."""
        return (self.offset[0] + self.window.row_off * self.scale, self.offset[1] + self.window.col_off * self.scale)


def level_window(world: Window, level: int) -> Window:
    """Return the level-``level`` pixel window covering world window ``world`` (start floored, end ceiled)."""
    f = 2**level
    return Window.from_bounds(world.row_off // f, world.col_off // f, -(-world.row_end // f), -(-world.col_end // f))


def plan_region(canvas: CanvasSource, region: Window | None, level: int) -> Window:
    """Check ``region`` (a world window; default the canvas bounds) and ``level`` against ``canvas``."""
    bounds = canvas.bounds
    world = bounds if region is None else region
    if not isinstance(world, Window):
        raise InvalidWindowError(f"region must be a Window(row_off, col_off, height, width), got {world!r}")
    if world.is_empty:
        what = "the canvas is empty (its bounds have no pixels)" if region is None else "the region has no pixels"
        raise InvalidWindowError(f"nothing to export: {what}")
    if intersection(world, bounds) is None:
        raise OutOfBoundsError(
            f"region rows {world.row_off}..{world.row_end}, cols {world.col_off}..{world.col_end} lies entirely "
            f"outside the canvas bounds rows {bounds.row_off}..{bounds.row_end}, "
            f"cols {bounds.col_off}..{bounds.col_end}"
        )
    if not isinstance(level, int) or level < 0:
        raise InvalidWindowError(f"level must be a non-negative integer, got {level!r}")
    coarsest = (max(world.height, world.width) - 1).bit_length()  # one pixel covers the whole region there
    if level > coarsest:
        raise InvalidWindowError(f"level {level} is coarser than this region's coarsest level ({coarsest}, one pixel)")
    return world


def plan_levels(world: Window, level: int, *, pyramid: bool, tile: int, world_grid: bool = True) -> list[LevelRegion]:
    """``level`` alone, or with ``pyramid`` every coarser level until one fits in a single tile.

    With ``world_grid`` every level is a window of the canvas's own pyramid
    grid (a level may then be one pixel more than half the one before it);
    otherwise level ``level + k`` halves the first level exactly ``k`` times,
    on a grid starting at its corner.

    >>> [lr.window.shape for lr in plan_levels(Window(1, 1, 6, 6), 0, pyramid=True, tile=2)]
    [(6, 6), (4, 4), (2, 2)]
    >>> [lr.window.shape for lr in plan_levels(Window(1, 1, 6, 6), 0, pyramid=True, tile=2, world_grid=False)]
    [(6, 6), (3, 3), (2, 2)]
    """
    first = LevelRegion(level, level_window(world, level))
    levels = [first]
    y, x = first.world_origin
    while pyramid and max(levels[-1].window.shape) > tile:
        k = levels[-1].level - level + 1
        if world_grid:
            levels.append(LevelRegion(level + k, level_window(world, level + k)))
            continue
        f = 2 ** (level + k)
        dy, dx = y % f, x % f
        h, w = -(-first.window.height // 2**k), -(-first.window.width // 2**k)
        levels.append(LevelRegion(level + k, Window((y - dy) // f, (x - dx) // f, h, w), (dy, dx)))
    return levels


def parse_compression(
    spec: str | None, allowed: dict[str, tuple[int, int] | None], *, default: str, fmt: str
) -> Compression:
    """Parse ``NAME`` or ``NAME:LEVEL`` against a format's ``{name: (min level, max level) or None}``."""
    text = (spec or default).strip().lower()
    name, _, level_text = text.partition(":")
    choices = ", ".join(f"{n}[:{r[0]}-{r[1]}]" if r else n for n, r in allowed.items())
    if name not in allowed:
        raise ExportFormatError(f"{fmt} cannot use compression {spec!r}; choose one of: {choices}")
    bounds = allowed[name]
    if not level_text:
        return Compression(name)
    if bounds is None:
        raise ExportFormatError(f"compression {name!r} for {fmt} takes no level, got {spec!r}")
    try:
        level = int(level_text)
    except ValueError:
        raise ExportFormatError(f"compression level in {spec!r} must be an integer") from None
    if not bounds[0] <= level <= bounds[1]:
        raise ExportFormatError(f"{name} level for {fmt} must be in {bounds[0]}..{bounds[1]}, got {level}")
    return Compression(name, level)


@dataclass(frozen=True, slots=True)
class Format:
    """One output format: how to check an export against it and how to write it."""

    name: str
    suffixes: tuple[str, ...]
    prepare: Callable[[str, list[LevelRegion], str | None], Compression]
    write: Callable[[CanvasSource, Path, list[LevelRegion], Compression, Progress], None]  # into a temporary path
    directory: bool = False  # the output is a folder (OME-Zarr)
    pyramid: bool = False  # can hold coarser levels
    world_grid: bool = True  # coarser levels on the canvas's pyramid grid (else halving the image exactly)
