"""OME-NGFF 0.5 metadata of an RGB(A) multiscale image: the group's ``ome`` attribute (pure, no I/O).

Used by the canvas itself (every canvas folder is an OME-Zarr image) and by the OME-Zarr export.  Axes are
``c`` (channel), ``y``, ``x`` (space); each dataset has exactly one ``scale`` then one ``translation``.
An ``omero`` block names the channels and colours them red, green, blue (and a hidden alpha), so viewers
show the image in colour.

>>> md = ome_attributes([("0", [{"type": "scale", "scale": [1.0, 1.0, 1.0]}])], "RGB", "x")
>>> md["version"], [a["name"] for a in md["multiscales"][0]["axes"]], len(md["omero"]["channels"])
('0.5', ['c', 'y', 'x'], 3)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["OME_VERSION", "ome_attributes", "pixel_centre_transforms"]

OME_VERSION = "0.5"
_COLOURS = {"R": "FF0000", "G": "00FF00", "B": "0000FF", "A": "FFFFFF"}


def pixel_centre_transforms(level: int, first_pixel_world: tuple[int, int]) -> list[dict[str, Any]]:
    """``scale`` and ``translation`` of a level whose first pixel's top-left corner is at world ``(y, x)``.

    Level ``L`` has scale ``2**L``; its translation is the world position of its first pixel's *centre*
    (level-0 pixel centres at integer world coordinates, as napari places them), so every level lines up
    and world ``(0, 0)`` is coordinate 0.

    >>> pixel_centre_transforms(1, (-4, 6))[1]["translation"]
    [0.0, -3.5, 6.5]
    """
    s = float(1 << level)
    half = (s - 1) / 2
    return [
        {"type": "scale", "scale": [1.0, s, s]},
        {"type": "translation", "translation": [0.0, first_pixel_world[0] + half, first_pixel_world[1] + half]},
    ]


def ome_attributes(datasets: Sequence[tuple[str, list[dict[str, Any]]]], mode: str, name: str) -> dict[str, Any]:
    """Return the ``ome`` attribute for ``datasets`` (path, coordinate transformations), finest first."""
    return {
        "version": OME_VERSION,
        "multiscales": [
            {
                "name": name,
                "axes": [
                    {"name": "c", "type": "channel"},
                    {"name": "y", "type": "space"},
                    {"name": "x", "type": "space"},
                ],
                "datasets": [{"path": path, "coordinateTransformations": transforms} for path, transforms in datasets],
                "type": "mean",
                "metadata": {"description": "each level averages 2x2 pixels of the one before it"},
            }
        ],
        "omero": {
            "channels": [
                {
                    "label": band,
                    "color": _COLOURS[band],
                    "active": band != "A",
                    "coefficient": 1,
                    "family": "linear",
                    "inverted": False,
                    "window": {"min": 0, "max": 255, "start": 0, "end": 255},
                }
                for band in mode
            ],
            "rdefs": {"model": "color"},
        },
    }
