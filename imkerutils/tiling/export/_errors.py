"""The errors an export raises beyond the shared tree in :mod:`imkerutils.errors`."""

from __future__ import annotations

from imkerutils.errors import ImkerError

__all__ = ["ExportExistsError", "ExportFormatError", "ExportSizeError", "ExportWriteError"]


class ExportFormatError(ImkerError, ValueError):
    """The output format is unknown, or cannot do what was asked (a compression, an alpha channel)."""


class ExportSizeError(ExportFormatError):
    """The region is larger than the output format allows."""


class ExportExistsError(ImkerError, FileExistsError):
    """The output already exists and overwriting was not asked for."""


class ExportWriteError(ImkerError, OSError):
    """The output could not be written (disk full, no permission, ...); nothing was left under its name."""
