"""Export a region of a canvas to an image file, streaming, whatever its size.

The format follows the output's extension:

========================  =====================================================================
``.png``                  streaming multi-threaded PNG (:mod:`.png`), any size PNG allows
``.tif`` / ``.tiff``      tiled BigTIFF through tifffile, optional pyramid (:mod:`.tiff`)
``.ome.zarr``             OME-Zarr 0.5, multiscales, world origin as translation (:mod:`.omezarr`)
``.jpg`` / ``.webp``      small regions only, written from memory (:mod:`.small`)
========================  =====================================================================

Every export reads the canvas a band of tiles at a time (never the whole
region, except for JPEG / WebP), and writes under a temporary name that is
renamed into place only when the output is complete (:mod:`._atomic`).  An
output at an fsspec URL (``s3://bucket/out.tif``) is written to a local
temporary file or folder and uploaded when complete (:mod:`._remote`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imkerutils.errors import ExportFormatError
from imkerutils.tiling.export._atomic import atomic_output
from imkerutils.tiling.export._plan import Format, plan_levels, plan_region
from imkerutils.tiling.export._remote import remote_output, storage_options_for
from imkerutils.tiling.export._source import CanvasSource, Progress, ProgressArg

if TYPE_CHECKING:
    from imkerutils.tiling.window import Window

__all__ = [
    "CanvasSource",
    "export_region",
    "format_for",
    "formats",
]


def formats() -> list[Format]:
    """Every output format, in the order of the table above."""
    from imkerutils.tiling.export import omezarr, png, small, tiff

    return [png.FORMAT, tiff.FORMAT, omezarr.FORMAT, small.JPEG, small.WEBP]


def format_for(path: str | os.PathLike[str]) -> Format:
    """Return the format an output path's extension asks for.

    >>> format_for("world.ome.zarr").name, format_for("a.TIF").name
    ('OME-Zarr', 'TIFF')
    """
    name = Path(path).name.lower()
    for fmt in formats():
        if any(name.endswith(s) for s in fmt.suffixes):
            return fmt
    known = ", ".join(s for fmt in formats() for s in fmt.suffixes)
    hint = " (an OME-Zarr output must end in .ome.zarr)" if name.endswith(".zarr") else ""
    raise ExportFormatError(
        f"cannot tell the export format of {Path(path).name!r} from its extension{hint}; use one of: {known}"
    )


def export_region(
    canvas: CanvasSource,
    out: str | os.PathLike[str],
    *,
    region: Window | None = None,
    level: int = 0,
    compression: str | None = None,
    pyramid: bool = False,
    progress: ProgressArg = None,
    overwrite: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> Path | str:
    """Write ``region`` of ``canvas`` to ``out``; the format follows the extension.

    Parameters
    ----------
    canvas
        A :class:`~imkerutils.tiling.Canvas`, or any :class:`CanvasSource`
        (e.g. :class:`imkerutils.testing.source.ArraySource`).
    out
        Output path or fsspec URL (``s3://bucket/out.tif``): ``.png``,
        ``.tif``/``.tiff``, ``.ome.zarr``, ``.jpg``/``.jpeg`` or ``.webp``.
    region
        World window to export (default: the canvas bounds).  Parts outside
        the bounds come out as background; a region entirely outside them is
        an :class:`~imkerutils.errors.OutOfBoundsError`.
    level
        Pyramid level to export (0 = full resolution; level ``L`` halves the
        size ``L`` times).
    compression
        ``NAME`` or ``NAME:LEVEL``.  PNG: ``deflate`` (default, level 6),
        ``rle`` (fast), ``none``.  TIFF: ``deflate`` (default), ``zstd``,
        ``jpeg`` (quality; RGB only), ``none``.  OME-Zarr: ``zstd``
        (default), ``deflate``, ``none``.  JPEG: ``jpeg:QUALITY``.  WebP:
        ``lossless`` (default), ``lossy:QUALITY``.
    pyramid
        Also write every coarser level down to one tile (TIFF and OME-Zarr).
    progress
        ``None``: a progress bar when standard error is a terminal; ``True`` /
        ``False``: always / never; or a callable ``f(pixels_done, pixels_total)``.
    overwrite
        Replace an existing output (else :class:`~imkerutils.errors.ExportExistsError`).
    storage_options
        fsspec options for an output URL (default: the canvas's own when it
        lives on the same kind of store, else fsspec's environment).

    Returns
    -------
    Path or str
        ``out``, complete (a URL stays a ``str``).  An export that fails or is
        interrupted leaves nothing under that name.
    """
    from imkerutils.tiling.location import is_remote

    remote = is_remote(out)
    out = os.fspath(out) if remote else Path(out)
    fmt = format_for(out)
    if pyramid and not fmt.pyramid:
        raise ExportFormatError(f"{fmt.name} holds one image, not a pyramid; export with pyramid to .tif or .ome.zarr")
    world = plan_region(canvas, region, level)
    levels = plan_levels(world, level, pyramid=pyramid, tile=canvas.tile, world_grid=fmt.world_grid)
    comp = fmt.prepare(canvas.mode, levels, compression)
    if levels[-1].level > 0 and not canvas.read_only:
        canvas.update_pyramid()
    total = sum(lr.window.size for lr in levels)
    target = (
        remote_output(
            str(out),
            overwrite=overwrite,
            directory=fmt.directory,
            storage_options=storage_options_for(str(out), canvas, storage_options),
        )
        if remote
        else atomic_output(out, overwrite=overwrite, directory=fmt.directory)
    )
    with target as tmp, Progress(progress, total, f"exporting {Path(out).name}") as bar:
        fmt.write(canvas, tmp, levels, comp, bar)
    return out
