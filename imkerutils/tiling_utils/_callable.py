"""Make a script module callable as the function it is named after, as in the seed.

In the seed ``imkerutils.tiling_utils.extract_tile`` was both a module and a
function; importing the submodule rebinds the package attribute from the
function to the module, so the module, called, must still be the function.
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["make_callable"]


def make_callable(module_name: str, func: Callable[..., Any]) -> None:
    """Make the module ``module_name`` callable as ``func`` (with ``func``'s signature)."""

    class _CallableModule(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

    module = sys.modules[module_name]
    module.__class__ = _CallableModule
    module.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
