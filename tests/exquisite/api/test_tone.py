"""The local generator's tone decorrelation (``_tone.py``): carried large-scale tone fades with distance."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.ndimage import distance_transform_edt

from imkerutils.errors import InvalidGeneratorParamsError
from imkerutils.exquisite.api._tone import ToneOptions, _distance_to_kept, decorrelate_tone
from imkerutils.exquisite.api.local import LocalGenerator


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_decorrelate_tone_fades_a_carried_row_band_and_keeps_the_seam(channels: int) -> None:
    # a dark, smooth band met at the seam and carried along its rows (what quilting does to a fovea)
    rng = np.random.default_rng(5)
    dip = 60 * np.exp(-(((np.arange(192) - 96) / 24.0) ** 2) / 2)
    image = (rng.normal(130, 8, (192, 512, channels)) - dip[:, None, None]).clip(0, 255).astype(np.uint8)
    if channels in (2, 4):
        image[..., -1] = 255
    keep = np.zeros((192, 512), bool)
    keep[:, :64] = True
    out = decorrelate_tone(image, keep, reach=128, strength=1.0, sigma=6)
    np.testing.assert_array_equal(out[keep], image[keep])
    if channels in (2, 4):
        assert (out[..., -1] == 255).all()  # alpha never moves
    rows = out[..., : 3 if channels >= 3 else 1].astype(float).mean(axis=2)

    def depth(x0: int, x1: int) -> float:  # the band's centre against the rows far from it
        profile = rows[:, x0:x1].mean(axis=1)
        return float(profile[88:104].mean() - np.r_[profile[:32], profile[160:]].mean())

    assert depth(64, 66) == pytest.approx(depth(0, 64), abs=3)  # continuous with the kept pixels
    assert abs(depth(64 + 128, 512)) < 5  # gone from the reach on
    # only a field constant along rows and columns was subtracted: the texture is the same
    diff = out[:, 64:, 0].astype(float) - image[:, 64:, 0]
    assert np.abs(np.diff(diff, axis=0)).mean() < 1.5
    assert np.abs(np.diff(diff, axis=1)).mean() < 1.5


def test_decorrelate_tone_measures_distance_to_any_kept_pixel() -> None:
    keep = np.zeros((96, 160), bool)
    keep[:, :32] = True
    keep[40:48, 120:128] = True  # a kept island (a neighbour's pixels) inside the new region
    rows, cols = np.nonzero(~keep)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    exact = distance_transform_edt(~keep)[box]
    approx = _distance_to_kept(keep, box, 64)
    assert np.abs(approx - exact).max() <= 4
    assert (approx[keep[box]] == 0).all()
    image = np.full((96, 160, 3), 90, np.uint8)
    image[:, :, :] += (np.arange(96) // 24 % 2 * 60).astype(np.uint8)[:, None, None]  # row bands everywhere
    out = decorrelate_tone(image, keep, reach=64, strength=1.0, sigma=0)
    np.testing.assert_array_equal(out[keep], image[keep])
    assert abs(int(out[44, 119, 0]) - int(image[44, 119, 0])) <= 10  # next to the island: barely moved


def test_keep_band_keeps_that_fraction_of_the_bands_own_row_layout() -> None:
    # sky over meadow across the whole band, carried unchanged into the new half
    layout = 60 * np.cos(np.arange(256) / 256 * 2 * np.pi)  # no linear part: the line removal leaves it whole
    image = np.repeat((120 + layout)[:, None, None], 384, axis=1).repeat(3, axis=2).astype(np.uint8)
    keep = np.zeros((256, 384), bool)
    keep[:, :128] = True

    def far_layout(out: np.ndarray) -> float:  # the far rows' profile, as a fraction of the band's
        far = out[:, 128 + 128 :, 0].astype(float).mean(axis=1)
        return float(np.polyfit(layout, far - far.mean(), 1)[0])

    assert abs(far_layout(decorrelate_tone(image, keep, 128, 1.0, 8))) < 0.05
    assert far_layout(decorrelate_tone(image, keep, 128, 1.0, 8, keep_band=0.5)) == pytest.approx(0.5, abs=0.05)
    assert far_layout(decorrelate_tone(image, keep, 128, 1.0, 8, keep_band=1.0)) == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"reach": 0},
        {"reach": 64.0},
        {"reach": True},
        {"strength": 1.5},
        {"strength": float("nan")},
        {"sigma": -1},
        {"keep": 2},
        {"keep": "0.5"},
    ],
)
def test_bad_tone_options_are_refused_by_name(kwargs: dict[str, object]) -> None:
    name = next(iter(kwargs))
    with pytest.raises(InvalidGeneratorParamsError, match=rf"^tone\.{name} must be"):
        ToneOptions(**kwargs)  # type: ignore[arg-type]


def test_the_generator_records_its_tone_options() -> None:
    assert LocalGenerator().params()["tone"] == {"reach": 256, "strength": 1.0, "sigma": 24.0, "keep": 0.5}
    assert LocalGenerator(tone=None).params()["tone"] is None
    assert LocalGenerator(tone=ToneOptions(reach=64)).params()["tone"]["reach"] == 64


def test_numpy_numbers_are_recorded_as_plain_json_numbers() -> None:
    gen = LocalGenerator(fresh=np.int64(16), tolerance=np.float32(0.25), tone=ToneOptions(reach=np.int32(64), sigma=24))  # type: ignore[arg-type]
    params = json.loads(json.dumps(gen.params()))  # once a TypeError: int64 is not JSON
    assert params["fresh"] == 16
    assert params["tone"] == {"reach": 64, "strength": 1.0, "sigma": 24.0, "keep": 0.5}
    assert ToneOptions(sigma=24) == ToneOptions(sigma=24.0)
    assert type(ToneOptions(strength=1).strength) is float
    assert LocalGenerator(gradient_domain=False).params()["tone"] is None  # applied only with gradient_domain
