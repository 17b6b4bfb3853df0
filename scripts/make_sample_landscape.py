"""Make imkerutils/data/samples/landscape.jpg: a self-made procedural landscape (public domain)."""

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

rng = np.random.default_rng(20261125)
H = W = 1024


def fbm(shape, octaves=6, persistence=0.55, base=4):
    out = np.zeros(shape)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        n = base * 2**o
        g = rng.standard_normal((n + 1, n + 1))
        z = ndimage.zoom(g, (shape[0] / (n + 1), shape[1] / (n + 1)), order=3)[: shape[0], : shape[1]]
        out += amp * z
        total += amp
        amp *= persistence
    return out / total


def ridge(n, octaves=7, base=3, amp=1.0):
    x = np.zeros(n)
    a = amp
    for o in range(octaves):
        k = base * 2**o
        g = rng.standard_normal(k + 1)
        x += a * np.interp(np.linspace(0, k, n), np.arange(k + 1), g)
        a *= 0.5
    return x


yy, xx = np.mgrid[0:H, 0:W] / H
img = np.zeros((H, W, 3))
# sky: gradient + clouds
sky_top, sky_bot = np.array([70, 120, 190]), np.array([190, 215, 235])
t = np.clip(yy / 0.55, 0, 1)[..., None]
img[:] = sky_top * (1 - t) + sky_bot * t
clouds = np.clip(fbm((H, W), 6, 0.6, 3) * 2.2 + 0.2, 0, 1)[..., None] * np.clip(1 - yy / 0.5, 0, 1)[..., None]
img = img * (1 - 0.7 * clouds) + 250 * 0.7 * clouds
# far mountains
far = 0.42 + 0.06 * ridge(W)
near = 0.55 + 0.05 * ridge(W, base=5)
tex = fbm((H, W), 6, 0.6, 8)
for line, col, shade in ((far, np.array([110, 125, 150]), 18), (near, np.array([70, 95, 80]), 25)):
    mask = yy >= line[None, :]
    c = col + shade * tex[..., None]
    img = np.where(mask[..., None], c, img)
# meadow
meadow_line = 0.68 + 0.02 * ridge(W, base=2)
m = yy >= meadow_line[None, :]
grass = fbm((H, W), 7, 0.7, 16)
depth = np.clip((yy - 0.68) / 0.32, 0, 1)[..., None]
gcol = np.array([95, 140, 55]) * (1 - depth) + np.array([60, 110, 35]) * depth + 40 * grass[..., None]
flowers = (rng.random((H, W)) > 0.9985) & m
img = np.where(m[..., None], gcol, img)
fl = ndimage.binary_dilation(flowers, iterations=2)
img[fl] = [235, 210, 60]
# a lake on the left
lake = (yy > 0.74) & (yy < 0.86) & (((xx - 0.25) / 0.2) ** 2 + ((yy - 0.8) / 0.05) ** 2 < 1)
img[lake] = np.array([80, 120, 170]) + 20 * tex[lake][:, None]
img = np.clip(img + rng.normal(0, 2.0, img.shape), 0, 255).astype(np.uint8)
Image.fromarray(img).filter(ImageFilter.SMOOTH_MORE).save(
    "imkerutils/data/samples/landscape.jpg", quality=92, optimize=True
)
