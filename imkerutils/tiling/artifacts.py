"""Files of a canvas's own beside its arrays (step artifacts, exports, staged results), each with its hash.

An artifact lives under one of :data:`ARTIFACT_PREFIXES`; its SHA-256 is written beside it
(:func:`artifact_hash_key`), so deleting a folder deletes both, and :mod:`.verify` checks one against the
other.  :meth:`Canvas.put_artifact <imkerutils.tiling.canvas.Canvas.put_artifact>` and its siblings call
these after checking that the canvas is writable.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from imkerutils.errors import InvalidWindowError
from imkerutils.tiling.layout import mark_bookkeeping

if TYPE_CHECKING:
    from imkerutils.tiling.rawstore import RawStore

__all__ = [
    "ARTIFACT_HASH_SUFFIX",
    "ARTIFACT_PREFIXES",
    "artifact_hash_key",
    "delete_artifacts",
    "list_artifacts",
    "lone_hashes",
    "put_artifact",
    "remove_lone_hashes",
]

ARTIFACT_PREFIXES = ("_generated/", "outputs/", "_staged/")
ARTIFACT_HASH_SUFFIX = ".sha256"


def artifact_hash_key(key: str) -> str:
    """Where the SHA-256 of artifact ``key`` is kept: beside it, so deleting a folder deletes both.

    >>> artifact_hash_key("_generated/steps/000001/final.png")
    '_generated/steps/000001/final.png.sha256'
    """
    return key + ARTIFACT_HASH_SUFFIX


def put_artifact(raw: RawStore, key: str, data: bytes) -> None:
    """Store ``data`` at artifact ``key`` (atomically), and its SHA-256 beside it."""
    if not key.startswith(ARTIFACT_PREFIXES) or ".." in key.split("/"):
        raise InvalidWindowError(f"artifact keys live under {', '.join(ARTIFACT_PREFIXES)}, got {key!r}")
    mark_bookkeeping(raw, key.split("/", 1)[0])
    # The hash goes first: a writer killed between the two writes leaves a hash without its artifact (a
    # leftover, see lone_hashes), never an artifact without a hash, which verify cannot tell from a hand-made one.
    raw.put(artifact_hash_key(key), hashlib.sha256(data).hexdigest().encode())
    raw.put(key, data)


def list_artifacts(raw: RawStore, prefix: str) -> list[str]:
    """Return the keys of the artifacts under the folder ``prefix``, sorted (not their hashes)."""
    return [k for k in raw.list_prefix(prefix) if not k.endswith(("/zarr.json", ARTIFACT_HASH_SUFFIX))]


def delete_artifacts(raw: RawStore, prefix: str) -> None:
    """Delete every artifact under the folder ``prefix`` (e.g. ``_staged/<id>/``) and its hash entries."""
    if not prefix.startswith(ARTIFACT_PREFIXES) or not prefix.endswith("/") or ".." in prefix.split("/"):
        raise InvalidWindowError(f"artifact folders live under {', '.join(ARTIFACT_PREFIXES)}, got {prefix!r}")
    raw.delete_prefix(prefix)  # the hashes beside the artifacts go with them


def lone_hashes(keys: set[str]) -> list[str]:
    """Return the artifact hash entries in ``keys`` whose artifact is not there (a killed :func:`put_artifact`'s).

    >>> lone_hashes({"outputs/a.png", "outputs/a.png.sha256", "outputs/b.png.sha256"})
    ['outputs/b.png.sha256']
    """
    return sorted(
        k
        for k in keys
        if k.startswith(ARTIFACT_PREFIXES)
        and k.endswith(ARTIFACT_HASH_SUFFIX)
        and k[: -len(ARTIFACT_HASH_SUFFIX)] not in keys
    )


def remove_lone_hashes(raw: RawStore) -> int:
    """Delete the hash entries whose artifact a killed writer never wrote; returns how many (on recovery only)."""
    keys = {k for prefix in ARTIFACT_PREFIXES for k in raw.list_prefix(prefix)}
    lone = lone_hashes(keys)
    for key in lone:
        raw.delete(key)
    return len(lone)
