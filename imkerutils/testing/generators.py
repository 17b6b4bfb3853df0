"""Conformance tests every tile generator must pass (pytest style, like zarr's ``StoreTests``).

Subclass :class:`GeneratorConformance` in a test module under a ``Test*`` name
and implement :meth:`~GeneratorConformance.make_generator`::

    class TestMyGenerator(GeneratorConformance):
        def make_generator(self):
            return MyGenerator(...)

The tests check that outputs match the request (shape, dtype, channels) for RGB
and RGBA and for every direction, that the request is left untouched and the
result does not alias it, that a generator declaring ``deterministic`` gives the
same bytes for the same request (also from a fresh instance), that ``params()``
is JSON and holds no secret (list them in :attr:`~GeneratorConformance.secrets`),
that ``repr`` holds no secret, and that malformed requests are refused with
:class:`~imkerutils.errors.InvalidTileError`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pytest

from imkerutils.errors import InvalidTileError
from imkerutils.exquisite.api.base import GeneratorBase, TileGenerator, TileRequest, TileResult, Usage
from imkerutils.exquisite.api.capabilities import capabilities
from imkerutils.exquisite.geometry.direction import Direction, from_right

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["GeneratorConformance", "make_request"]


def make_request(
    *,
    channels: int = 3,
    seed: int = 0,
    direction: Direction = Direction.RIGHT,
    prompt: str = "a mossy stone wall in soft daylight",
    size: int = 1024,
    content_seed: int = 0,
) -> TileRequest:
    """Return a realistic request: textured reference, the far half to generate, edge-replicated hint.

    The kept half holds a smooth gradient plus noise (seeded by ``content_seed``);
    the hidden half repeats the last kept column, as the pipeline's fill does.
    """
    rng = np.random.default_rng(content_seed)
    half = size // 2
    yy = np.arange(size, dtype=np.int32)[:, None]
    xx = np.arange(half, dtype=np.int32)[None, :]
    ref_r = np.empty((size, size, channels), np.uint8)
    planes = (xx * 255 // max(half - 1, 1), yy * 255 // max(size - 1, 1), (xx + yy) % 256)
    for c, plane in enumerate(planes):
        noisy = rng.integers(-20, 21, size=(size, half), dtype=np.int16) + plane.astype(np.int16)
        ref_r[:, :half, c] = np.clip(noisy, 0, 255)
    if channels == 4:
        ref_r[:, :half, 3] = 255
    ref_r[:, half:] = ref_r[:, half - 1 : half]  # edge-replicate hint in the hidden half
    gen_r = np.zeros((size, size), bool)
    gen_r[:, half:] = True
    return TileRequest(
        reference=np.ascontiguousarray(from_right(ref_r, direction)),
        generate=np.ascontiguousarray(from_right(gen_r, direction)),
        prompt=prompt,
        seed=seed,
        direction=direction,
        size=size,
    )


class GeneratorConformance:
    """Base class of the conformance suite; see the module docstring."""

    #: strings that must never appear in ``params()`` or ``repr(generator)`` (API keys, tokens)
    secrets: ClassVar[tuple[str, ...]] = ()
    #: tile size of the requests the suite sends
    size: ClassVar[int] = 1024

    def make_generator(self) -> TileGenerator:
        """Return a new generator under test (the hook subclasses implement)."""
        raise NotImplementedError

    def request(self, **kwargs: Any) -> TileRequest:
        """Return a request of the suite's size; keyword arguments go to :func:`make_request`."""
        kwargs.setdefault("size", self.size)
        return make_request(**kwargs)

    @pytest.fixture
    def generator(self) -> Iterator[TileGenerator]:
        """Yield the generator under test (override to build and close it)."""
        gen = self.make_generator()
        yield gen
        close = getattr(gen, "close", None)
        if callable(close):
            close()

    def test_class_attributes(self, generator: TileGenerator) -> None:
        """Check the declared class attributes: name, version and capabilities."""
        cls = type(generator)
        assert isinstance(generator, TileGenerator)
        assert isinstance(cls.name, str)
        assert cls.name
        assert isinstance(cls.version, str)
        assert cls.version
        assert isinstance(cls.deterministic, bool)
        assert isinstance(cls.needs_network, bool)
        assert isinstance(cls.max_concurrency, int)
        assert not isinstance(cls.max_concurrency, bool)
        assert cls.max_concurrency >= 1
        # capabilities are declared on the class (GeneratorBase gives the defaults), never probed
        keyed = capabilities(generator).api_key_env
        assert keyed is None or (isinstance(keyed, str) and keyed)
        if isinstance(generator, GeneratorBase):
            worst = generator.max_cost_per_tile_usd()
            assert worst is None or (isinstance(worst, float) and worst >= 0.0)
            if not cls.needs_network:
                assert worst == 0.0

    @pytest.mark.parametrize("channels", [3, 4], ids=["RGB", "RGBA"])
    def test_output_matches_request(self, generator: TileGenerator, channels: int) -> None:
        """Check that the result's shape, dtype and channels match the request."""
        result = generator.generate(self.request(channels=channels))
        assert isinstance(result, TileResult)
        assert isinstance(result.image, np.ndarray)
        assert result.image.dtype == np.uint8
        assert result.image.shape == (self.size, self.size, channels)

    @pytest.mark.parametrize("direction", list(Direction), ids=[d.value for d in Direction])
    def test_every_direction(self, generator: TileGenerator, direction: Direction) -> None:
        """Check that every direction gives a valid result."""
        result = generator.generate(self.request(direction=direction, seed=3))
        assert result.image.shape == (self.size, self.size, 3)
        assert result.image.dtype == np.uint8

    def test_result_fields(self, generator: TileGenerator) -> None:
        """Check the result's fields: usage, cost and generator parameters."""
        result = generator.generate(self.request())
        assert result.usage is None or isinstance(result.usage, Usage)
        assert result.cost_usd is None or (isinstance(result.cost_usd, float) and result.cost_usd >= 0)
        assert result.request_id is None or isinstance(result.request_id, str)
        assert isinstance(result.metadata, dict)
        json.dumps(result.metadata)  # step records store it as JSON

    def test_request_untouched_and_not_aliased(self, generator: TileGenerator) -> None:
        """Check that the generator neither changes the request nor returns views of it."""
        request = self.request(channels=4)
        reference, generate = request.reference.copy(), request.generate.copy()
        result = generator.generate(request)
        np.testing.assert_array_equal(request.reference, reference)
        np.testing.assert_array_equal(request.generate, generate)
        assert not np.shares_memory(result.image, request.reference)

    def test_deterministic_means_same_bytes(self, generator: TileGenerator) -> None:
        """Check that a deterministic generator gives the same bytes for the same request and seed."""
        if not type(generator).deterministic:
            pytest.skip(f"{type(generator).__name__} does not declare itself deterministic")
        request = self.request(seed=11)
        first = generator.generate(request).image
        again = generator.generate(self.request(seed=11)).image  # an equal request, new arrays
        other = self.make_generator()
        try:
            fresh = other.generate(request).image
        finally:
            close = getattr(other, "close", None)
            if callable(close):
                close()
        assert first.tobytes() == again.tobytes()
        assert first.tobytes() == fresh.tobytes()

    def test_params_are_json_without_secrets(self, generator: TileGenerator) -> None:
        """Check that the parameters are JSON and hold no secrets."""
        params = generator.params()
        assert isinstance(params, dict)
        text = json.dumps(params, sort_keys=True)
        assert json.loads(text) == params
        for secret in self.secrets:
            assert secret not in text
            assert secret not in repr(generator)
            assert secret not in str(generator)

    def test_rejects_malformed_request(self, generator: TileGenerator) -> None:
        """Check that a malformed request is refused with a clear error."""
        good = self.request()
        small = good.reference[: self.size // 2]
        with pytest.raises(InvalidTileError):
            generator.generate(
                TileRequest(small, good.generate, good.prompt, good.seed, good.direction, size=self.size)
            )
        with pytest.raises(InvalidTileError):
            generator.generate(
                TileRequest(
                    good.reference,
                    good.generate.astype(np.uint8),
                    good.prompt,
                    good.seed,
                    good.direction,
                    size=self.size,
                )
            )
