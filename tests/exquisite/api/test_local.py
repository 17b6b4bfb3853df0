"""LocalGenerator: image quilting that continues the kept pixels (real content, not a blur)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from imkerutils.errors import InvalidGeneratorParamsError, InvalidTileError, PermanentGeneratorError
from imkerutils.exquisite.api._quilting import _cut_old, _fade_drift, integrate
from imkerutils.exquisite.api.base import TileRequest
from imkerutils.exquisite.api.local import LocalGenerator
from imkerutils.exquisite.api.registry import generator_class
from imkerutils.exquisite.geometry.direction import Direction, from_right, to_right
from imkerutils.exquisite.geometry.quality import banding_score, repetition_score
from imkerutils.testing.generators import GeneratorConformance

SIZE = 256
HALF = SIZE // 2


class TestLocalConformance(GeneratorConformance):
    size = SIZE  # the full-size run is test_full_size_tile below

    def make_generator(self) -> LocalGenerator:
        return LocalGenerator()


# ---------------------------------------------------------------- helpers


def pink(height: int, width: int, seed: int, exponent: float = 2.5, channels: int = 3) -> np.ndarray:
    """Smooth natural-looking noise (power spectrum ~ 1/f**exponent), uint8 (height, width, channels)."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.hypot(fy, fx)
    radius[0, 0] = 1.0
    planes = []
    for _ in range(channels):
        spectrum = (rng.normal(size=radius.shape) + 1j * rng.normal(size=radius.shape)) / radius ** (exponent / 2)
        spectrum[0, 0] = 0
        plane = np.fft.irfft2(spectrum, s=(height, width))
        planes.append((plane - plane.min()) / (plane.max() - plane.min()) * 230 + 12)
    return np.stack(planes, axis=-1).astype(np.uint8)


def right_request(
    band: np.ndarray, seed: int = 0, prompt: str = "continue", direction: Direction = Direction.RIGHT
) -> TileRequest:
    """The request extending ``band`` (size, size/2, C) to the right, mapped onto ``direction``."""
    size = band.shape[0]
    half = size // 2
    ref = np.empty((size, size, band.shape[2]), np.uint8)
    ref[:, :half] = band
    ref[:, half:] = band[:, -1:]  # edge-replicate hint
    gen = np.zeros((size, size), bool)
    gen[:, half:] = True
    return TileRequest(
        np.ascontiguousarray(from_right(ref, direction)),
        np.ascontiguousarray(from_right(gen, direction)),
        prompt,
        seed,
        direction,
        size,
    )


def colours(pixels: np.ndarray) -> set[tuple[int, ...]]:
    return set(map(tuple, pixels.reshape(-1, pixels.shape[-1]).tolist()))


def detail(img: np.ndarray) -> float:
    """Mean absolute difference between neighbouring pixels (high-frequency energy)."""
    a = img.astype(float)
    return float(np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean())


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Half the L1 distance between per-channel 32-bin histograms (0 equal, 1 disjoint)."""
    dist = 0.0
    for c in range(a.shape[-1]):
        ha = np.histogram(a[..., c], bins=32, range=(0, 256))[0] / a[..., c].size
        hb = np.histogram(b[..., c], bins=32, range=(0, 256))[0] / b[..., c].size
        dist = max(dist, 0.5 * float(np.abs(ha - hb).sum()))
    return dist


# ---------------------------------------------------------------- the contract


def test_class_attributes_and_registry() -> None:
    assert LocalGenerator.name == "local"
    assert LocalGenerator.deterministic is True
    assert LocalGenerator.needs_network is False
    assert LocalGenerator.max_concurrency == 2
    assert generator_class("local") is LocalGenerator
    params = LocalGenerator(patch_size=32, overlap=8).params()
    assert params["patch_size"] == 32
    assert params["overlap"] == 8


@pytest.mark.parametrize("gradient_domain", [True, False])
def test_result_fields_and_kept_pixels(gradient_domain: bool) -> None:
    request = right_request(pink(SIZE, HALF, 1))
    result = LocalGenerator(gradient_domain=gradient_domain).generate(request)
    assert result.usage is None
    assert result.cost_usd == 0.0
    assert result.image.shape == (SIZE, SIZE, 3)
    assert result.image.dtype == np.uint8
    np.testing.assert_array_equal(result.image[:, :HALF], request.reference[:, :HALF])
    assert result.metadata["patch_size"] == 32
    assert result.metadata["patches"] > 0
    # the new half is not the edge-replicated hint
    assert (result.image[:, HALF:] != request.reference[:, HALF:]).any(axis=-1).mean() > 0.8
    if not gradient_domain:  # plain quilting copies real pixels: every new colour occurs in the band
        assert colours(result.image[:, HALF:]) <= colours(request.reference[:, :HALF])


def test_same_seed_same_bytes_other_seed_or_prompt_other_bytes() -> None:
    band = pink(SIZE, HALF, 2)
    gen = LocalGenerator()
    first = gen.generate(right_request(band, seed=7)).image
    assert gen.generate(right_request(band.copy(), seed=7)).image.tobytes() == first.tobytes()
    assert gen.generate(right_request(band, seed=8)).image.tobytes() != first.tobytes()
    assert gen.generate(right_request(band, seed=7, prompt="another")).image.tobytes() != first.tobytes()


@pytest.mark.parametrize("direction", [Direction.LEFT, Direction.UP, Direction.DOWN])
def test_every_direction_is_the_mapped_right_result(direction: Direction) -> None:
    band = pink(SIZE, HALF, 3)
    gen = LocalGenerator()
    right = gen.generate(right_request(band, seed=4)).image
    other = gen.generate(right_request(band, seed=4, direction=direction)).image
    np.testing.assert_array_equal(other, from_right(right, direction))


# ---------------------------------------------------------------- real content


def stripes(height: int, width: int, period: int, on: int, axis: int = 1) -> np.ndarray:
    coord = np.arange(width if axis == 1 else height)
    line = np.where(coord % period < on, 220, 30).astype(np.uint8)
    plane = np.broadcast_to(line[None, :] if axis == 1 else line[:, None], (height, width))
    return np.stack([plane, plane // 2 + 40, 255 - plane], axis=-1)


def checker(height: int, width: int, cell: int) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    plane = np.where((yy // cell + xx // cell) % 2 == 0, 200, 50).astype(np.uint8)
    return np.stack([plane, plane, 250 - plane], axis=-1)


@pytest.mark.parametrize("gradient_domain", [True, False])
@pytest.mark.parametrize(
    "pattern",
    [stripes(SIZE, SIZE, 7, 3), stripes(SIZE, SIZE, 10, 4, axis=0), checker(SIZE, SIZE, 6)],
    ids=["vertical-stripes", "horizontal-stripes", "checker"],
)
def test_periodic_pattern_is_continued_exactly(pattern: np.ndarray, gradient_domain: bool) -> None:
    generator = LocalGenerator(gradient_domain=gradient_domain)
    out = generator.generate(right_request(pattern[:, :HALF], seed=5)).image
    if gradient_domain:
        # the tone decorrelation subtracts the long-period part of the profiles, and a periodic profile
        # cut at the region's ends leaves a residue under a grey level (0.2% of values move by 1)
        assert np.abs(out.astype(int) - pattern).max() <= 1
        assert (out != pattern).mean() < 0.01
        out = LocalGenerator(tone=None).generate(right_request(pattern[:, :HALF], seed=5)).image
    np.testing.assert_array_equal(out, pattern)


def test_noisy_texture_keeps_its_detail_and_colours() -> None:
    rng = np.random.default_rng(6)
    texture = checker(SIZE, SIZE, 5).astype(int) + rng.integers(-25, 26, (SIZE, SIZE, 3))
    band = np.clip(texture, 0, 255).astype(np.uint8)[:, :HALF]
    out = LocalGenerator().generate(right_request(band, seed=6)).image
    new = out[:, HALF:]
    assert detail(new) / detail(band) > 0.5  # a blur would score far lower
    assert histogram_distance(new, band) < 0.1


def test_noisy_stripes_keep_their_period() -> None:
    rng = np.random.default_rng(8)
    period = 9
    texture = stripes(SIZE, SIZE, period, 4).astype(int) + rng.integers(-30, 31, (SIZE, SIZE, 3))
    band = np.clip(texture, 0, 255).astype(np.uint8)[:, :HALF]
    out = LocalGenerator().generate(right_request(band, seed=8)).image
    rows = out[:, HALF:, 0].astype(float)
    rows -= rows.mean(axis=1, keepdims=True)
    lags = np.arange(1, 40)
    corr = np.array([(rows[:, :-lag] * rows[:, lag:]).mean() for lag in lags]) / (rows * rows).mean()
    peaks = [lag for i, lag in enumerate(lags[1:-1], 1) if corr[i] > max(corr[i - 1], corr[i + 1])]
    assert peaks[0] == period
    assert corr[period - 1] > 0.5


def test_structure_continues_across_the_seam() -> None:
    band = pink(SIZE, HALF, 9, exponent=3.5)
    out = LocalGenerator().generate(right_request(band, seed=9)).image.astype(float)
    seam = np.abs(out[:, HALF] - out[:, HALF - 1]).mean()
    neighbours = np.abs(np.diff(out[:, : HALF - 1], axis=1)).mean()  # adjacent columns inside the band
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, SIZE, (200, 2))
    random_columns = np.mean([np.abs(out[:, a] - out[:, b]).mean() for a, b in pairs if abs(a - b) > 16])
    assert seam < 0.25 * random_columns
    assert seam < 1.5 * neighbours  # as smooth as the band itself: no visible seam


def test_new_pixels_agree_with_kept_pixels_inside_the_generate_half() -> None:
    # One seed's ratio is noisy (version 1 scored 0.26 to 0.34 over seeds 10-13), so take the median
    # over four seeds: about 0.31 for both versions, against about 1 for unrelated rows.
    ratios = []
    for seed in range(10, 14):
        truth = pink(SIZE, SIZE, seed)
        top, bottom = 48, SIZE - 40
        gen = np.zeros((SIZE, SIZE), bool)
        gen[top:bottom, HALF:] = True  # neighbours already painted the top and bottom of the new half
        ref = truth.copy()
        ref[gen] = 128
        out = LocalGenerator().generate(TileRequest(ref, gen, "x", seed, Direction.RIGHT, SIZE)).image
        np.testing.assert_array_equal(out[~gen], truth[~gen])
        o = out.astype(float)
        rng = np.random.default_rng(1)
        pairs = [(a, b) for a, b in rng.integers(0, SIZE, (200, 2)) if abs(a - b) > 16]
        random_rows = np.mean([np.abs(o[a, HALF:] - o[b, HALF:]).mean() for a, b in pairs])
        ratios += [np.abs(o[edge, HALF:] - o[edge - 1, HALF:]).mean() / random_rows for edge in (top, bottom)]
    assert np.median(ratios) < 0.35
    assert max(ratios) < 0.45


def test_kept_island_inside_the_generate_half() -> None:
    truth = pink(SIZE, SIZE, 19)
    gen = np.zeros((SIZE, SIZE), bool)
    gen[:, HALF:] = True
    gen[100:130, 180:200] = False  # an island of kept pixels that no patch side touches first
    gen[0:20, HALF + 30 : HALF + 60] = False  # and a notch at the top: an irregular region to solve
    ref = np.where(gen[..., None], 0, truth).astype(np.uint8)
    out = LocalGenerator().generate(TileRequest(ref, gen, "x", 19, Direction.RIGHT, SIZE)).image
    np.testing.assert_array_equal(out[~gen], truth[~gen])
    o = out.astype(float)
    around = np.abs(o[99, 180:200] - o[100, 180:200]).mean() + np.abs(o[130, 180:200] - o[129, 180:200]).mean()
    far_rows = np.abs(o[16:, HALF:] - o[:-16, HALF:]).mean()  # rows 16 apart
    assert around / 2 < 0.5 * far_rows  # the island's edges blend in


def two_textures(rng: np.random.Generator, height: int, width: int, main: int) -> np.ndarray:
    """Noise dominated by channel ``main`` (0 red, 2 blue)."""
    texture = rng.integers(0, 61, (height, width, 3))
    texture[..., main] = rng.integers(150, 251, (height, width))
    return texture.astype(np.uint8)


@pytest.mark.parametrize("neighbour", [True, False], ids=["blue-neighbour-kept", "no-neighbour"])
def test_patches_are_chosen_to_match_kept_neighbours(neighbour: bool) -> None:
    # band: red texture in the top half, blue in the bottom half; a neighbour painted the top
    # 48 rows of the new half blue.  Plain quilting (no gradient domain, so no smoothing can
    # help) must then continue blue below the neighbour, where the band alone says red.
    rng = np.random.default_rng(20)
    ref = np.zeros((SIZE, SIZE, 3), np.uint8)
    ref[:HALF, :HALF] = two_textures(rng, HALF, HALF, 0)
    ref[HALF:, :HALF] = two_textures(rng, HALF, HALF, 2)
    gen = np.zeros((SIZE, SIZE), bool)
    gen[:, HALF:] = True
    if neighbour:
        ref[:48, HALF:] = two_textures(rng, 48, HALF, 2)
        gen[:48] = False
    out = LocalGenerator(gradient_domain=False).generate(TileRequest(ref, gen, "x", 20, Direction.RIGHT, SIZE))
    below = out.image[48:56, HALF + 32 :].astype(int)
    blue = (below[..., 2] > below[..., 0]).mean()
    assert blue > 0.85 if neighbour else blue < 0.15


# ---------------------------------------------------------------- channels and degenerate bands


def test_rgba_opaque_band_stays_opaque() -> None:
    band = np.concatenate([pink(SIZE, HALF, 11), np.full((SIZE, HALF, 1), 255, np.uint8)], axis=-1)
    out = LocalGenerator().generate(right_request(band, seed=11)).image
    assert out.shape == (SIZE, SIZE, 4)
    np.testing.assert_array_equal(out[..., 3], 255)


def test_rgba_alpha_is_synthesised_with_colour() -> None:
    alpha = stripes(SIZE, HALF, 8, 3)[..., :1]  # alpha takes two values in vertical stripes
    band = np.concatenate([pink(SIZE, HALF, 12), alpha], axis=-1)
    out = LocalGenerator(gradient_domain=False).generate(right_request(band, seed=12)).image
    assert colours(out[:, HALF:]) <= colours(band)
    assert set(np.unique(out[:, HALF:, 3]).tolist()) == {30, 220}
    smooth = LocalGenerator().generate(right_request(band, seed=12)).image
    assert np.isin(smooth[:, HALF:, 3], [30, 220]).mean() > 0.9


def test_constant_band_gives_the_same_constant() -> None:
    band = np.full((SIZE, HALF, 3), (90, 140, 200), np.uint8)
    out = LocalGenerator().generate(right_request(band)).image
    assert colours(out) == {(90, 140, 200)}


def test_tiny_noise_band_stays_within_its_values() -> None:
    band = (100 + np.random.default_rng(13).integers(0, 2, (SIZE, HALF, 3))).astype(np.uint8)
    out = LocalGenerator(gradient_domain=False).generate(right_request(band, seed=13)).image
    assert set(np.unique(out).tolist()) == {100, 101}
    smooth = LocalGenerator().generate(right_request(band, seed=13)).image
    assert smooth.min() >= 99
    assert smooth.max() <= 102
    assert abs(smooth[:, HALF:].mean() - band.mean()) < 0.2


def test_nothing_to_generate_returns_the_reference() -> None:
    ref = pink(64, 64, 14)
    result = LocalGenerator().generate(TileRequest(ref, np.zeros((64, 64), bool), "", 0, Direction.RIGHT, 64))
    np.testing.assert_array_equal(result.image, ref)
    assert result.metadata["patches"] == 0
    assert not np.shares_memory(result.image, ref)


def test_patch_shrinks_to_fit_a_narrow_band() -> None:
    ref = pink(64, 64, 15)
    gen = np.zeros((64, 64), bool)
    gen[:, 20:] = True  # a 20-pixel band cannot hold a 64 or 32 patch
    result = LocalGenerator(gradient_domain=False).generate(TileRequest(ref, gen, "", 0, Direction.RIGHT, 64))
    assert result.metadata["patch_size"] == 16
    np.testing.assert_array_equal(result.image[:, :20], ref[:, :20])
    assert colours(result.image[:, 20:]) <= colours(ref[:, :20])


@pytest.mark.parametrize("band_width", [0, 5], ids=["no-kept-pixels", "band-too-thin"])
def test_nothing_to_copy_is_a_permanent_error(band_width: int) -> None:
    gen = np.ones((64, 64), bool)
    gen[:, :band_width] = False
    with pytest.raises(PermanentGeneratorError, match="kept"):
        LocalGenerator().generate(TileRequest(pink(64, 64, 16), gen, "", 0, Direction.RIGHT, 64))


def test_malformed_request_is_refused() -> None:
    ref = pink(64, 64, 17)
    with pytest.raises(InvalidTileError):
        LocalGenerator().generate(TileRequest(ref[..., :2].copy(), np.ones((64, 64), bool), "", 0, Direction.RIGHT, 64))
    with pytest.raises(InvalidTileError):  # a mask of the wrong size
        LocalGenerator().generate(TileRequest(ref, np.ones((32, 32), bool), "", 0, Direction.RIGHT, 64))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"patch_size": 7},
        {"patch_size": 30.0},
        {"patch_size": True},
        {"overlap": 0},
        {"patch_size": 16, "overlap": 9},
        {"tolerance": -0.1},
        {"tolerance": float("nan")},
        {"shortlist": 0},
        {"offset_cost": -1},
        {"seam_weight": -1},
        {"reuse_cost": -1},
        {"fresh": -1},
        {"fresh": 2.0},
        {"fresh": 65},
        {"coarse": 3},
        {"coarse": True},
        {"drift": -1},
        {"drift": 8.0},
        {"tone": {"reach": 256}},
        {"tolerance": "0.1"},  # a string: once a TypeError from the comparison, not our error
        {"seam_weight": None},
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidGeneratorParamsError) as info:
        LocalGenerator(**kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


# ---------------------------------------------------------------- properties


def brute_force_cut_cost(err: np.ndarray, known: np.ndarray) -> float:
    """Cheapest boundary by trying every depth sequence (the definition _cut_old implements)."""
    length, width = err.shape
    first_unknown = [width if known[r].all() else int(np.argmin(known[r])) for r in range(length)]
    best = np.inf
    for depth in itertools.product(range(width), repeat=length):
        if any(abs(a - b) > 1 for a, b in itertools.pairwise(depth)):
            continue
        if any(d > u for d, u in zip(depth, first_unknown, strict=True)):
            continue
        cost = 0.0
        for r, d in enumerate(depth):
            cost += err[r, d] if d < first_unknown[r] else (err[r, d - 1] if d else 0.0)
        best = min(best, cost)
    return best


@given(
    st.integers(1, 5),
    st.integers(1, 4),
    st.integers(0, 2**32 - 1),
)
def test_boundary_cut_is_the_cheapest_valid_cut(length: int, width: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    err = rng.integers(0, 10, (length, width)).astype(np.float32)
    known = rng.random((length, width)) < 0.8
    err *= known
    old = _cut_old(err[None], known[None])[0]
    depth = old.sum(axis=1)
    assert (old == (np.arange(width) < depth[:, None])).all()  # old pixels form a prefix of each row
    assert not (old & ~known).any()  # never keeps an unknown pixel
    assert (np.abs(np.diff(depth)) <= 1).all()
    first_unknown = np.where(known.all(axis=1), width, np.argmin(known, axis=1))
    cost = sum(err[r, d] if d < first_unknown[r] else (err[r, d - 1] if d else 0.0) for r, d in enumerate(depth))
    assert cost == pytest.approx(brute_force_cut_cost(err, known))


@given(
    size=st.sampled_from([32, 48, 64]),
    channels=st.sampled_from([3, 4]),
    top=st.integers(0, 20),
    bottom=st.integers(0, 20),
    seed=st.integers(-(2**63), 2**64),
    direction=st.sampled_from(list(Direction)),
    gradient_domain=st.booleans(),
)
def test_kept_pixels_exact_new_pixels_copied(
    size: int, channels: int, top: int, bottom: int, seed: int, direction: Direction, gradient_domain: bool
) -> None:
    half = size // 2
    truth = np.random.default_rng(abs(seed) % 1000).integers(0, 6, (size, size, channels)).astype(np.uint8) * 50
    gen_r = np.zeros((size, size), bool)
    gen_r[top : size - bottom, half:] = True
    ref = np.ascontiguousarray(from_right(truth, direction))
    gen = np.ascontiguousarray(from_right(gen_r, direction))
    generator = LocalGenerator(patch_size=16, overlap=4, gradient_domain=gradient_domain)
    out = generator.generate(TileRequest(ref, gen, "p", seed, direction, size)).image
    np.testing.assert_array_equal(out[~gen], ref[~gen])
    if not gradient_domain:
        assert colours(out[gen]) <= colours(ref[~gen])
    again = generator.generate(TileRequest(ref.copy(), gen.copy(), "p", seed, direction, size)).image
    assert again.tobytes() == out.tobytes()


@pytest.mark.parametrize("irregular", [False, True], ids=["rectangle", "notched"])
@pytest.mark.parametrize("box", [(3, 11, 5, 14), (0, 16, 7, 14), (0, 9, 0, 6), (4, 16, 0, 14)])
def test_integrate_solves_the_poisson_system(box: tuple[int, int, int, int], irregular: bool) -> None:
    rng = np.random.default_rng(sum(box))
    h, w = 16, 14
    keep = np.ones((h, w), bool)
    r0, r1, c0, c1 = box
    keep[r0:r1, c0:c1] = False
    if irregular:
        keep[r0 + 1, c0 + 1 : c0 + 3] = True
    image = rng.integers(0, 256, (h, w, 2)).astype(np.uint8)
    grad_x, grad_y = rng.normal(0, 3, (h, w - 1, 2)), rng.normal(0, 3, (h - 1, w, 2))
    out = integrate(image, keep, grad_x, grad_y)
    np.testing.assert_array_equal(out[keep], image[keep])
    # reference: the same equations assembled pixel by pixel and solved densely
    unknown = list(zip(*np.nonzero(~keep), strict=True))
    index = {p: i for i, p in enumerate(unknown)}
    matrix = np.zeros((len(unknown), len(unknown)))
    rhs = np.zeros((len(unknown), 2))
    for (y, x), i in index.items():
        for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            qy, qx = y + dy, x + dx
            if not (0 <= qy < h and 0 <= qx < w):
                qy, qx = y - dy, x - dx  # mirror across the image border
            if qy != y:
                want = grad_y[min(y, qy), x] * (1 if qy < y else -1)
            else:
                want = grad_x[y, min(x, qx)] * (1 if qx < x else -1)
            matrix[i, i] += 1
            rhs[i] += want
            if (qy, qx) in index:
                matrix[i, index[qy, qx]] -= 1
            else:
                rhs[i] += image[qy, qx]
    expected = np.clip(np.rint(np.linalg.solve(matrix, rhs)), 0, 255)
    got = np.array([out[p] for p in unknown])
    assert np.abs(got.astype(int) - expected).max() <= 1  # rounding of values within 1e-6 of .5


# ---------------------------------------------------------------- one full-size tile


def test_full_size_tile() -> None:
    band = pink(1024, 512, 18, exponent=2.0)
    request = right_request(band, seed=18)
    out = LocalGenerator().generate(request).image
    assert out.shape == (1024, 1024, 3)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, :512], band)
    new = out[:, 512:]
    assert detail(new) / detail(band) > 0.5
    assert histogram_distance(new, band) < 0.15
    seam = np.abs(out[:, 512].astype(float) - out[:, 511]).mean()
    assert seam < 1.5 * np.abs(np.diff(band.astype(float), axis=1)).mean()


# ---------------------------------------------------------------- content quality (issue 14, point 6)

SAMPLE = Path(__file__).resolve().parents[3] / "imkerutils" / "data" / "samples" / "landscape.jpg"
# version 1's defaults: 64-px patches, no fresh/reuse rule, a strong row prior, no drift fade
VERSION_1 = {
    "patch_size": 64,
    "overlap": 16,
    "shortlist": 16,
    "offset_cost": 0.1,
    "fresh": 0,
    "reuse_cost": 0,
    "coarse": 2,
    "drift": 0,
}


def meadow_request(direction: Direction) -> tuple[TileRequest, np.ndarray, np.ndarray]:
    """A 512 tile growing the sample's meadow (lake edge, grass, flowers): (request, band, real continuation)."""
    with Image.open(SAMPLE) as im:
        crop = np.ascontiguousarray(np.asarray(im.convert("RGB"))[512:1024, 0:512])
    right = to_right(crop, direction)
    band = right[:, :256]
    request = right_request(band, seed=3, prompt="p", direction=direction)
    return request, band, right[:, 256:]


@pytest.mark.parametrize("direction", [Direction.DOWN, Direction.RIGHT])
def test_meadow_grows_without_copies_or_bands(direction: Direction) -> None:
    # The README's main job grows the meadow down and right: version 1 copied the lake and flower
    # patches verbatim (a second lake) and stretched them into vertical bands.  The photograph's own
    # continuation scores 0 copied area; the new pixels must too, and band no more than it does.
    request, band, real = meadow_request(direction)
    new = to_right(LocalGenerator().generate(request).image, direction)[:, 256:]
    assert repetition_score(real, band) == 0.0
    assert repetition_score(new, band) == 0.0
    assert banding_score(new, band) <= banding_score(real, band)
    old = to_right(LocalGenerator(**VERSION_1).generate(request).image, direction)[:, 256:]
    assert repetition_score(old, band) > 0.1  # the finding, on the old generator


def test_fade_drift_removes_a_far_offset_and_keeps_the_seam() -> None:
    keep = np.zeros((64, 256), bool)
    keep[:, :32] = True
    pasted = np.full((64, 256, 3), 100, np.uint8)
    solved = pasted.copy()
    solved[:, 32:] = 140  # a correction of +40 everywhere: what a bright seam spreads
    solved[:, :32] = 7  # kept pixels: returned as they are
    out = _fade_drift(solved, pasted, keep, 48)
    np.testing.assert_array_equal(out[:, :32], solved[:, :32])
    assert (out[:, 32] >= 139).all()  # at the seam the correction stays
    np.testing.assert_array_equal(out[:, 32 + 48 :], 100)  # beyond the reach it is gone
    assert (np.diff(out[0, 32:, 0].astype(int)) <= 0).all()  # and fades monotonically in between


def test_a_tile_peaks_at_under_sixty_times_its_own_bytes() -> None:
    """A cluster worker's memory is mostly this peak (issue 16, point 4: workers at 405 of 400 MiB).

    The Poisson right-hand side built in float64 for all channels at once made it 77x the tile's bytes at
    any tile size (234 MiB at 1024² RGB); a channel at a time it is 48x.
    """
    import tracemalloc

    n = 256
    rng = np.random.default_rng(3)
    reference = np.cumsum(rng.integers(0, 9, (n, n, 3)), axis=1).astype(np.uint8)
    generate = np.zeros((n, n), bool)
    generate[:, n // 2 :] = True
    reference[generate] = 0
    request = TileRequest(reference=reference, generate=generate, prompt="p", seed=1, direction=Direction.RIGHT, size=n)
    generator = LocalGenerator()
    tracemalloc.start()
    try:
        generator.generate(request)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 60 * reference.nbytes, f"peak {peak / reference.nbytes:.1f}x the tile's bytes"
