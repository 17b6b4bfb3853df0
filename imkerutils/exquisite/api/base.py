"""The one contract every tile generator meets.

A generator turns a frozen :class:`TileRequest` (a 1024x1024 reference tile,
a boolean *generate* mask, a prompt and a seed) into a :class:`TileResult`.
Capabilities are class attributes, declared rather than discovered by trying.
"""

from __future__ import annotations

import numbers
import operator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, overload, runtime_checkable

from imkerutils.errors import InvalidGeneratorParamsError
from imkerutils.exquisite.geometry.direction import Direction

if TYPE_CHECKING:
    import numpy as np


__all__ = ["TileGenerator", "TileRequest", "TileResult", "Usage", "check_param"]


@overload
def check_param(name: str, value: float, low: float, high: float, *, integer: Literal[True]) -> int: ...
@overload
def check_param(name: str, value: float, low: float, high: float, *, integer: Literal[False] = ...) -> float: ...
def check_param(name: str, value: float, low: float, high: float, *, integer: bool = False) -> float:
    """Return a generator parameter as a plain ``int`` (``integer``) or ``float`` if it is one in ``[low, high]``.

    Anything else (another type, a bool, NaN, out of range) is refused with
    :class:`~imkerutils.errors.InvalidGeneratorParamsError`.  NumPy numbers
    come back as plain ones, so the generator's ``params()`` stay JSON.

    >>> import math
    >>> import numpy as np
    >>> check_param("noise", np.int64(6), 0, 64, integer=True), check_param("sleep_s", 1, 0, math.inf)
    (6, 1.0)
    >>> check_param("noise", 6.5, 0, 64, integer=True)
    Traceback (most recent call last):
    ...
    imkerutils.errors.InvalidGeneratorParamsError: noise must be an int in [0, 64]; got 6.5
    """
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:  # NaN fails too
        raise InvalidGeneratorParamsError(
            f"{name} must be {'an int' if integer else 'a number'} in [{low}, {high}]; got {value!r}"
        )
    return operator.index(value) if integer else float(value)


@dataclass(frozen=True, eq=False, slots=True)
class TileRequest:
    """What a generator is asked to do.

    ``reference`` is ``(size, size, C)`` uint8 (C = 3 or 4) holding the real
    conditioning pixels; ``generate`` is a ``(size, size)`` bool array, True
    where the generator may paint.  Hidden pixels of ``reference`` (where
    ``generate`` is True) hold a fill hint, never meaningful content.
    """

    reference: np.ndarray
    generate: np.ndarray
    prompt: str
    seed: int
    direction: Direction
    size: int = 1024

    def __post_init__(self) -> None:
        # parsed here, where a request is made, so generators take ``direction`` as it is
        object.__setattr__(self, "direction", Direction.parse(self.direction))


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts reported by a metered generator (all optional)."""

    input_text_tokens: int = 0
    input_image_tokens: int = 0
    output_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        """Return the JSON-ready form, the fields by name (:meth:`from_dict` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> Usage:
        """Rebuild from the output of :meth:`to_dict`."""
        return cls(**data)


@dataclass(frozen=True, eq=False, slots=True)
class TileResult:
    """A generated tile: ``image`` has the request's size and channel count."""

    image: np.ndarray
    usage: Usage | None = None
    cost_usd: float | None = None
    request_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class TileGenerator(Protocol):
    """A tile generator.

    Class attributes declare what it is and what it can do; ``generate`` is the
    only required method.  ``params`` returns the configuration that, with the
    request, determines the output (recorded in every step; never secrets).
    """

    name: ClassVar[str]
    version: ClassVar[str]
    deterministic: ClassVar[bool]  # same request and seed -> same bytes
    needs_network: ClassVar[bool]
    max_concurrency: ClassVar[int]  # useful parallel calls per process

    def params(self) -> dict[str, Any]:
        """Return the settings that shape the output, as JSON (recorded with every step; no secrets)."""

    def generate(self, request: TileRequest) -> TileResult:
        """Paint the masked part of ``request``'s reference tile and return it with its cost."""


class GeneratorBase:
    """A base class for generators: declared capabilities with defaults, as xarray's ``BackendEntrypoint``.

    Subclass it and override only what differs; the pipeline and the UI read these
    attributes instead of probing with ``getattr``.  A generator that merely
    satisfies :class:`TileGenerator` still works.

    >>> class Plain(GeneratorBase):
    ...     name = "plain"
    >>> Plain.max_concurrency, Plain.needs_network, Plain.api_key_env, Plain().max_cost_per_tile_usd()
    (1, False, None, 0.0)
    """

    name: ClassVar[str]
    version: ClassVar[str] = "0"
    deterministic: ClassVar[bool] = False  # same request and seed -> same bytes
    needs_network: ClassVar[bool] = False
    max_concurrency: ClassVar[int] = 1  # useful parallel calls per process
    api_key_env: ClassVar[str | None] = None  # environment variable holding the key, if the generator needs one

    def max_cost_per_tile_usd(self) -> float | None:
        """Return the most one call can cost: 0 for offline generators, ``None`` if unknown."""
        return None if self.needs_network else 0.0

    def params(self) -> dict[str, Any]:
        return {}
