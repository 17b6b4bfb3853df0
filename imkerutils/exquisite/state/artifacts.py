"""Where a step's artifacts live under a user-chosen root: path arithmetic plus two small writers.

::

    <root>/
      _generated/steps/<step_id>/tile-<i>-reference.png   (and -mask, -raw, -final)
      outputs/                                            final exports

Constructing an :class:`ArtifactLayout` writes nothing; only :func:`ensure_dir`
and :func:`write_png` touch the disk.  A root inside the installed
``imkerutils`` package is refused: artifacts never land in site-packages.

>>> tile_artifact_name(3, "raw")
'tile-3-raw.png'
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

import imkerutils
from imkerutils.errors import (
    ArtifactPathError,  # noqa: F401  (re-exported)
    InvalidTileError,
)
from imkerutils.exquisite.state.record import check_step_id

__all__ = [
    "TILE_ROLES",
    "ArtifactLayout",
    "ArtifactPathError",
    "ensure_dir",
    "tile_artifact_name",
    "write_png",
]

#: Per-tile artifacts, in the order a step produces them.
TILE_ROLES: tuple[str, ...] = ("reference", "mask", "raw", "final")


def _package_dir() -> Path:
    return Path(imkerutils.__file__).resolve().parent


def tile_artifact_name(index: int, role: str) -> str:
    """File name of tile ``index``'s artifact ``role`` (one of :data:`TILE_ROLES`)."""
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ArtifactPathError(f"tile index must be a non-negative integer, got {index!r}")
    if role not in TILE_ROLES:
        raise ArtifactPathError(f"artifact role must be one of {', '.join(TILE_ROLES)}; got {role!r}")
    return f"tile-{index}-{role}.png"


@dataclass(frozen=True, slots=True)
class ArtifactLayout:
    """Artifact paths under ``root`` (stored absolute and resolved)."""

    root: Path

    def __post_init__(self) -> None:
        root = Path(os.fspath(self.root)).expanduser().resolve()
        package = _package_dir()
        if root == package or root.is_relative_to(package):
            raise ArtifactPathError(
                f"artifact root {root} is inside the installed imkerutils package ({package}); "
                "choose a folder of your own, e.g. a project or data directory"
            )
        object.__setattr__(self, "root", root)

    @property
    def generated_dir(self) -> Path:
        """Intermediate artifacts: ``<root>/_generated``."""
        return self.root / "_generated"

    @property
    def outputs_dir(self) -> Path:
        """Final exports: ``<root>/outputs``."""
        return self.root / "outputs"

    @property
    def steps_dir(self) -> Path:
        """``<root>/_generated/steps``."""
        return self.generated_dir / "steps"

    def step_dir(self, step_id: str) -> Path:
        """``<root>/_generated/steps/<step_id>`` (``step_id`` must be a safe name)."""
        return self.steps_dir / check_step_id(step_id)

    def tile_artifact(self, step_id: str, index: int, role: str) -> Path:
        """``<step_dir>/tile-<index>-<role>.png``."""
        return self.step_dir(step_id) / tile_artifact_name(index, role)

    def relative(self, path: str | os.PathLike[str]) -> str:
        """``path`` relative to the root, POSIX-style, as stored in step records."""
        p = Path(os.fspath(path))
        p = p if p.is_absolute() else self.root / p
        try:
            rel = p.resolve().relative_to(self.root)
        except ValueError:
            raise ArtifactPathError(f"{path} is not inside the artifact root {self.root}") from None
        return rel.as_posix()

    def resolve(self, relative_path: str) -> Path:
        """The absolute path of a root-relative path from a step record (must stay inside the root)."""
        p = (self.root / relative_path).resolve()
        if not p.is_relative_to(self.root):
            raise ArtifactPathError(f"{relative_path!r} points outside the artifact root {self.root}")
        return p


def ensure_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` and its parents if missing; return it as a :class:`~pathlib.Path`."""
    p = Path(os.fspath(path))
    p.mkdir(parents=True, exist_ok=True)
    return p


def write_png(path: str | os.PathLike[str], array: np.ndarray) -> Path:
    """Write ``array`` as a PNG atomically: a temporary file in the same folder, then ``os.replace``.

    ``array`` is uint8 ``(H, W)`` (grey), ``(H, W, 3)`` (RGB) or ``(H, W, 4)``
    (RGBA), or a bool ``(H, W)`` mask (saved as grey 0/255).  A reader sees
    either the old file or the complete new one, never a partial PNG.  The
    parent folder must exist (see :func:`ensure_dir`).
    """
    a = np.asarray(array)
    if a.dtype == np.bool_ and a.ndim == 2:
        a = a.astype(np.uint8) * np.uint8(255)
    ok_shape = a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))
    if a.dtype != np.uint8 or not ok_shape or a.size == 0:
        raise InvalidTileError(
            f"write_png needs uint8 (H, W), (H, W, 3) or (H, W, 4), or a bool (H, W) mask; got {a.dtype} {a.shape}"
        )
    target = Path(os.fspath(path))
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    image = Image.fromarray(np.ascontiguousarray(a))
    try:
        with open(tmp, "xb") as f:
            image.save(f, format="PNG", compress_level=1)  # artifacts: speed over size
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return target


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
