"""The seed's console scripts: ``extract-tile`` and ``paste-tile``.

The same commands run as ``python -m imkerutils.tiling_utils.extract_tile`` /
``paste_tile`` (``seed=True``): there the default outputs and the lines printed
are the seed's (``outputs/tiles/<stem>__<corner>__<x>_<y>.png``,
``outputs/images/<stem>__patched.png``; ``Saved tile: ...``), under ``outputs/``
in the current folder.  Inputs may be image files, canvases or canvas URLs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from imkerutils.cli._common import common_parent, emit, region_json, run_guarded
from imkerutils.tiling import Window, extract_tile, paste_tile
from imkerutils.tiling.tiles import default_paste_output, is_canvas

if TYPE_CHECKING:
    from collections.abc import Sequence


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=prog, description=description, parents=[common_parent()])


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--x", type=int, required=True, help="column of the corner pixel")
    p.add_argument("--y", type=int, required=True, help="row of the corner pixel")
    p.add_argument(
        "--corner", choices=["tl", "tr", "bl", "br"], default="tl", help="which corner of the image tile (x, y) is"
    )
    p.add_argument("--tile", type=int, default=1024, help="image tile size in pixels")
    p.add_argument("--trust-large", action="store_true", help="allow images over the decompression-bomb limit")


def _box(left: int, top: int, tile: int) -> dict[str, int]:
    return region_json(Window(top, left, tile, tile))


def extract_tile_main(argv: Sequence[str] | None = None, *, prog: str = "extract-tile", seed: bool = False) -> int:
    """Run the ``extract-tile`` command with ``argv``; return the exit status (``seed``: the seed's script)."""
    p = _parser(prog, "Cut one tile out of an image or canvas.")
    p.add_argument("input", help="image file, canvas or canvas URL")
    p.add_argument("output", nargs="?", help="tile image to write (default: outputs/<name>_tile_x<X>_y<Y>.png)")
    _common(p)
    args = p.parse_args(list(argv) if argv is not None else None)

    def run(a: argparse.Namespace) -> int:
        stem = Path(a.input.rstrip("/")).stem
        if a.output is not None:
            out = Path(a.output)
        elif seed:
            out = Path("outputs") / "tiles" / f"{stem}__{a.corner}__{a.x}_{a.y}.png"
        else:
            out = Path("outputs") / f"{stem}_tile_x{a.x}_y{a.y}.png"
        box = extract_tile(a.input, out, x=a.x, y=a.y, corner=a.corner, tile=a.tile, trusted=a.trust_large)
        if seed:
            text = f"Saved tile: {out}\nRect: {box} (right/bottom are exclusive)"
        else:
            text = f"wrote {out} (box left={box[0]}, top={box[1]}, right={box[2]}, bottom={box[3]})"
        emit(a, text, {"output": str(out), "region": _box(box[0], box[1], a.tile)})
        return 0

    return run_guarded(prog, run, args)


def paste_tile_main(argv: Sequence[str] | None = None, *, prog: str = "paste-tile", seed: bool = False) -> int:
    """Run the ``paste-tile`` command with ``argv``; return the exit status (``seed``: the seed's script)."""
    p = _parser(prog, "Paste one tile into an image or canvas.")
    p.add_argument("base", help="image file, canvas or canvas URL")
    p.add_argument("tile_image", metavar="tile", help="tile image")  # dest apart from --tile (the size)
    p.add_argument(
        "output",
        nargs="?",
        help="image to write (default: outputs/<base>_pasted_x<X>_y<Y>.png, "
        ".tif for a TIFF base; a canvas is changed in place)",
    )
    _common(p)
    args = p.parse_args(list(argv) if argv is not None else None)

    def run(a: argparse.Namespace) -> int:
        out = a.output
        if out is None and seed and not is_canvas(a.base):
            suffix = default_paste_output(a.base, a.x, a.y).suffix  # PNG unless the base needs TIFF
            out = str(Path("outputs") / "images" / f"{Path(a.base).stem}__patched{suffix}")
        left, top = paste_tile(
            a.base, a.tile_image, out, x=a.x, y=a.y, corner=a.corner, tile=a.tile, trusted=a.trust_large
        )
        if seed:
            text = f"Saved: {out if out is not None else a.base}\nPasted at top-left: {(left, top)}"
        else:
            text = f"pasted {a.tile_image} at left={left}, top={top}"
        emit(a, text, {"base": a.base, "output": None if out is None else str(out), "region": _box(left, top, a.tile)})
        return 0

    return run_guarded(prog, run, args)
