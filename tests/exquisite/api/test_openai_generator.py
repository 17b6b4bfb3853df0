"""OpenAIGenerator against a fake OpenAI server on 127.0.0.1: the wire contract, retries, errors, cost."""

from __future__ import annotations

import base64
import io
import json
import pickle
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import pytest
from openai_fake_server import DEFAULT_USAGE, TEST_KEY, FakeOpenAI, Reply, painted, png_b64
from PIL import Image

from imkerutils import errors
from imkerutils.exquisite.api import openai_ as openai_module
from imkerutils.exquisite.api.base import TileRequest, Usage
from imkerutils.exquisite.api.openai_ import OpenAIGenerator
from imkerutils.exquisite.geometry.direction import Direction
from imkerutils.testing.generators import GeneratorConformance, make_request

if TYPE_CHECKING:
    from collections.abc import Iterator

TINY_BACKOFF = (0.0, 0.0)


def error_json(message: str, code: str | None = None, type_: str = "invalid_request_error") -> dict:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def flat_request(channels: int = 3) -> TileRequest:
    """A request whose PNG is tiny, for tests where upload time matters (timeouts)."""
    generate = np.zeros((1024, 1024), bool)
    generate[:, 512:] = True
    return TileRequest(np.full((1024, 1024, channels), 90, np.uint8), generate, "flat", 1, Direction.RIGHT)


@pytest.fixture
def make_gen(fake_openai: FakeOpenAI) -> Iterator:
    made: list[OpenAIGenerator] = []

    def make(**kwargs: object) -> OpenAIGenerator:
        kwargs.setdefault("api_key", TEST_KEY)
        kwargs.setdefault("base_url", fake_openai.base_url)
        kwargs.setdefault("backoff", TINY_BACKOFF)
        kwargs.setdefault("model", "gpt-image-1")  # the wire tests pin a model that takes input_fidelity
        gen = OpenAIGenerator(**kwargs)  # type: ignore[arg-type]
        made.append(gen)
        return gen

    yield make
    for gen in made:
        gen.close()


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff delays the generator asked for, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(openai_module, "_sleep", recorded.append)
    return recorded


class TestOpenAIConformance(GeneratorConformance):
    secrets = (TEST_KEY,)

    @pytest.fixture(autouse=True)
    def _server(self, fake_openai: FakeOpenAI) -> None:
        fake_openai.paint = False  # shapes and channels are what this suite checks
        self.fake = fake_openai

    def make_generator(self) -> OpenAIGenerator:
        return OpenAIGenerator(api_key=TEST_KEY, base_url=self.fake.base_url, backoff=TINY_BACKOFF)


@pytest.mark.parametrize("channels", [3, 4])
def test_wire_contract_and_decoded_result(fake_openai: FakeOpenAI, make_gen, channels: int) -> None:
    request = make_request(channels=channels, seed=7, direction=Direction.UP, prompt="moss on granite")
    result = make_gen(quality="medium").generate(request)

    assert len(fake_openai.requests) == 1
    seen = fake_openai.requests[0]
    assert (seen.method, seen.path) == ("POST", "/v1/images/edits")
    assert seen.headers["authorization"] == f"Bearer {TEST_KEY}"
    for name, filename in (("image", "reference.png"), ("mask", "mask.png")):
        assert (seen.parts[name].filename, seen.parts[name].content_type) == (filename, "image/png")
    fields = {n: seen.field(n) for n in ("model", "prompt", "size", "quality", "output_format", "n", "input_fidelity")}
    assert fields == {
        "model": "gpt-image-1",
        "prompt": "moss on granite",
        "size": "1024x1024",
        "quality": "medium",
        "output_format": "png",
        "n": "1",
        "input_fidelity": "high",
    }
    image = seen.image("image")
    assert image.mode == ("RGBA" if channels == 4 else "RGB")
    np.testing.assert_array_equal(np.asarray(image), request.reference)
    mask = seen.image("mask")
    assert (mask.mode, mask.size) == ("RGBA", (1024, 1024))
    alpha = np.asarray(mask)[..., 3]
    np.testing.assert_array_equal(alpha == 0, request.generate)
    np.testing.assert_array_equal(alpha[~request.generate], 255)

    expected = painted(request.reference, np.asarray(mask))[..., :channels]
    assert result.image.shape == (1024, 1024, channels)
    np.testing.assert_array_equal(result.image, expected)
    assert result.request_id == "req_fake_1"
    assert result.metadata == {
        "model": "gpt-image-1",
        "attempts": 1,
        "created": 1764000000,
        "size": "1024x1024",
        "quality": "high",
        "output_format": "png",
        "background": "opaque",
    }


def test_usage_and_cost(make_gen) -> None:
    result = make_gen().generate(flat_request())
    details = DEFAULT_USAGE["input_tokens_details"]
    assert result.usage == Usage(details["text_tokens"], details["image_tokens"], DEFAULT_USAGE["output_tokens"])
    assert result.cost_usd == pytest.approx((50 * 5.0 + 1320 * 10.0 + 4160 * 40.0) / 1e6, rel=1e-12)


def test_unknown_model_costs_unknown_and_omits_input_fidelity(fake_openai: FakeOpenAI, make_gen) -> None:
    result = make_gen(model="gpt-image-test-unpriced").generate(flat_request())
    assert result.cost_usd is None
    assert result.usage is not None
    assert result.usage.output_tokens == 4160
    seen = fake_openai.requests[0]
    assert seen.field("model") == "gpt-image-test-unpriced"
    assert "input_fidelity" not in seen.parts


def test_missing_usage_means_cost_unknown(fake_openai: FakeOpenAI, make_gen) -> None:
    fake_openai.usage = None
    result = make_gen().generate(flat_request())
    assert result.usage is None
    assert result.cost_usd is None


def test_rate_limit_then_success_is_retried(fake_openai: FakeOpenAI, make_gen, delays: list[float]) -> None:
    fake_openai.push(Reply(429, error_json("Rate limit reached", "rate_limit_exceeded"), headers={"retry-after": "0"}))
    result = make_gen().generate(flat_request())
    assert len(fake_openai.requests) == 2
    assert result.metadata["attempts"] == 2
    assert result.request_id == "req_fake_2"
    assert delays == [0.0]  # Retry-After: 0 honoured


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("retry-after", "7", 7.0),
        ("retry-after-ms", "1500", 1.5),
        ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: go now
        ("retry-after", "100000", 120.0),  # capped
    ],
)
def test_retry_after_is_honoured(
    fake_openai: FakeOpenAI, make_gen, delays: list[float], header: str, value: str, expected: float
) -> None:
    fake_openai.push(Reply(429, error_json("slow down"), headers={header: value}))
    make_gen(backoff=(1.0, 30.0)).generate(flat_request())
    assert delays == [expected]


@pytest.mark.parametrize("value", ["soon", "nan"])
def test_unusable_retry_after_falls_back_to_backoff(
    fake_openai: FakeOpenAI, make_gen, delays: list[float], value: str
) -> None:
    fake_openai.push(Reply(429, error_json("slow down"), headers={"retry-after": value}))
    make_gen(backoff=(1.0, 30.0)).generate(flat_request())
    assert len(delays) == 1
    assert 0.5 <= delays[0] < 1.0


def test_concurrent_calls_share_one_client(fake_openai: FakeOpenAI, make_gen) -> None:
    gen = make_gen()
    with ThreadPoolExecutor(OpenAIGenerator.max_concurrency) as pool:
        results = list(pool.map(gen.generate, [flat_request(3), flat_request(4)] * 2))
    assert [r.image.shape[2] for r in results] == [3, 4, 3, 4]
    assert sorted(r.request_id for r in results) == [f"req_fake_{i}" for i in range(1, 5)]


def test_pickled_generator_carries_no_key_and_reads_the_workers_environment(
    fake_openai: FakeOpenAI, make_gen, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = make_gen()
    gen.generate(flat_request())  # a live client must not stop pickling (e.g. for dask workers)
    blob = pickle.dumps(gen)
    assert TEST_KEY.encode() not in blob
    clone = pickle.loads(blob)
    try:
        with pytest.raises(errors.AuthenticationGeneratorError, match="OPENAI_API_KEY in every worker"):
            clone.generate(flat_request())
        assert len(fake_openai.requests) == 1  # refused before any request
        monkeypatch.setenv("OPENAI_API_KEY", "sk-worker-key")
        assert clone.generate(flat_request()).request_id == "req_fake_2"
        assert fake_openai.requests[-1].headers["authorization"] == "Bearer sk-worker-key"
    finally:
        clone.close()


def test_default_model_is_a_current_priced_edit_model(make_gen) -> None:
    from imkerutils.exquisite.api.openai_ import DEFAULT_MODEL

    gen = make_gen(model=DEFAULT_MODEL)
    assert DEFAULT_MODEL != "gpt-image-1"  # shut down by the provider on 2026-10-23
    assert gen.params()["input_fidelity"] is None  # gpt-image-2.x takes no input_fidelity
    assert gen.max_cost_per_tile_usd() == pytest.approx((1_000 * 5.0 + 3_200 * 8.0 + 6_240 * 30.0) / 1e6)
    assert make_gen(model="no-such-model").max_cost_per_tile_usd() is None


def test_server_errors_retry_with_seeded_backoff_then_give_up(
    fake_openai: FakeOpenAI, make_gen, delays: list[float]
) -> None:
    fake_openai.push(*[Reply(500, error_json("The server had an error", type_="server_error"))] * 4)
    gen = make_gen(max_retries=3, backoff=(1.0, 3.0))
    with pytest.raises(errors.RetryableGeneratorError, match=r"HTTP 500.*gave up after 4 attempts"):
        gen.generate(flat_request())
    assert len(fake_openai.requests) == 4
    assert len(delays) == 3
    for attempt, delay in enumerate(delays):  # min(max, base * 2**k) scaled by jitter in [0.5, 1)
        cap = min(3.0, 2.0**attempt)
        assert 0.5 * cap <= delay < cap
    first = list(delays)
    delays.clear()
    fake_openai.push(*[Reply(503, error_json("overloaded"))] * 4)
    with pytest.raises(errors.RetryableGeneratorError):
        gen.generate(flat_request())
    assert delays == first  # jitter is derived from the seed, so it repeats


def test_timeout_is_retryable(fake_openai: FakeOpenAI, make_gen) -> None:
    fake_openai.push(Reply(delay_s=30.0), Reply(delay_s=30.0))
    with pytest.raises(errors.RetryableGeneratorError, match="timed out"):
        make_gen(timeout=0.5, max_retries=1).generate(flat_request())
    assert len(fake_openai.requests) == 2


def test_connection_refused_is_retryable(make_gen) -> None:
    gen = make_gen(base_url="http://127.0.0.1:9/v1", max_retries=1)  # discard port: nothing listens
    with pytest.raises(errors.RetryableGeneratorError, match="could not reach the OpenAI API"):
        gen.generate(flat_request())


def test_moderation_refusal_is_not_retried(fake_openai: FakeOpenAI, make_gen) -> None:
    fake_openai.push(
        Reply(
            400,
            error_json(
                "Your request was rejected by the safety system.", "moderation_blocked", "image_generation_user_error"
            ),
        )
    )
    with pytest.raises(errors.ModerationRefusedError, match="refused by OpenAI's safety system") as info:
        make_gen().generate(flat_request())
    assert isinstance(info.value, errors.PermanentGeneratorError)
    assert len(fake_openai.requests) == 1


def test_rejected_key_is_not_retried_and_not_echoed(fake_openai: FakeOpenAI, make_gen) -> None:
    fake_openai.push(
        Reply(401, error_json(f"Incorrect API key provided: {TEST_KEY[:8]}***{TEST_KEY[-4:]}", "invalid_api_key"))
    )
    with pytest.raises(errors.AuthenticationGeneratorError, match="the OpenAI API key was rejected") as info:
        make_gen().generate(flat_request())
    assert len(fake_openai.requests) == 1
    assert "Incorrect API key" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@pytest.mark.parametrize("status", [403, 404, 400, 422])
def test_other_client_errors_are_permanent(fake_openai: FakeOpenAI, make_gen, status: int) -> None:
    fake_openai.push(Reply(status, error_json(f"error {status}", "some_code")))
    with pytest.raises(errors.PermanentGeneratorError, match=f"HTTP {status}") as info:
        make_gen().generate(flat_request())
    assert not isinstance(info.value, (errors.ModerationRefusedError, errors.AuthenticationGeneratorError))
    assert len(fake_openai.requests) == 1


def png_of(size: tuple[int, int]) -> str:
    return png_b64(np.zeros((size[1], size[0], 3), np.uint8))


def jpeg_b64() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (1024, 1024)).save(buf, format="JPEG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([{"b64_json": png_of((512, 512))}], "512x512 image; expected 1024x1024"),
        ([{"b64_json": png_of((1024, 1536))}], "1024x1536 image"),
        ([{"b64_json": jpeg_b64()}], "not a PNG"),
        ([{"b64_json": base64.b64encode(b"\x89PNG\r\n\x1a\n garbage").decode()}], "cannot be decoded"),
        ([{"b64_json": "***not base64***"}], "not valid base64"),
        ([{"url": "https://example.invalid/x.png"}], "no image"),
        ([], "no image"),
    ],
)
def test_bad_output_is_a_generator_output_error(fake_openai: FakeOpenAI, make_gen, data: list, match: str) -> None:
    fake_openai.push(Reply(200, {"created": 1, "data": data}))
    with pytest.raises(errors.GeneratorOutputError, match=match):
        make_gen().generate(flat_request())
    assert len(fake_openai.requests) == 1


def test_grey_png_is_converted_to_the_request_channels(fake_openai: FakeOpenAI, make_gen) -> None:
    grey = np.arange(1024 * 1024, dtype=np.uint32).reshape(1024, 1024).astype(np.uint8)
    fake_openai.push(Reply(200, {"created": 1, "data": [{"b64_json": png_b64(grey)}]}))
    result = make_gen().generate(flat_request(channels=4))
    np.testing.assert_array_equal(result.image[..., :3], np.repeat(grey[..., None], 3, axis=2))
    np.testing.assert_array_equal(result.image[..., 3], 255)


def test_key_and_base_url_from_the_environment(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    with OpenAIGenerator(backoff=TINY_BACKOFF) as gen:
        gen.generate(flat_request())
    assert fake_openai.requests[0].headers["authorization"] == f"Bearer {TEST_KEY}"


def test_missing_key_fails_before_any_request(fake_openai: FakeOpenAI) -> None:
    with pytest.raises(errors.AuthenticationGeneratorError, match=r"no OpenAI API key.*OPENAI_API_KEY"):
        OpenAIGenerator(base_url=fake_openai.base_url)
    assert fake_openai.requests == []


def test_key_never_in_repr_or_params(make_gen) -> None:
    gen = make_gen(organization="org-visible")
    assert TEST_KEY not in repr(gen)
    assert TEST_KEY not in json.dumps(gen.params())
    assert "org-visible" in repr(gen)
    assert gen.params() == {
        "model": "gpt-image-1",
        "quality": "high",
        "input_fidelity": "high",
        "size": "1024x1024",
        "output_format": "png",
    }


def test_wrong_tile_size_is_refused_before_any_request(fake_openai: FakeOpenAI, make_gen) -> None:
    small = make_request(size=256)
    with pytest.raises(errors.InvalidTileError, match="1024x1024 tiles"):
        make_gen().generate(small)
    assert fake_openai.requests == []


@pytest.mark.parametrize("kwargs", [{"timeout": 0}, {"max_retries": -1}, {"backoff": (2.0, 1.0)}])
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(errors.InvalidGeneratorParamsError) as info:
        OpenAIGenerator(api_key=TEST_KEY, **kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)  # still a ValueError for callers who catch that
