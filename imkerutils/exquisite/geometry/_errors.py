"""Errors raised by the geometry layer (to be moved into :mod:`imkerutils.errors`)."""

from __future__ import annotations

from imkerutils.errors import ImkerError

__all__ = ["GeometryError", "UnknownSeamStrategyError"]


class GeometryError(ImkerError, ValueError):
    """Geometry parameters (tile, band, overlap, fill, ...) are invalid or inconsistent."""


class UnknownSeamStrategyError(GeometryError):
    """No seam strategy is registered under the requested name."""
