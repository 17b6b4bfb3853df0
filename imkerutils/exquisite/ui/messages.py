"""Plain-words messages for the errors a browser user can meet (the page shows them as they are).

Every message has a ``kind`` (a stable word the page and tests can rely on),
a ``title`` in plain words, and a ``detail`` (the library's own message,
which already says what to do).  Nothing here may carry an API key:
:func:`redact` removes the value of ``OPENAI_API_KEY``, and of every key
variable a loaded generator class declares (``api_key_env``), from any text
as a last line of defence.

>>> from imkerutils.errors import BudgetExceededError
>>> m = explain(BudgetExceededError("step could cost up to $0.25; $0.10 of the $1.00 budget is left"))
>>> m.kind, m.title
('budget', 'Budget reached')
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from imkerutils.errors import (
    AuthenticationGeneratorError,
    BudgetExceededError,
    CanvasChangedError,
    CanvasLockedError,
    GeneratorError,
    ImkerError,
    ModerationRefusedError,
    NoContentNearError,
    NothingToRedoError,
    NothingToUndoError,
    PermanentGeneratorError,
    ProposalNotFoundError,
    ProposalStaleError,
    RetryableGeneratorError,
    StepCancelledError,
    StepRejectedError,
)
from imkerutils.exquisite.api.base import GeneratorBase

__all__ = ["PlainError", "explain", "redact"]

_KEY_VARIABLES = ("OPENAI_API_KEY",)


# A frozen record of three values and a default, as api/pricing.py's ModelPrice: alike in shape only.
@dataclass(frozen=True, slots=True)
class PlainError:
    """What the page shows: ``title`` (plain words), ``detail`` and an HTTP ``status`` for direct replies."""

    kind: str
    title: str
    detail: str
    status: int = 400

    def to_dict(self) -> dict[str, str]:
        """Return the error as the page shows it (JSON)."""
        return {"kind": self.kind, "title": self.title, "detail": self.detail}


def key_variables() -> list[str]:
    """Return the environment variables whose values :func:`redact` removes.

    ``OPENAI_API_KEY`` always, and the ``api_key_env`` of every
    :class:`GeneratorBase` subclass defined so far (a generator whose class was
    never imported has used no key).
    """
    names = dict.fromkeys(_KEY_VARIABLES)
    todo: list[type[GeneratorBase]] = [GeneratorBase]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.api_key_env:
            names[cls.api_key_env] = None
    return list(names)


def redact(text: str) -> str:
    """``text`` with any API key from the server's environment replaced by ``[redacted]``."""
    for name in key_variables():
        secret = os.environ.get(name)
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


def _is_rate_limit(exc: BaseException) -> bool:
    cause = exc.__cause__
    return getattr(cause, "status_code", None) == 429 or "HTTP 429" in str(exc)


#: Our errors in plain words, tried in order: ``(kind, title, HTTP status, exception types)``.
_PLAIN: tuple[tuple[str, str, int, type[BaseException] | tuple[type[BaseException], ...]], ...] = (
    ("budget", "Budget reached", 402, BudgetExceededError),
    ("rejected", "Quality control rejected the step", 422, StepRejectedError),
    ("generator", "The generator failed", 502, (PermanentGeneratorError, GeneratorError)),
    ("locked", "Another program is writing to this canvas", 409, CanvasLockedError),
    ("stale", "The canvas changed under these candidates", 409, ProposalStaleError),
    ("not_found", "No such staged candidate", 404, ProposalNotFoundError),
    ("cancelled", "Cancelled", 409, StepCancelledError),
    ("no_content", "Nothing next to this region to continue from", 400, NoContentNearError),
    ("changed", "The canvas changed while the step was being made", 409, CanvasChangedError),
    ("nothing_to_undo", "Nothing to undo", 409, NothingToUndoError),
    ("nothing_to_redo", "Nothing to redo", 409, NothingToRedoError),
)


def explain(exc: BaseException) -> PlainError:
    """Return the plain-words message for ``exc`` (unexpected errors get a generic one; see the server log)."""
    detail = redact(str(exc))
    if isinstance(exc, AuthenticationGeneratorError):
        return PlainError("api_key", "Missing or invalid API key", detail)
    if isinstance(exc, ModerationRefusedError):
        return PlainError("moderation", "Refused by the image model's safety system", detail)
    if isinstance(exc, RetryableGeneratorError):
        if _is_rate_limit(exc):
            return PlainError(
                "rate_limit",
                "Rate limit reached at the image service",
                "The service asked us to slow down (HTTP 429) and kept refusing after several "
                f"retries. Wait a minute and try again. ({detail})",
                status=429,
            )
        return PlainError("service", "The image service did not answer", detail, status=502)
    for kind, title, status, types in _PLAIN:
        if isinstance(exc, types):
            return PlainError(kind, title, detail, status)
    if isinstance(exc, ImkerError):
        return PlainError("invalid", "The request cannot be carried out", detail)
    return PlainError(
        "internal", "Unexpected server error", f"{type(exc).__name__} (details are in the server's log)", status=500
    )
