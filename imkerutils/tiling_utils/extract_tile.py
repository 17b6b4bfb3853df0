"""``python -m imkerutils.tiling_utils.extract_tile INPUT [OUTPUT] --x X --y Y [--corner C]``, as in the seed.

Default output ``outputs/tiles/<stem>__<corner>__<x>_<y>.png`` (in the current folder).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imkerutils.cli.tile_scripts import extract_tile_main
from imkerutils.tiling_utils import core
from imkerutils.tiling_utils._callable import make_callable

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


make_callable(__name__, core.extract_tile)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the seed-compatible script with ``argv``; return the exit status."""
    return extract_tile_main(argv, prog="python -m imkerutils.tiling_utils.extract_tile", seed=True)


if __name__ == "__main__":
    raise SystemExit(main())
