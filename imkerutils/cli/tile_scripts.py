"""The seed's console scripts: ``extract-tile`` and ``paste-tile``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from imkerutils.cli._common import run_guarded
from imkerutils.tiling import extract_tile, paste_tile


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--x", type=int, required=True, help="column of the corner pixel")
    p.add_argument("--y", type=int, required=True, help="row of the corner pixel")
    p.add_argument("--corner", choices=["tl", "tr", "bl", "br"], default="tl", help="which tile corner (x, y) is")
    p.add_argument("--tile", type=int, default=1024, help="tile size in pixels")
    p.add_argument("--trust-large", action="store_true", help="allow images over the decompression-bomb limit")


def extract_tile_main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="extract-tile", description="Cut one tile out of an image or canvas.")
    p.add_argument("input", help="image file or canvas")
    p.add_argument("output", nargs="?", help="tile image to write (default: outputs/<name>_tile_x<X>_y<Y>.png)")
    _common(p)
    args = p.parse_args(list(argv) if argv is not None else None)

    def run(a: argparse.Namespace) -> int:
        out = a.output or Path("outputs") / f"{Path(a.input).stem}_tile_x{a.x}_y{a.y}.png"
        box = extract_tile(a.input, out, x=a.x, y=a.y, corner=a.corner, tile=a.tile, trusted=a.trust_large)
        print(f"wrote {out} (box left={box[0]}, top={box[1]}, right={box[2]}, bottom={box[3]})")
        return 0

    return run_guarded("extract-tile", run, args)


def paste_tile_main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="paste-tile", description="Paste one tile into an image or canvas.")
    p.add_argument("base", help="image file or canvas")
    p.add_argument("tile_image", metavar="tile", help="tile image")  # dest apart from --tile (the size)
    p.add_argument("output", nargs="?", help="image to write (default: outputs/<base>_pasted_x<X>_y<Y>.png, "
                                              ".tif for a TIFF base; a canvas is changed in place)")
    _common(p)
    args = p.parse_args(list(argv) if argv is not None else None)

    def run(a: argparse.Namespace) -> int:
        left, top = paste_tile(a.base, a.tile_image, a.output, x=a.x, y=a.y, corner=a.corner, tile=a.tile,
                               trusted=a.trust_large)
        print(f"pasted {a.tile_image} at left={left}, top={top}")
        return 0

    return run_guarded("paste-tile", run, args)
