"""``python -m imkerutils.tiling_utils.extract_tile INPUT [OUTPUT] --x X --y Y [--corner C]``, as in the seed.

Default output ``outputs/tiles/<stem>__<corner>__<x>_<y>.png`` (in the current folder).
"""

from __future__ import annotations

from imkerutils.cli.tile_scripts import extract_tile_main
from imkerutils.tiling_utils import core
from imkerutils.tiling_utils._callable import seed_script

__all__ = ["main"]

main = seed_script(__name__, core.extract_tile, extract_tile_main)


if __name__ == "__main__":
    raise SystemExit(main())
