"""JSON records that carry their own SHA-256, so a flipped bit in one is found, not believed.

The journal's ``state.json`` and entries' ``meta.json`` and the pyramid's ``levels.json`` are written
:func:`seal`-ed: the canonical JSON (sorted keys, no spaces) of the record gets a ``"sha256"`` field of its
own hash.  :func:`unseal` checks it when present; ``verify`` demands it (a record a flip stripped of its
field is damaged too).

>>> unseal(seal({"head": 3}), "state")
{'head': 3}
>>> bad = seal({"head": 3}).replace(b"3", b"4")
>>> unseal(bad, "state")
Traceback (most recent call last):
...
imkerutils.errors.CanvasCorruptError: state is damaged: its content does not match its sha256
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from imkerutils.errors import CanvasCorruptError

__all__ = ["SEAL", "is_sealed", "seal", "unseal"]

SEAL = "sha256"


def _digest(doc: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def seal(doc: dict[str, Any]) -> bytes:
    """``doc`` as JSON bytes with its own hash."""
    body = {k: v for k, v in doc.items() if k != SEAL}
    return json.dumps({**body, SEAL: _digest(body)}, sort_keys=True).encode()


def unseal(data: bytes, what: str) -> Any:
    """Return the record in ``data`` (checked against its hash when it has one); ``CanvasCorruptError`` if damaged."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise CanvasCorruptError(f"{what} is damaged: not JSON ({exc})") from None
    if isinstance(doc, dict) and SEAL in doc:
        body = {k: v for k, v in doc.items() if k != SEAL}
        if doc[SEAL] != _digest(body):
            raise CanvasCorruptError(f"{what} is damaged: its content does not match its sha256")
        return body
    return doc


def is_sealed(data: bytes) -> bool:
    """Whether ``data`` is a record with a valid hash (for ``verify``)."""
    try:
        doc = json.loads(data)
        return (
            isinstance(doc, dict) and SEAL in doc and doc[SEAL] == _digest({k: v for k, v in doc.items() if k != SEAL})
        )
    except ValueError:
        return False
