"""``python -m imkerutils.tiling_utils.extract_tile INPUT [OUTPUT] --x X --y Y [--corner C]``, as in the seed.

Default output ``outputs/tiles/<stem>__<corner>__<x>_<y>.png`` (in the current folder).
"""

from __future__ import annotations

from collections.abc import Sequence

from imkerutils.cli.tile_scripts import extract_tile_main

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    return extract_tile_main(argv, prog="python -m imkerutils.tiling_utils.extract_tile", seed=True)


if __name__ == "__main__":
    raise SystemExit(main())
