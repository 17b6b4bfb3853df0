"""Export errors (defined in :mod:`imkerutils.errors`, re-exported here)."""

from __future__ import annotations

from imkerutils.errors import ExportExistsError, ExportFormatError, ExportSizeError, ExportWriteError

__all__ = ["ExportExistsError", "ExportFormatError", "ExportSizeError", "ExportWriteError"]
