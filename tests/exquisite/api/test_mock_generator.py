"""MockGenerator: conformance, exact pixel behaviour, equivariance, drift and the failure script."""

from __future__ import annotations

import hashlib
import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from imkerutils.errors import (
    GeneratorOutputError,
    InvalidGeneratorParamsError,
    PermanentGeneratorError,
    RetryableGeneratorError,
)
from imkerutils.exquisite.api import mock as mock_module
from imkerutils.exquisite.api.base import TileRequest
from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.geometry.direction import Direction, from_right, to_right
from imkerutils.testing.generators import GeneratorConformance, make_request


class TestMockConformance(GeneratorConformance):
    def make_generator(self) -> MockGenerator:
        return MockGenerator()


class TestMockWithDriftConformance(GeneratorConformance):
    def make_generator(self) -> MockGenerator:
        return MockGenerator(band_drift=4, noise=0)


def replace(request: TileRequest, **changes: object) -> TileRequest:
    fields = {k: getattr(request, k) for k in ("reference", "generate", "prompt", "seed", "direction", "size")}
    fields.update(changes)
    return TileRequest(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("channels", [3, 4])
def test_kept_pixels_are_exact_and_seam_continues(channels: int) -> None:
    request = make_request(channels=channels, seed=5)
    noise = 6
    out = MockGenerator(noise=noise).generate(request).image
    keep = ~request.generate
    np.testing.assert_array_equal(out[keep], request.reference[keep])
    # first generated column = last kept column's colour plus texture of at most 1.5 * noise
    seam = out[:, 512].astype(int) - request.reference[:, 511].astype(int)
    assert np.abs(seam[:, :3]).max() <= 1.5 * noise
    if channels == 4:
        np.testing.assert_array_equal(out[:, 512:, 3], 255)
    # the new half is new content, not the edge-replicated hint
    assert (out[:, 512:, :3] != request.reference[:, 512:, :3]).mean() > 0.5


def test_output_depends_on_seed_prompt_and_kept_pixels_only() -> None:
    gen = MockGenerator()
    request = make_request(seed=1)
    base = gen.generate(request).image
    assert not np.array_equal(gen.generate(replace(request, seed=2)).image, base)
    assert not np.array_equal(gen.generate(replace(request, prompt="a desert")).image, base)
    kept_changed = request.reference.copy()
    kept_changed[700, 100, 0] ^= 1  # one kept value, far from the seam
    changed = gen.generate(replace(request, reference=kept_changed)).image
    assert not np.array_equal(changed[:, 512:], base[:, 512:])
    hint_changed = request.reference.copy()
    hint_changed[:, 512:] = 0  # hidden pixels carry no meaning
    np.testing.assert_array_equal(gen.generate(replace(request, reference=hint_changed)).image, base)


@pytest.mark.parametrize("direction", [Direction.LEFT, Direction.UP, Direction.DOWN])
def test_equivariant_under_the_direction_transform(direction: Direction) -> None:
    gen = MockGenerator(band_drift=2)
    right = make_request(channels=4, seed=9)  # built in the RIGHT frame
    other = TileRequest(
        reference=np.ascontiguousarray(from_right(right.reference, direction)),
        generate=np.ascontiguousarray(from_right(right.generate, direction)),
        prompt=right.prompt,
        seed=right.seed,
        direction=direction,
    )
    expected = gen.generate(right).image
    got = gen.generate(other).image
    np.testing.assert_array_equal(to_right(got, direction), expected)


def test_band_drift_moves_kept_colours_within_amplitude_and_nothing_else() -> None:
    request = make_request(channels=4, seed=4)
    exact = MockGenerator().generate(request).image
    drifted = MockGenerator(band_drift=3).generate(request).image
    keep = ~request.generate
    delta = drifted[keep].astype(int) - request.reference[keep].astype(int)
    assert np.abs(delta[:, :3]).max() == 3
    assert (delta[:, :3] != 0).mean() > 0.5
    np.testing.assert_array_equal(delta[:, 3], 0)  # alpha untouched
    np.testing.assert_array_equal(drifted[request.generate], exact[request.generate])


def test_irregular_mask_and_rows_with_nothing_kept() -> None:
    request = make_request(seed=2)
    generate = request.generate.copy()
    generate[100:110, :] = True  # rows with no kept pixel at all
    generate[500:520, 200:300] = True  # a hole inside the kept half
    out = MockGenerator().generate(replace(request, generate=generate)).image
    keep = ~generate
    np.testing.assert_array_equal(out[keep], request.reference[keep])
    assert (out[generate] != request.reference[generate]).any()


def golden_request() -> TileRequest:
    """A fixed request built from arithmetic only (no RNG), RIGHT direction, right half generated."""
    y, x, c = np.ogrid[0:1024, 0:1024, 0:3]
    reference = ((x * 3 + y * 5 + c * 70) % 256).astype(np.uint8)
    generate = np.zeros((1024, 1024), bool)
    generate[:, 512:] = True
    reference[:, 512:] = reference[:, 511:512]
    return TileRequest(reference, generate, "golden", seed=123, direction=Direction.RIGHT)


def test_golden_output() -> None:
    """Pins the pattern: change it only together with MockGenerator.version."""
    out = MockGenerator().generate(golden_request()).image
    assert MockGenerator.version == "1"
    assert hashlib.sha256(out.tobytes()).hexdigest() == GOLDEN_SHA256


GOLDEN_SHA256 = "06e56cd8e446174006217b4a9d8f47bceab8e7a1d3e0418a885d7dd0e5d6caf9"


@pytest.mark.parametrize(
    ("failure", "error"),
    [("retryable", RetryableGeneratorError), ("permanent", PermanentGeneratorError), ("output", GeneratorOutputError)],
)
def test_failure_script(failure: str, error: type[Exception]) -> None:
    gen = MockGenerator(fail_times=2, failure=failure)  # type: ignore[arg-type]
    request = make_request()
    for call in (1, 2):
        with pytest.raises(error, match=f"mock failure {call} of 2"):
            gen.generate(request)
    np.testing.assert_array_equal(gen.generate(request).image, MockGenerator().generate(request).image)
    assert gen.calls == 3


def test_sleep_simulates_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(mock_module.time, "sleep", slept.append)
    MockGenerator(sleep_s=0.25).generate(make_request())
    MockGenerator().generate(make_request())
    assert slept == [0.25]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"band_drift": -1},
        {"band_drift": 1.5},
        {"noise": 65},
        {"sleep_s": -0.1},
        {"fail_times": -1},
        {"failure": "sometimes"},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidGeneratorParamsError) as info:
        MockGenerator(**kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)  # still a ValueError for callers who catch that


def test_threads_and_pickling_give_the_same_bytes() -> None:
    gen = MockGenerator(band_drift=1)
    requests = [make_request(seed=s % 3, channels=3 + s % 2) for s in range(8)]
    expected = [gen.generate(r).image for r in requests]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(gen.generate, requests))
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_array_equal(g.image, e)
    clone = pickle.loads(pickle.dumps(gen))
    np.testing.assert_array_equal(clone.generate(requests[0]).image, expected[0])
    assert gen.calls == 16
