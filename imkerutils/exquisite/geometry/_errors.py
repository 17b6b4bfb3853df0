"""Errors raised by the geometry layer (defined in :mod:`imkerutils.errors`, re-exported here)."""

from __future__ import annotations

from imkerutils.errors import GeometryError, UnknownSeamStrategyError

__all__ = ["GeometryError", "UnknownSeamStrategyError"]
