"""What a generator declares about itself, read in one place.

The pipeline and the UI ask :func:`capabilities` (and
:func:`~imkerutils.exquisite.pipeline.grow.tile_worst_case_usd` for money)
instead of probing generators with ``getattr(..., default)``.

Two kinds of generator are accepted, and the defaults are documented here:

* a :class:`~imkerutils.exquisite.api.base.GeneratorBase` subclass declares
  every capability (the base class gives the defaults: ``deterministic=False``,
  ``needs_network=False``, ``max_concurrency=1``, ``api_key_env=None``);
* a class that only satisfies the :class:`~imkerutils.exquisite.api.base.TileGenerator`
  protocol declares what the protocol requires (``name``, ``version``,
  ``deterministic``, ``needs_network``, ``max_concurrency``; the registry
  refuses a plug-in that lacks one) and gets ``GeneratorBase``'s defaults for
  the rest: no API key (``api_key_env=None``) and, for money, 0 USD per tile
  offline or "unknown" when it needs the network.  A plug-in that needs a key
  or knows its price subclasses ``GeneratorBase`` to say so.

>>> from imkerutils.exquisite.api.mock import MockGenerator
>>> capabilities(MockGenerator)
Capabilities(name='mock', deterministic=True, needs_network=False, max_concurrency=16, api_key_env=None)
>>> class KeyedPlugin(MockGenerator):
...     name = "keyed"
...     api_key_env = "KEYED_TOKEN"
>>> capabilities(KeyedPlugin()).missing_key({})
'KEYED_TOKEN'
>>> capabilities(KeyedPlugin).missing_key({"KEYED_TOKEN": "s3cret"}) is None
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from imkerutils.exquisite.api.base import GeneratorBase, TileGenerator

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["Capabilities", "capabilities"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """The declared capabilities of one generator (class or instance).

    ``max_concurrency`` is the number of calls worth running at once in one
    process (the pipeline's default ``workers``); ``api_key_env`` names the
    environment variable that must hold the generator's key, or is ``None``.
    """

    name: str
    deterministic: bool
    needs_network: bool
    max_concurrency: int
    api_key_env: str | None

    def missing_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        """Return the declared ``api_key_env`` if it is unset or empty in ``environ``, else ``None``.

        ``environ`` defaults to this process's environment, read at the call.
        """
        if self.api_key_env is None:
            return None
        env = os.environ if environ is None else environ
        return None if env.get(self.api_key_env) else self.api_key_env


def capabilities(generator: TileGenerator | type[TileGenerator]) -> Capabilities:
    """Return the capabilities ``generator`` (an instance or a class) declares, with the module's defaults.

    Protocol attributes are read as declared (on the instance when one is
    given, so a wrapper may set them per instance); ``api_key_env`` is
    ``GeneratorBase``'s declaration, ``None`` for a protocol-only generator.
    """
    cls = generator if isinstance(generator, type) else type(generator)
    api_key_env = cls.api_key_env if issubclass(cls, GeneratorBase) else GeneratorBase.api_key_env
    return Capabilities(
        name=generator.name,
        deterministic=generator.deterministic,
        needs_network=generator.needs_network,
        max_concurrency=generator.max_concurrency,
        api_key_env=api_key_env,
    )
