"""Time the offline ``local`` generator on a 1024 tile cut from a photograph-like image.

No photograph ships with the repository and the benchmark must run offline, so
the image is synthetic but natural-ish: a sky gradient with 1/f-noise clouds, a
ridge of mountains, hills, textured grass, trees and rocks.  The band is the
right half of the image's left 1024 columns; the tile asks the generator to
continue it to the right.

Usage::

    python benchmarks/bench_local_generator.py [--repeat 3] [--seed 0] [--save out.png]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from imkerutils.exquisite.api.base import TileRequest
from imkerutils.exquisite.api.local import LocalGenerator
from imkerutils.exquisite.geometry.direction import Direction


def pink_noise(shape: tuple[int, int], rng: np.random.Generator, exponent: float = 2.0) -> np.ndarray:
    """Noise in [0, 1] whose power spectrum falls as 1/f**exponent (natural-image statistics)."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    radius = np.hypot(fy, fx)
    radius[0, 0] = 1.0
    spectrum = (rng.normal(size=radius.shape) + 1j * rng.normal(size=radius.shape)) / radius ** (exponent / 2)
    spectrum[0, 0] = 0.0
    field = np.fft.irfft2(spectrum, s=shape)
    return (field - field.min()) / (field.max() - field.min())


def landscape(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A synthetic photograph-like RGB landscape, uint8 ``(height, width, 3)``."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0.0, 1.0, height)[:, None, None]
    sky = (1 - rows) * np.array([70, 120, 200]) + rows * np.array([190, 215, 240])
    clouds = pink_noise((height, width), rng, 2.6)[..., None]
    img = sky + np.clip(clouds - 0.55, 0, 1)[..., :] * 300 * np.ones(3)

    def ridge(base: float, rough: float) -> np.ndarray:
        walk = np.cumsum(rng.normal(0, rough, width))
        walk -= np.linspace(walk[0], walk[-1], width)
        return base * height + walk

    layers = [
        (ridge(0.42, 3.0), np.array([95, 100, 125]), 2.2),
        (ridge(0.58, 2.0), np.array([70, 110, 60]), 2.0),
        (ridge(0.72, 1.2), np.array([95, 140, 55]), 1.6),
    ]
    for top, colour, exponent in layers:
        texture = pink_noise((height, width), rng, exponent)[..., None] - 0.5
        below = np.arange(height)[:, None] >= top[None, :]
        shade = colour * (0.75 + 0.5 * (np.arange(height)[:, None, None] / height)) + 90 * texture
        img = np.where(below[..., None], shade, img)
    grass = pink_noise((height, width), rng, 1.2)[..., None]
    ground = np.arange(height)[:, None] >= layers[-1][0][None, :]
    img = np.where(ground[..., None], img + 60 * (grass - 0.5), img)
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    for _ in range(width // 40):  # trees on the middle hills
        x = int(rng.integers(0, width))
        y = int(layers[1][0][min(x, width - 1)] + rng.integers(0, int(0.1 * height)))
        r = int(rng.integers(height // 60, height // 25))
        draw.rectangle([x - r // 6, y, x + r // 6, y + 2 * r], fill=(70, 50, 30))
        green = tuple(int(v) for v in rng.integers([20, 60, 20], [60, 110, 50]))
        draw.ellipse([x - r, y - 2 * r, x + r, y + r // 2], fill=green)
    for _ in range(width // 60):  # rocks in the foreground
        x = int(rng.integers(0, width))
        y = int(rng.integers(int(0.8 * height), height))
        r = int(rng.integers(height // 80, height // 30))
        grey = int(rng.integers(90, 160))
        draw.ellipse([x - 2 * r, y - r, x + 2 * r, y + r], fill=(grey, grey - 5, grey - 12))
    pil = pil.filter(ImageFilter.GaussianBlur(0.7))
    arr = np.asarray(pil).astype(np.float64)
    arr += rng.normal(0, 3.0, arr.shape)  # sensor noise
    return np.clip(arr, 0, 255).astype(np.uint8)


def right_tile(image: np.ndarray, size: int = 1024) -> TileRequest:
    """The request that extends ``image[:, :size//2 band]`` to the right, as the pipeline builds it."""
    half = size // 2
    reference = np.empty((size, size, image.shape[2]), np.uint8)
    reference[:, :half] = image[:size, size - half : size]
    reference[:, half:] = reference[:, half - 1 : half]  # edge-replicate hint
    generate = np.zeros((size, size), bool)
    generate[:, half:] = True
    return TileRequest(reference, generate, "a landscape", 0, Direction.RIGHT, size)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", help="write band + generated tile as PNG")
    args = parser.parse_args(argv)
    image = landscape(1024, 1024, args.seed)
    request = right_tile(image)
    generator = LocalGenerator()
    times, cpu = [], []
    for _ in range(args.repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = generator.generate(request)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    print(f"local generator {generator.params()}")
    print(
        f"seconds per 1024 tile: best {min(times):.2f}, mean {np.mean(times):.2f} over {len(times)} runs "
        f"(CPU seconds: best {min(cpu):.2f}; wall > CPU means other processes share the cores)"
    )
    if args.save:
        Image.fromarray(result.image).save(args.save)


if __name__ == "__main__":
    main()
