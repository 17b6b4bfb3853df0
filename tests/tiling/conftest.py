"""Fixtures shared by the tiling tests: small sample images (``tree_digest`` is in tests/conftest.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


@pytest.fixture
def noise() -> Callable[..., np.ndarray]:
    """``noise(h, w, c=3, seed=0)``: a reproducible uint8 noise image."""

    def make(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
        return np.random.default_rng(seed).integers(0, 256, size=(h, w, c), dtype=np.uint8)

    return make


@pytest.fixture
def png(tmp_path: Path, noise: Callable[..., np.ndarray]) -> Callable[..., tuple[Path, np.ndarray]]:
    """``png(name, h, w, c=3, seed=0)``: write a noise PNG, return its path and pixels."""

    def make(name: str, h: int, w: int, c: int = 3, seed: int = 0) -> tuple[Path, np.ndarray]:
        pixels = noise(h, w, c, seed)
        path = tmp_path / name
        Image.fromarray(pixels, "RGBA" if c == 4 else "RGB").save(path)
        return path, pixels

    return make
