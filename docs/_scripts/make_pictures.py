"""The tutorial's pictures: the README's flow, run for real, drawn small.

``python docs/_scripts/make_pictures.py`` runs ``imkerutils sample``, ``grow`` (right and down, one step, the
offline ``local`` generator, seed 0) and ``export`` in a temporary folder, exactly as the tutorial shows them, and
writes two small PNGs into ``docs/_static/tutorial/``: the sample before, and the canvas after with the original
image outlined in red. Both share one scale (1/4) and a 128-colour palette, so the growth shows at its true size
and the files stay small enough to commit. The
``local`` generator is deterministic per seed, so a rerun gives the same pictures. ``nox -s docs`` runs it when a
picture is missing (``--force`` remakes them).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from collections.abc import Iterator

OUT = Path(__file__).resolve().parents[1] / "_static" / "tutorial"
NAMES = ("before.png", "after.png")
SCALE = 1 / 4  # 1024 px -> 256 px, 1536 px -> 384 px
COLOURS = 128
GROW = ["grow", "landscape.jpg", "--direction", "right", "--direction", "down", "--steps", "1"]
PROMPT = ["--prompt", "more meadow under the mountains"]


@contextmanager
def _inside(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def _run(*argv: str) -> None:
    from imkerutils.cli.main import main

    code = main(list(argv))
    if code != 0:
        raise SystemExit(f"imkerutils {' '.join(argv)} exited {code}")


def _small(image: Image.Image) -> Image.Image:
    size = (round(image.width * SCALE), round(image.height * SCALE))
    return image.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def make(out: Path = OUT) -> list[Path]:
    """Run the tutorial's commands and write its pictures into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, _inside(Path(tmp)):
        _run("sample", "landscape.jpg")
        with Image.open("landscape.jpg") as im:
            before = _small(im)
            original = (im.width, im.height)
        _run(*GROW, *PROMPT, "-q")
        _run("export", "landscape.zarr", "outputs/landscape.png", "-q")
        with Image.open("outputs/landscape.png") as im:
            after = _small(im)
    box = (0, 0, round(original[0] * SCALE) - 1, round(original[1] * SCALE) - 1)
    ImageDraw.Draw(after).rectangle(box, outline=(255, 32, 32), width=2)
    paths = [out / name for name in NAMES]
    for image, path in zip((before, after), paths, strict=True):
        image.quantize(COLOURS, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="remake the pictures even if they exist")
    args = parser.parse_args(argv)
    if not args.force and all((OUT / name).is_file() for name in NAMES):
        return 0
    for path in make():
        print(f"wrote {path} ({path.stat().st_size:,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
