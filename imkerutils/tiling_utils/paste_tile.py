"""``python -m imkerutils.tiling_utils.paste_tile BASE TILE [OUTPUT] --x X --y Y [--corner C]``, as in the seed.

Default output ``outputs/images/<stem>__patched.png`` (``.tif`` for a base PNG cannot hold, e.g. CMYK);
a canvas base is changed in place.
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import TYPE_CHECKING, Any

from imkerutils.cli.tile_scripts import paste_tile_main
from imkerutils.tiling_utils import core

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


class _CallableModule(types.ModuleType):
    """A module that, called, is the function of the same name.

    Importing this module rebinds ``imkerutils.tiling_utils.paste_tile`` from the function to the module (as in the
    seed, where they share the name).
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return core.paste_tile(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
__signature__ = inspect.signature(core.paste_tile)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the seed-compatible script with ``argv``; return the exit status."""
    return paste_tile_main(argv, prog="python -m imkerutils.tiling_utils.paste_tile", seed=True)


if __name__ == "__main__":
    raise SystemExit(main())
