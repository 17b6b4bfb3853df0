"""``verify``: every stored level-0 tile against the manifest of SHA-256 hashes of its raw pixels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from imkerutils.errors import CanvasCorruptError
from imkerutils.tiling.frame import Frame, tile_of_tile_key
from imkerutils.tiling.rawstore import RawStore
from imkerutils.tiling.step import MANIFEST_TILES, chunk_pool, digest, manifest_key

__all__ = ["VerifyReport", "verify_tiles"]

_BATCH = 256  # tiles checked at a time, on the chunk pool


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of :meth:`Canvas.verify`."""

    tiles_checked: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_tiles(raw: RawStore, frame: Frame, read_tile: Callable[[int, int], np.ndarray]) -> VerifyReport:
    """Check every manifest entry against its tile's pixels, and every stored chunk has an entry."""
    problems: list[str] = []
    manifest: set[tuple[int, int]] = set()
    for key in raw.list_prefix(MANIFEST_TILES):
        try:
            manifest.add(tile_of_tile_key(key))
        except CanvasCorruptError:
            problems.append(f"{key} is not a manifest entry of this canvas")
    for key in raw.list_prefix(f"{frame.path(0)}/c/"):
        try:
            ij = frame.tile_of_key(0, key)
        except CanvasCorruptError:
            problems.append(f"{key} is not a chunk of this canvas's level 0")
            continue
        if ij not in manifest:
            problems.append(f"chunk {key} (tile {ij}) has no manifest entry (written outside imkerutils?)")

    def check(ij: tuple[int, int]) -> str | None:
        i, j = ij
        where = f"tile ({i}, {j}) at world row {i * frame.tile}, col {j * frame.tile}"
        try:
            block = read_tile(i, j)
        except OSError:
            raise  # the store could not be read: not a statement about the tile's bytes
        except Exception as exc:  # the codec's own error type (zstd, ...) for bytes it cannot decode
            return f"{where}: its chunk cannot be decoded ({type(exc).__name__}: {exc})"
        if raw.get(manifest_key(i, j)) == digest(block):
            return None
        return f"{where}: pixels do not match the manifest hash"

    tiles = sorted(manifest)
    for start in range(0, len(tiles), _BATCH):  # batches: a bounded number of tasks in flight
        problems.extend(p for p in chunk_pool().map(check, tiles[start:start + _BATCH]) if p)
    return VerifyReport(tiles_checked=len(manifest), problems=tuple(problems))
