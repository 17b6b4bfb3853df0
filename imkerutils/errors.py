"""The imkerutils exception tree: every error imkerutils raises is defined here.

Every public error derives from :class:`ImkerError` and also from the builtin
that best describes it (in brackets below; a subclass also inherits its
parent's), so ``except ValueError`` keeps working for callers who do not know
about imkerutils. Import errors from this module only; other modules raise them
but do not re-export them. A test (``tests/test_errors.py``) keeps this tree,
``__all__`` and the package in step::

    ImkerError  (Exception)
    ├── ArtifactPathError  (ValueError)
    ├── BadRequestError  (ValueError)
    ├── BudgetExceededError  (RuntimeError)
    ├── BusyError  (RuntimeError)
    ├── CanvasChangedError  (RuntimeError)
    │   └── ProposalStaleError
    ├── CanvasCorruptError  (ValueError)
    ├── CanvasExistsError  (FileExistsError)
    ├── CanvasLockedError  (BlockingIOError)
    ├── CanvasNotFoundError  (FileNotFoundError)
    ├── CanvasReadOnlyError  (PermissionError)
    ├── ClusterError  (RuntimeError)
    ├── ExportBusyError  (RuntimeError)
    ├── ExportExistsError  (FileExistsError)
    ├── ExportFormatError  (ValueError)
    │   └── ExportSizeError
    ├── ExportWriteError  (OSError)
    ├── GeneratorError  (RuntimeError)
    │   ├── PermanentGeneratorError
    │   │   ├── AuthenticationGeneratorError
    │   │   ├── GeneratorOutputError
    │   │   └── ModerationRefusedError
    │   └── RetryableGeneratorError
    ├── GeometryError  (ValueError)
    │   ├── NoContentNearError
    │   └── UnknownSeamStrategyError
    ├── ImageFileError  (OSError)
    │   └── DecompressionBombError
    ├── InvalidBudgetError  (ValueError)
    ├── InvalidDirectionError  (ValueError)
    ├── InvalidGeneratorParamsError  (ValueError)
    ├── InvalidGrowSettingsError  (ValueError)
    ├── InvalidRecordError  (ValueError)
    │   └── UnknownRecordFormatError
    ├── InvalidStepIdError  (ValueError)
    ├── InvalidTemplateError  (ValueError)
    ├── InvalidTileError  (ValueError)
    ├── InvalidWindowError  (ValueError)
    ├── NothingToRedoError  (LookupError)
    ├── NothingToUndoError  (LookupError)
    ├── OutOfBoundsError  (IndexError)
    │   └── TileOutOfBoundsError  (ValueError)
    ├── OutputPathError  (ValueError)
    ├── PriceTableError  (ValueError)
    ├── ProposalNotFoundError  (LookupError)
    ├── QueueFullError  (RuntimeError)
    ├── ServerStartError  (OSError)
    ├── StepCancelledError  (RuntimeError)
    ├── StepRejectedError  (RuntimeError)
    ├── StoreConfigError  (ValueError)
    ├── TileNotFoundError  (LookupError)
    ├── UIHostError  (ValueError)
    ├── UnknownGeneratorError  (KeyError)
    └── UnknownTemplateError  (LookupError)
"""

from __future__ import annotations

__all__ = [
    "ArtifactPathError",
    "AuthenticationGeneratorError",
    "BadRequestError",
    "BudgetExceededError",
    "BusyError",
    "CanvasChangedError",
    "CanvasCorruptError",
    "CanvasExistsError",
    "CanvasLockedError",
    "CanvasNotFoundError",
    "CanvasReadOnlyError",
    "ClusterError",
    "DecompressionBombError",
    "ExportBusyError",
    "ExportExistsError",
    "ExportFormatError",
    "ExportSizeError",
    "ExportWriteError",
    "GeneratorError",
    "GeneratorOutputError",
    "GeometryError",
    "ImageFileError",
    "ImkerError",
    "InvalidBudgetError",
    "InvalidDirectionError",
    "InvalidGeneratorParamsError",
    "InvalidGrowSettingsError",
    "InvalidRecordError",
    "InvalidStepIdError",
    "InvalidTemplateError",
    "InvalidTileError",
    "InvalidWindowError",
    "ModerationRefusedError",
    "NoContentNearError",
    "NothingToRedoError",
    "NothingToUndoError",
    "OutOfBoundsError",
    "OutputPathError",
    "PermanentGeneratorError",
    "PriceTableError",
    "ProposalNotFoundError",
    "ProposalStaleError",
    "QueueFullError",
    "RetryableGeneratorError",
    "ServerStartError",
    "StepCancelledError",
    "StepRejectedError",
    "StoreConfigError",
    "TileNotFoundError",
    "TileOutOfBoundsError",
    "UIHostError",
    "UnknownGeneratorError",
    "UnknownRecordFormatError",
    "UnknownSeamStrategyError",
    "UnknownTemplateError",
]


class ImkerError(Exception):
    """Root of every error raised by imkerutils."""


class InvalidWindowError(ImkerError, ValueError):
    """A window has a negative size or non-integer coordinates."""


class InvalidDirectionError(ImkerError, ValueError):
    """A growth direction is not one of right, left, up, down."""


class OutOfBoundsError(ImkerError, IndexError):
    """A region lies (partly) outside the image or canvas it must fit in."""


class TileOutOfBoundsError(OutOfBoundsError, ValueError):
    """A tile box does not fit inside its image or canvas (also a ``ValueError``, as the seed raised)."""


class InvalidTileError(ImkerError, ValueError):
    """Pixel data has the wrong shape, dtype or number of channels."""


class ImageFileError(ImkerError, OSError):
    """An image file is missing, truncated, or not an image we can read."""


class DecompressionBombError(ImageFileError):
    """An image is larger than the safety limit and was not marked as trusted."""


class CanvasNotFoundError(ImkerError, FileNotFoundError):
    """No canvas exists at the given location."""


class CanvasExistsError(ImkerError, FileExistsError):
    """A canvas already exists where a new one was to be created."""


class CanvasCorruptError(ImkerError, ValueError):
    """A canvas's metadata or journal cannot be parsed or is inconsistent."""


class CanvasReadOnlyError(ImkerError, PermissionError):
    """A write was attempted on a canvas opened read-only."""


class CanvasChangedError(ImkerError, RuntimeError):
    """The canvas was changed by another writer after the data for a step was read; nothing was written."""


class CanvasLockedError(ImkerError, BlockingIOError):
    """Another process holds the canvas's write lock."""


class NothingToUndoError(ImkerError, LookupError):
    """``undo`` was called on a canvas with no committed step."""


class NothingToRedoError(ImkerError, LookupError):
    """``redo`` was called with no undone step to re-apply."""


class GeneratorError(ImkerError, RuntimeError):
    """A tile generator failed."""


class RetryableGeneratorError(GeneratorError):
    """A transient generator failure (rate limit, server error, timeout)."""


class PermanentGeneratorError(GeneratorError):
    """A generator failure that retrying cannot fix (refusal, bad key, bad request)."""


class GeneratorOutputError(PermanentGeneratorError):
    """A generator returned an image of the wrong size, mode or format."""


class UnknownGeneratorError(ImkerError, KeyError):
    """No generator is registered under the requested name."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it plain
        return str(self.args[0]) if self.args else ""


class BudgetExceededError(ImkerError, RuntimeError):
    """A step or batch could cost more than the remaining budget."""


class GeometryError(ImkerError, ValueError):
    """Geometry parameters (tile, band, overlap, fill, ...) are invalid or inconsistent."""


class UnknownSeamStrategyError(GeometryError):
    """No seam strategy is registered under the requested name."""


class UnknownTemplateError(ImkerError, LookupError):
    """No prompt template is registered under the requested name or version."""


class InvalidTemplateError(ImkerError, ValueError):
    """A prompt template has a bad name, version or placeholder."""


class ArtifactPathError(ImkerError, ValueError):
    """An artifact path is refused: root inside the package, bad name or role, or outside the root."""


class InvalidBudgetError(ImkerError, ValueError):
    """A budget limit, amount spent or cost is negative, infinite or not a number."""


class InvalidRecordError(ImkerError, ValueError):
    """A step record has a missing, malformed or out-of-range field."""


class InvalidStepIdError(ImkerError, ValueError):
    """A step id given to a write is not a usable journal name, or a step already has it."""


class UnknownRecordFormatError(InvalidRecordError):
    """Saved data names a record format this version of imkerutils cannot read."""


class ModerationRefusedError(PermanentGeneratorError):
    """The provider's safety system refused the prompt or the image."""


class AuthenticationGeneratorError(PermanentGeneratorError):
    """The API key is missing or was rejected."""


class PriceTableError(ImkerError, ValueError):
    """A price table file is missing fields or holds invalid prices."""


class StepRejectedError(ImkerError, RuntimeError):
    """Quality control rejected a step; the canvas was not changed."""


class StoreConfigError(ImkerError, ValueError):
    """The object-store backend asked for (``IMKERUTILS_OBJECT_STORE``) or its options cannot be used."""


class InvalidGeneratorParamsError(ImkerError, ValueError):
    """A generator was configured with parameters it cannot work with."""


class InvalidGrowSettingsError(ImkerError, ValueError):
    """A growth setting is out of range (raised before anything is generated)."""


class ClusterError(ImkerError, RuntimeError):
    """The dask cluster failed a batch (e.g. it lost too many workers); nothing was written."""


class ExportFormatError(ImkerError, ValueError):
    """The output format is unknown, or cannot do what was asked (a compression, an alpha channel)."""


class ExportSizeError(ExportFormatError):
    """The region is larger than the output format allows."""


class ExportExistsError(ImkerError, FileExistsError):
    """The output already exists and overwriting was not asked for."""


class ExportWriteError(ImkerError, OSError):
    """The output could not be written (disk full, no permission, ...); nothing was left under its name."""


class OutputPathError(ImkerError, ValueError):
    """An output path is refused (e.g. it is, or lies inside, the canvas being read); nothing was written."""


class NoContentNearError(GeometryError):
    """A region to fill has no content next to it to condition the new pixels on."""


class StepCancelledError(ImkerError, RuntimeError):
    """A step was cancelled before its commit; the canvas was not changed."""


class ProposalNotFoundError(ImkerError, LookupError):
    """No staged proposal (or candidate) with that id on this canvas."""


class ProposalStaleError(CanvasChangedError):
    """The canvas changed, since a proposal was staged, in pixels the proposal depends on."""


class UIHostError(ImkerError, ValueError):
    """The UI was asked to listen beyond this machine without ``--allow-remote``."""


class BadRequestError(ImkerError, ValueError):
    """A request body is not valid JSON, or a field is missing, unknown, of the wrong type or out of range."""


class BusyError(ImkerError, RuntimeError):
    """The canvas is busy with a growth job; undo and redo wait until it has finished."""


class QueueFullError(ImkerError, RuntimeError):
    """Too many growth jobs are waiting for this canvas."""


class ExportBusyError(ImkerError, RuntimeError):
    """Too many UI exports are waiting, or the file asked for is not ready."""


class TileNotFoundError(ImkerError, LookupError):
    """A tile address lies outside the viewer's frame or pyramid."""


class ServerStartError(ImkerError, OSError):
    """The UI server cannot listen on the requested address or did not start."""
