"""Find tile generators by name: built-ins plus plug-ins from the ``imkerutils.generators`` entry points.

Built-ins are registered as (module, class name) and imported only when asked
for, and offered only when their module (and any third-party module they need,
``BUILTIN_REQUIRES``) can be found.  Third-party generators
declare an entry point::

    [project.entry-points."imkerutils.generators"]
    mymodel = "mypackage.generator:MyGenerator"

Entry points are read once and cached; a plug-in that fails to load, or that is
not a generator class, triggers a :class:`GeneratorPluginWarning` and is left out.
A plug-in cannot replace a built-in name.  Nothing happens at import time.

>>> sorted(name for name in available_generators() if name in ("mock", "openai"))
['mock', 'openai']
>>> get_generator("mock").name
'mock'
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import warnings
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from imkerutils.errors import UnknownGeneratorError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from imkerutils.exquisite.api.base import TileGenerator

__all__ = [
    "BUILTIN_GENERATORS",
    "BUILTIN_REQUIRES",
    "ENTRY_POINT_GROUP",
    "GeneratorPluginWarning",
    "GeneratorSpec",
    "available_generators",
    "generator_class",
    "get_generator",
    "refresh_generators",
]

ENTRY_POINT_GROUP = "imkerutils.generators"

BUILTIN_GENERATORS: dict[str, tuple[str, str]] = {
    "mock": ("imkerutils.exquisite.api.mock", "MockGenerator"),
    "local": ("imkerutils.exquisite.api.local", "LocalGenerator"),
    "openai": ("imkerutils.exquisite.api.openai_", "OpenAIGenerator"),
}

# Third-party modules a built-in needs; it is offered only when they can be found.
BUILTIN_REQUIRES: dict[str, tuple[str, ...]] = {"openai": ("openai",)}

_REQUIRED_ATTRIBUTES = ("name", "version", "deterministic", "needs_network", "max_concurrency", "generate")


class GeneratorPluginWarning(RuntimeWarning):
    """A third-party generator plug-in could not be loaded and was skipped."""


@dataclass(frozen=True, slots=True)
class GeneratorSpec:
    """Where a registered generator lives.

    ``origin`` is ``"builtin"`` or the name of the distribution that declared
    the entry point.  ``cls`` is set for plug-ins (loaded during discovery to
    check them) and None for built-ins until :meth:`load` imports them.
    """

    name: str
    module: str
    attr: str
    origin: str = "builtin"
    cls: type | None = field(default=None, compare=False, repr=False)

    def load(self) -> type[TileGenerator]:
        """Import and return the generator class."""
        if self.cls is not None:
            return self.cls
        obj: Any = importlib.import_module(self.module)
        for part in self.attr.split("."):
            obj = getattr(obj, part)
        cls: type[TileGenerator] = obj
        return cls


def _module_available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _problem(obj: object) -> str | None:
    """Why ``obj`` is not a generator class, or None if it looks like one."""
    if not isinstance(obj, type):
        return f"it is a {type(obj).__name__}, not a class"
    missing = [a for a in _REQUIRED_ATTRIBUTES if not hasattr(obj, a)]
    if missing:
        return f"the class lacks {', '.join(missing)}"
    return None


def _plugin_specs(eps: Iterable[EntryPoint]) -> dict[str, GeneratorSpec]:
    specs: dict[str, GeneratorSpec] = {}
    for ep in eps:
        dist = ep.dist.name if ep.dist is not None else "unknown distribution"
        where = f"generator plug-in {ep.name!r} ({ep.value!r} from {dist})"
        if ep.name in BUILTIN_GENERATORS:
            warnings.warn(
                f"{where} was ignored: {ep.name!r} is a built-in generator name",
                GeneratorPluginWarning,
                stacklevel=3,
            )
            continue
        if ep.name in specs:
            warnings.warn(
                f"{where} was ignored: another plug-in ({specs[ep.name].origin}) already registers {ep.name!r}",
                GeneratorPluginWarning,
                stacklevel=3,
            )
            continue
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plug-in must not break imkerutils
            warnings.warn(
                f"{where} failed to load and was skipped: {type(exc).__name__}: {exc}",
                GeneratorPluginWarning,
                stacklevel=3,
            )
            continue
        problem = _problem(obj)
        if problem is not None:
            warnings.warn(f"{where} was skipped: {problem}", GeneratorPluginWarning, stacklevel=3)
            continue
        module, _, attr = ep.value.partition(":")
        specs[ep.name] = GeneratorSpec(ep.name, module.strip(), attr.strip(), origin=dist, cls=obj)
    return specs


@functools.cache
def _discover() -> dict[str, GeneratorSpec]:
    specs = {
        name: GeneratorSpec(name, module, attr)
        for name, (module, attr) in BUILTIN_GENERATORS.items()
        if all(_module_available(m) for m in (module, *BUILTIN_REQUIRES.get(name, ())))
    }
    specs.update(_plugin_specs(entry_points(group=ENTRY_POINT_GROUP)))
    return specs


def available_generators() -> dict[str, GeneratorSpec]:
    """Every generator that can be used, by name: built-ins first, then plug-ins.

    Entry points are read on the first call and cached; call
    :func:`refresh_generators` after installing a plug-in.
    """
    return dict(_discover())


def refresh_generators() -> None:
    """Forget the cached list, so newly installed plug-ins are found."""
    _discover.cache_clear()


def generator_class(name: str) -> type[TileGenerator]:
    """Return the class registered under ``name``.

    Raises
    ------
    UnknownGeneratorError
        If no generator is registered under ``name``; the message lists the known names.
    """
    specs = _discover()
    try:
        spec = specs[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(specs)) or "none"
        raise UnknownGeneratorError(f"no generator named {name!r}; known generators: {known}") from None
    return spec.load()


def get_generator(name: str, **config: Any) -> TileGenerator:
    """Build the generator registered under ``name`` with keyword ``config``."""
    return generator_class(name)(**config)
