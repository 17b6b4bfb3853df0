"""``python -m imkerutils.tiling_utils.extract_tile INPUT [OUTPUT] --x X --y Y [--corner C]``, as in the seed.

Default output ``outputs/tiles/<stem>__<corner>__<x>_<y>.png`` (in the current folder).
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import TYPE_CHECKING, Any

from imkerutils.cli.tile_scripts import extract_tile_main
from imkerutils.tiling_utils import core

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


class _CallableModule(types.ModuleType):
    """A module that, called, is the function of the same name.

    Importing this module rebinds ``imkerutils.tiling_utils.extract_tile`` from the function to the module (as in the
    seed, where they share the name).
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return core.extract_tile(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
__signature__ = inspect.signature(core.extract_tile)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the seed-compatible script with ``argv``; return the exit status."""
    return extract_tile_main(argv, prog="python -m imkerutils.tiling_utils.extract_tile", seed=True)


if __name__ == "__main__":
    raise SystemExit(main())
