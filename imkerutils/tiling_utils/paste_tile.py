"""``python -m imkerutils.tiling_utils.paste_tile BASE TILE [OUTPUT] --x X --y Y [--corner C]``, as in the seed.

Default output ``outputs/images/<stem>__patched.png`` (``.tif`` for a base PNG cannot hold, e.g. CMYK);
a canvas base is changed in place.
"""

from __future__ import annotations

from imkerutils.cli.tile_scripts import paste_tile_main
from imkerutils.tiling_utils import core
from imkerutils.tiling_utils._callable import seed_script

__all__ = ["main"]

main = seed_script(__name__, core.paste_tile, paste_tile_main)


if __name__ == "__main__":
    raise SystemExit(main())
