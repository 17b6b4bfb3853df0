"""Make a script module callable as the function it is named after, and give it the seed's ``main``, as in the seed.

In the seed ``imkerutils.tiling_utils.extract_tile`` was both a module and a
function; importing the submodule rebinds the package attribute from the
function to the module, so the module, called, must still be the function.
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["ScriptMain", "make_callable", "seed_script"]


class ScriptMain(Protocol):
    """A script's ``main``: run with ``argv`` (default: the command line), return the exit status."""

    def __call__(self, argv: Sequence[str] | None = None) -> int: ...


def make_callable(module_name: str, func: Callable[..., Any]) -> None:
    """Make the module ``module_name`` callable as ``func`` (with ``func``'s signature)."""

    class _CallableModule(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

    module = sys.modules[module_name]
    module.__class__ = _CallableModule
    module.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]


def seed_script(module_name: str, func: Callable[..., Any], script_main: Callable[..., int]) -> ScriptMain:
    """Make the module ``module_name`` callable as ``func``; return its ``main``, ``script_main`` as the seed ran it.

    The program name is the module's own (``python -m <module>``), also when it runs as ``__main__``.
    """
    make_callable(module_name, func)
    spec = sys.modules[module_name].__spec__
    prog = f"python -m {spec.name if spec is not None else module_name}"

    def main(argv: Sequence[str] | None = None) -> int:
        """Run the seed-compatible script with ``argv``; return the exit status."""
        return script_main(argv, prog=prog, seed=True)

    return main
