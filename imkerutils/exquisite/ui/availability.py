"""Whether a generator can run in this server, from what its class declares.

A generator whose class declares ``api_key_env`` (see
:mod:`imkerutils.exquisite.api.capabilities`) is offered as unavailable, and
refused before any job is queued, while that variable is unset or empty in the
server's environment.  Nothing here knows a generator by name: a plug-in with
its own key variable is treated exactly as the OpenAI generator.

>>> from imkerutils.exquisite.api.mock import MockGenerator
>>> class Keyed(MockGenerator):
...     name = "keyed"
...     api_key_env = "KEYED_TOKEN"
>>> unavailable_note("keyed", {"keyed": Keyed}, environ={})
"no KEYED_TOKEN in the server's environment"
>>> unavailable_note("keyed", {"keyed": Keyed}, environ={"KEYED_TOKEN": "t0ken"})
''
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from imkerutils.errors import AuthenticationGeneratorError, ImkerError
from imkerutils.exquisite.api.base import TileGenerator
from imkerutils.exquisite.api.capabilities import capabilities
from imkerutils.exquisite.api.registry import generator_class

__all__ = ["missing_key", "refuse_without_key", "unavailable_note"]

GeneratorFactory = Callable[[], TileGenerator]


def _declaring(name: str, factories: Mapping[str, GeneratorFactory] | None) -> type[TileGenerator] | None:
    """Return what declares generator ``name``'s capabilities without building it: its class, or ``None``.

    A factory that is not a class declares nothing the server can read before
    calling it, so no key is asked of it here (the generator it builds may
    still refuse to work without one).
    """
    if factories is not None:
        factory = factories.get(name)
        return factory if isinstance(factory, type) else None
    return generator_class(name)


def missing_key(
    name: str,
    factories: Mapping[str, GeneratorFactory] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """Return the key variable generator ``name`` declares and ``environ`` (default: this process's) lacks."""
    declaring = _declaring(name, factories)
    return None if declaring is None else capabilities(declaring).missing_key(environ)


def unavailable_note(
    name: str,
    factories: Mapping[str, GeneratorFactory] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Why generator ``name`` cannot run in this server, in plain words, or ``""`` when it can."""
    try:
        variable = missing_key(name, factories, environ=environ)
    except (ImportError, ImkerError) as exc:  # a registered class that cannot be loaded is not offered as usable
        return f"cannot be loaded: {exc}"
    return "" if variable is None else f"no {variable} in the server's environment"


def refuse_without_key(
    name: str,
    factories: Mapping[str, GeneratorFactory] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Raise :class:`~imkerutils.errors.AuthenticationGeneratorError` when generator ``name`` lacks its key.

    Checked before the generator is built (a generator without its key may
    refuse to be built, with a message meant for library callers).
    """
    variable = missing_key(name, factories, environ=environ)
    if variable is not None:
        raise AuthenticationGeneratorError(
            f"no API key for the {name!r} generator: the server was started without {variable} in its environment; "
            "set it and restart the server, or choose another generator"
        )
