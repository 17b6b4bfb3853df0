"""``python -m imkerutils.tiling_utils.paste_tile BASE TILE [OUTPUT] --x X --y Y [--corner C]``, as in the seed.

Default output ``outputs/images/<stem>__patched.png`` (``.tif`` for a base PNG cannot hold, e.g. CMYK);
a canvas base is changed in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imkerutils.cli.tile_scripts import paste_tile_main
from imkerutils.tiling_utils import core
from imkerutils.tiling_utils._callable import make_callable

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


make_callable(__name__, core.paste_tile)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the seed-compatible script with ``argv``; return the exit status."""
    return paste_tile_main(argv, prog="python -m imkerutils.tiling_utils.paste_tile", seed=True)


if __name__ == "__main__":
    raise SystemExit(main())
