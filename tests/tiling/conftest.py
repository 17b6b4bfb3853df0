"""Fixtures shared by the tiling tests: file-tree digests and small sample images."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def digest_tree(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root`` (directories themselves ignored)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")  # a pure function: session scope lets Hypothesis tests use it too
def tree_digest() -> Callable[[Path], dict[str, str]]:
    return digest_tree


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
