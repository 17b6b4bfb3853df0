"""The OpenAI image-edit generator (name ``"openai"``), through the official SDK.

One call per tile: ``client.images.edit`` with the reference tile and an RGBA
mask (alpha 0 where the model may paint, 255 elsewhere) as PNG files, asking for
one 1024x1024 PNG.  Transient failures (429, 408/409, 5xx, timeouts, lost
connections) are retried here with exponential backoff and seed-derived jitter,
honouring ``Retry-After``; the SDK's own retries are off so that every failure
is classified in one place, :func:`map_openai_errors`.  Refusals, bad keys and
other client errors are never retried.

The API key comes from the ``api_key`` argument or ``OPENAI_API_KEY`` and is
never logged, shown in ``repr`` or returned by :meth:`OpenAIGenerator.params`.
``base_url`` (or ``OPENAI_BASE_URL``) points the generator at another server,
e.g. a local fake one in tests.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import io
import math
import os
import random
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from PIL import Image

from imkerutils.errors import (
    AuthenticationGeneratorError,
    GeneratorOutputError,
    InvalidGeneratorParamsError,
    InvalidTileError,
    ModerationRefusedError,
    PermanentGeneratorError,
    RetryableGeneratorError,
)
from imkerutils.exquisite.api._checks import check_request
from imkerutils.exquisite.api.base import GeneratorBase, TileRequest, TileResult, Usage
from imkerutils.exquisite.api.pricing import cost_usd
from imkerutils.exquisite.geometry.mask import mask_to_openai_rgba
from imkerutils.tiling.imageio import encode_png

if TYPE_CHECKING:
    from collections.abc import Iterator

    import openai  # imported where it is used: 0.5 s and 42 MiB that listing generators need not pay

__all__ = ["DEFAULT_MODEL", "OpenAIGenerator", "map_openai_errors", "mask_png"]

# gpt-image-1 was shut down by the provider on 2026-10-23 (see the SDK's docs of images.edit); the default is a
# current edit model with a price in imkerutils/data/openai_prices.json.
DEFAULT_MODEL = "gpt-image-2.6-sunburst"
# Models that accept input_fidelity="high" (per the SDK's own docs: gpt-image-1-mini accepts
# only "low", its default; gpt-image-2 and later reject the parameter).
_HIGH_FIDELITY_MODELS = frozenset({"gpt-image-1", "gpt-image-1.5"})
_RETRYABLE_STATUS = frozenset({408, 409, 429})  # plus every 5xx, as the SDK itself does
_MAX_RETRY_AFTER_S = 120.0
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SIZE = 1024
_sleep = time.sleep  # module-level so tests can record backoff delays instead of waiting


class _Unset:
    def __repr__(self) -> str:
        return "<model default>"


_MODEL_DEFAULT: Any = _Unset()


class _Secret:
    """A string that never shows itself in ``repr`` or ``str``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'**********'"

    __str__ = __repr__


def _request_id_suffix(exc: openai.APIStatusError) -> str:
    rid = getattr(exc, "request_id", None)
    return f" [request {rid}]" if rid else ""


@contextmanager
def map_openai_errors() -> Iterator[None]:
    """Translate OpenAI SDK exceptions into imkerutils generator errors (the one place that does).

    The original SDK exception is kept as ``__cause__`` (except for 401, whose
    server message can quote part of the key).
    """
    import openai

    try:
        yield
    except openai.APITimeoutError as exc:
        raise RetryableGeneratorError("the OpenAI request timed out") from exc
    except openai.APIConnectionError as exc:
        raise RetryableGeneratorError(f"could not reach the OpenAI API: {exc}") from exc
    except openai.APIStatusError as exc:
        status, rid = exc.status_code, _request_id_suffix(exc)
        if status == 401:
            raise AuthenticationGeneratorError(
                f"the OpenAI API key was rejected (HTTP 401){rid}; check OPENAI_API_KEY or api_key="
            ) from None
        if status == 400 and exc.code == "moderation_blocked":
            raise ModerationRefusedError(
                "the prompt or the image was refused by OpenAI's safety system (moderation_blocked)"
                f"{rid}; retrying the same request will not help: change the prompt or the image"
            ) from exc
        if status in _RETRYABLE_STATUS or status >= 500:
            raise RetryableGeneratorError(f"OpenAI API error HTTP {status}{rid}: {exc.message}") from exc
        if status == 403:
            raise PermanentGeneratorError(
                f"OpenAI refused access (HTTP 403){rid}: {exc.message}; check the key's project, "
                "organisation verification and access to the model"
            ) from exc
        raise PermanentGeneratorError(f"OpenAI API error HTTP {status}{rid}: {exc.message}") from exc
    except openai.APIResponseValidationError as exc:
        raise GeneratorOutputError(f"OpenAI returned a response we cannot parse: {exc}") from exc
    except openai.OpenAIError as exc:
        raise PermanentGeneratorError(f"OpenAI client error: {exc}") from exc


def _retry_after_s(err: BaseException) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` / ``retry-after``), if any."""
    cause = err.__cause__
    response = getattr(cause, "response", None)
    if response is None:
        return None
    headers = response.headers
    for header, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            if header != "retry-after":
                continue
            try:  # Retry-After may also be an HTTP date
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                continue
        if math.isfinite(seconds):
            return min(max(seconds, 0.0), _MAX_RETRY_AFTER_S)
    return None


def mask_png(generate: np.ndarray) -> bytes:
    """OpenAI's mask as PNG bytes (:func:`~imkerutils.exquisite.geometry.mask.mask_to_openai_rgba`)."""
    return encode_png(mask_to_openai_rgba(generate))


def _decode_image(response: Any, channels: int, size: int) -> np.ndarray:
    data = getattr(response, "data", None) or []
    b64 = getattr(data[0], "b64_json", None) if data else None
    if not b64:
        raise GeneratorOutputError("OpenAI returned no image (data[0].b64_json is missing)")
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise GeneratorOutputError("OpenAI returned an image that is not valid base64") from exc
    if not raw.startswith(_PNG_SIGNATURE):
        raise GeneratorOutputError(f"OpenAI returned data that is not a PNG (starts with {raw[:8]!r})")
    try:
        with Image.open(io.BytesIO(raw), formats=["PNG"]) as im:
            if im.size != (size, size):
                raise GeneratorOutputError(f"OpenAI returned a {im.size[0]}x{im.size[1]} image; expected {size}x{size}")
            out = np.array(im.convert("RGBA" if channels == 4 else "RGB"), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise GeneratorOutputError(f"OpenAI returned a PNG that cannot be decoded: {exc}") from exc
    return out


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    details = getattr(raw, "input_tokens_details", None)
    if details is not None:
        text, image = int(details.text_tokens or 0), int(details.image_tokens or 0)
    else:  # no split reported: price every input token at the (higher) image-input rate
        text, image = 0, int(getattr(raw, "input_tokens", 0) or 0)
    return Usage(input_text_tokens=text, input_image_tokens=image, output_tokens=int(raw.output_tokens or 0))


class OpenAIGenerator(GeneratorBase):
    """Tile generator backed by OpenAI's ``images.edit`` endpoint.

    Parameters
    ----------
    model, quality
        Passed to the API.  Note: the provider retired ``gpt-image-1`` on 2026-10-23.
    input_fidelity
        ``"high"``/``"low"``; by default ``"high"`` for models that accept it and
        omitted (None) otherwise.
    timeout
        Seconds per HTTP request.
    max_retries
        Retries of a transient failure (so at most ``max_retries + 1`` requests).
    backoff
        ``(base, max)`` seconds: attempt ``k`` waits ``min(max, base * 2**k)``
        scaled by a jitter in [0.5, 1) drawn from the request's seed, unless the
        server sent ``Retry-After``.
    api_key
        Defaults to ``OPENAI_API_KEY``; a missing key raises
        :class:`AuthenticationGeneratorError` here, before any request.
    base_url, organization
        Passed to ``openai.OpenAI`` (``base_url`` defaults to ``OPENAI_BASE_URL``).
    """

    name: ClassVar[str] = "openai"
    version: ClassVar[str] = "1"
    deterministic: ClassVar[bool] = False
    needs_network: ClassVar[bool] = True
    max_concurrency: ClassVar[int] = 4
    api_key_env: ClassVar[str | None] = "OPENAI_API_KEY"

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        quality: str = "high",
        input_fidelity: str | None = _MODEL_DEFAULT,
        timeout: float = 120.0,
        max_retries: int = 3,
        backoff: tuple[float, float] = (1.0, 30.0),
        api_key: str | None = None,
        base_url: str | None = None,
        organization: str | None = None,
    ) -> None:
        if isinstance(input_fidelity, _Unset):
            input_fidelity = "high" if model in _HIGH_FIDELITY_MODELS else None
        if not timeout > 0:
            raise InvalidGeneratorParamsError(f"timeout must be > 0 seconds; got {timeout!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidGeneratorParamsError(f"max_retries must be an int >= 0; got {max_retries!r}")
        base, cap = (float(b) for b in backoff)
        if not (0 <= base <= cap):
            raise InvalidGeneratorParamsError(f"backoff must be (base, max) with 0 <= base <= max; got {backoff!r}")
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if not key:
            raise AuthenticationGeneratorError(
                "no OpenAI API key: set the OPENAI_API_KEY environment variable or pass api_key="
            )
        self.model = model
        self.quality = quality
        self.input_fidelity: str | None = input_fidelity
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.backoff = (base, cap)
        self.base_url = base_url
        self.organization = organization
        self._api_key = _Secret(key)
        self._client: openai.OpenAI | None = None
        self._lock = threading.Lock()

    def max_cost_per_tile_usd(self) -> float | None:
        """Return an upper bound on one call's cost, for budgets (``None`` when the model has no price).

        Counts a 1024x1024 high-quality output (6,240 tokens, above the provider's
        published 1024x1024 figures), two input images (reference and mask,
        1,600 tokens each, counted at the image rate) and 1,000 prompt tokens.
        """
        from imkerutils.exquisite.api.base import Usage
        from imkerutils.exquisite.api.pricing import cost_usd

        return cost_usd(self.model, Usage(input_text_tokens=1_000, input_image_tokens=3_200, output_tokens=6_240))

    def params(self) -> dict[str, Any]:
        """Model settings recorded with each step (never the key or the endpoint)."""
        return {
            "model": self.model,
            "quality": self.quality,
            "input_fidelity": self.input_fidelity,
            "size": f"{_SIZE}x{_SIZE}",
            "output_format": "png",
        }

    def __repr__(self) -> str:
        return (
            f"OpenAIGenerator(model={self.model!r}, quality={self.quality!r}, "
            f"input_fidelity={self.input_fidelity!r}, timeout={self.timeout}, max_retries={self.max_retries}, "
            f"backoff={self.backoff}, base_url={self.base_url!r}, organization={self.organization!r})"
        )

    def __getstate__(self) -> dict[str, Any]:
        """Pickled state (for dask workers): no HTTP client, no lock, and never the API key.

        A generator unpickled on a worker reads ``OPENAI_API_KEY`` from that
        worker's environment when it first makes a request.
        """
        state = self.__dict__.copy()
        state["_client"] = None
        state["_api_key"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __enter__(self) -> OpenAIGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client (a new one is made if the generator is used again)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _get_client(self) -> openai.OpenAI:
        import openai

        with self._lock:
            if self._client is None:
                if self._api_key is None:  # unpickled on a worker: the key comes from its environment
                    key = os.environ.get("OPENAI_API_KEY")
                    if not key:
                        raise AuthenticationGeneratorError(
                            "no OpenAI API key on this worker: set OPENAI_API_KEY in every worker's environment"
                        )
                    self._api_key = _Secret(key)
                self._client = openai.OpenAI(
                    api_key=self._api_key.get(),
                    base_url=self.base_url,
                    organization=self.organization,
                    timeout=self.timeout,
                    max_retries=0,
                )
            return self._client

    def _delay(self, err: RetryableGeneratorError, seed: int, attempt: int) -> float:
        server = _retry_after_s(err)
        if server is not None:
            return server
        base, cap = self.backoff
        jitter = random.Random(f"imker-backoff:{seed}:{attempt}").random()
        return min(cap, base * 2.0**attempt) * (0.5 + 0.5 * jitter)

    def generate(self, request: TileRequest) -> TileResult:
        """Ask the model to fill ``request.generate``; see the module docstring."""
        channels = check_request(request)
        if request.size != _SIZE:
            raise InvalidTileError(f"the openai generator makes {_SIZE}x{_SIZE} tiles; got size {request.size}")
        kwargs: dict[str, Any] = {
            "model": self.model,
            "image": ("reference.png", encode_png(request.reference), "image/png"),
            "mask": ("mask.png", mask_png(request.generate), "image/png"),
            "prompt": request.prompt,
            "size": f"{_SIZE}x{_SIZE}",
            "quality": self.quality,
            "output_format": "png",
            "n": 1,
        }
        if self.input_fidelity is not None:
            kwargs["input_fidelity"] = self.input_fidelity
        client = self._get_client()
        attempt = 0
        while True:
            try:
                with map_openai_errors():
                    response = client.images.edit(**kwargs)
                break
            except RetryableGeneratorError as err:
                if attempt >= self.max_retries:
                    raise RetryableGeneratorError(f"{err} (gave up after {attempt + 1} attempts)") from err
                _sleep(self._delay(err, request.seed, attempt))
                attempt += 1
        image = _decode_image(response, channels, _SIZE)
        usage = _usage(getattr(response, "usage", None))
        metadata: dict[str, Any] = {"model": self.model, "attempts": attempt + 1}
        for key in ("created", "size", "quality", "output_format", "background"):
            value = getattr(response, key, None)
            if value is not None:
                metadata[key] = value
        return TileResult(
            image=image,
            usage=usage,
            cost_usd=cost_usd(self.model, usage),
            request_id=getattr(response, "_request_id", None),
            metadata=metadata,
        )
