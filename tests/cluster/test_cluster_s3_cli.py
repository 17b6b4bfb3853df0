"""The command line and the exports with canvases and outputs on S3 (a moto server on 127.0.0.1).

``new``, ``info``, ``export`` and ``extract`` on a canvas URL, and exports *to*
URLs: written locally, uploaded once complete (one PUT for a file), nothing
left behind (on S3, in the working folder, in the temporary folder) when
they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from _cluster_helpers import child_env, photo_like, recorded_requests, s3_env, storage_options
from PIL import Image

from imkerutils.errors import ExportExistsError, ExportWriteError
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.window import Window

BUCKET = "exports"
CLI = [sys.executable, "-m", "imkerutils.cli.main"]


@pytest.fixture(scope="module")
def png(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    pixels = photo_like(700, 1300, seed=8)
    path = tmp_path_factory.mktemp("img") / "source.png"
    Image.fromarray(pixels).save(path)
    return path, pixels


def fs(endpoint: str) -> Any:
    import s3fs

    f = s3fs.S3FileSystem(**storage_options(endpoint))
    f.invalidate_cache()
    return f


def cli(endpoint: str, *args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``imkerutils ARGS`` in a child process that finds the moto server through ``AWS_ENDPOINT_URL``."""
    return subprocess.run(
        [*CLI, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
        env=child_env(s3_env(endpoint)),
    )


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"{proc.args}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    assert proc.stderr == "", proc.stderr
    return proc


def tmp_leftovers() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("imkerutils-export-*")}


def test_new_creates_a_canvas_on_s3_and_reports_its_url(endpoint: str, png: tuple[Path, np.ndarray]) -> None:
    """Issue 17: ``new s3://... --from X`` wrote the canvas, then failed with "not on the local disk", exit 2."""
    path, pixels = png
    url = f"s3://{BUCKET}/new.zarr"
    done = ok(cli(endpoint, "new", url, "--from", path))
    assert done.stdout.strip() == f"created {url}: 1300x700 RGB, 2 tiles"
    canvas = Canvas.open(url, read_only=True, storage_options=storage_options(endpoint))
    np.testing.assert_array_equal(canvas.read(Window(0, 0, 700, 1300)), pixels)
    assert canvas.verify().ok

    empty = f"s3://{BUCKET}/empty.zarr"
    report = json.loads(ok(cli(endpoint, "new", empty, "--width", 100, "--height", 50, "--json")).stdout)
    assert report["canvas"] == empty
    assert report["size"] == {"width": 100, "height": 50}


def test_info_reports_the_bytes_the_canvas_holds_on_s3(endpoint: str, png: tuple[Path, np.ndarray]) -> None:
    url = f"s3://{BUCKET}/info.zarr"
    Canvas.from_image(png[0], url, storage_options=storage_options(endpoint))
    report = json.loads(ok(cli(endpoint, "info", url, "--json")).stdout)
    objects = fs(endpoint).find(f"{BUCKET}/info.zarr", detail=True)
    assert report["bytes_on_disk"] == sum(o["size"] for o in objects.values()) > 100_000
    assert report["path"] == url
    assert report["size"] == {"width": 1300, "height": 700}


def test_export_and_extract_from_an_s3_canvas_to_local_files(
    endpoint: str, png: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    """Issue 17: OME-Zarr export from an S3 canvas failed with "not on the local disk"."""
    import zarr

    path, pixels = png
    url = f"s3://{BUCKET}/source.zarr"
    canvas = Canvas.from_image(path, url, storage_options=storage_options(endpoint))
    ok(cli(endpoint, "export", url, tmp_path / "c.ome.zarr", "-q"))
    group = zarr.open_group(tmp_path / "c.ome.zarr", mode="r")
    assert group.attrs["ome"]["multiscales"][0]["name"] == "source.zarr"
    np.testing.assert_array_equal(np.moveaxis(group["0"][:], 0, 2), pixels)
    np.testing.assert_array_equal(np.moveaxis(group["1"][:], 0, 2), canvas.read(canvas.level_bounds(1), level=1))

    ok(cli(endpoint, "extract", url, tmp_path / "e.tif", "--x", 100, "--y", 50, "--width", 300, "--height", 200))
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "e.tif"), pixels[50:250, 100:400])


@pytest.mark.parametrize("name", ["out.tif", "out.png", "out.ome.zarr"])
def test_export_to_an_s3_url_uploads_the_finished_output_and_nothing_local(
    endpoint: str, png: tuple[Path, np.ndarray], tmp_path: Path, name: str
) -> None:
    """Issue 17: export to ``s3://bucket/out.tif`` reported success and made a local folder named ``s3:``."""
    path, pixels = png
    canvas = Canvas.from_image(path, tmp_path / "local.zarr")
    out = f"s3://{BUCKET}/{name}"
    before = tmp_leftovers()
    report = json.loads(ok(cli(endpoint, "export", tmp_path / "local.zarr", out, "--json", "-q", cwd=tmp_path)).stdout)
    assert sorted(os.listdir(tmp_path)) == ["local.zarr"]  # no folder named "s3:" (nor anything else)
    assert tmp_leftovers() == before
    assert report["output"] == out
    s3 = fs(endpoint)
    key = f"{BUCKET}/{name}"
    assert report["bytes"] == s3.du(key, total=True) > 0
    local = tmp_path / "fetched" / name
    s3.get(key, str(local), recursive=name.endswith(".zarr"))
    if name.endswith(".tif"):
        np.testing.assert_array_equal(tifffile.imread(local), pixels)
    elif name.endswith(".png"):
        with Image.open(local) as im:
            np.testing.assert_array_equal(np.asarray(im), pixels)
    else:
        import zarr

        group = zarr.open_group(local, mode="r")
        assert len(group.attrs["ome"]["multiscales"][0]["datasets"]) == 2  # the pyramid, by default
        np.testing.assert_array_equal(np.moveaxis(group["0"][:], 0, 2), pixels)
        np.testing.assert_array_equal(np.moveaxis(group["1"][:], 0, 2), canvas.read(canvas.level_bounds(1), level=1))
        root = zarr.open_group(f"s3://{key}", mode="r", storage_options=storage_options(endpoint))
        np.testing.assert_array_equal(np.moveaxis(root["0"][:], 0, 2), pixels)  # readable where it is

    again = cli(endpoint, "export", tmp_path / "local.zarr", out, cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1
    assert "already exists" in again.stderr
    ok(
        cli(
            endpoint,
            "export",
            tmp_path / "local.zarr",
            out,
            "--overwrite",
            "-q",
            "--region",
            0,
            0,
            64,
            32,
            cwd=tmp_path,
        )
    )
    assert s3.du(key, total=True) < report["bytes"]  # replaced, old files of a folder included


def test_a_file_export_to_s3_is_one_put_of_the_whole_file(endpoint: str, tmp_path: Path) -> None:
    from imkerutils.tiling.export import export_region

    canvas = Canvas.create(tmp_path / "c.zarr", tile=64)
    pixels = photo_like(200, 300, seed=1)
    canvas.paste(pixels, 0, 0, extend=True)
    url = f"s3://{BUCKET}/one-put.tif"
    with recorded_requests(endpoint) as requests:
        out = export_region(canvas, url, progress=False, storage_options=storage_options(endpoint))
    assert out == url
    writes = [r for r in requests if r["method"] in ("PUT", "POST", "DELETE")]
    assert [(r["method"], r["url"].split(f"/{BUCKET}/", 1)[-1]) for r in writes] == [("PUT", "one-put.tif")]
    with fs(endpoint).open(f"{BUCKET}/one-put.tif", "rb") as f:
        np.testing.assert_array_equal(tifffile.imread(f), pixels)


@pytest.mark.parametrize("name", ["fail.tif", "fail.ome.zarr"])
def test_a_failed_export_to_s3_leaves_nothing_behind(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    import dataclasses

    from imkerutils.tiling.export import export_region, omezarr, tiff

    canvas = Canvas.create(tmp_path / "c.zarr", tile=64)
    canvas.paste(photo_like(300, 300, seed=2), 0, 0, extend=True)
    module = tiff if name.endswith(".tif") else omezarr
    fmt = module.FORMAT

    def broken(*args: Any, **kwargs: Any) -> None:
        fmt.write(*args, **kwargs)  # a complete output, then a failure before the upload
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module, "FORMAT", dataclasses.replace(fmt, write=broken))
    before = tmp_leftovers()
    with pytest.raises(ExportWriteError, match="disk is full"):
        export_region(
            canvas, f"s3://{BUCKET}/{name}", pyramid=True, progress=False, storage_options=storage_options(endpoint)
        )
    assert not fs(endpoint).exists(f"{BUCKET}/{name}")
    assert tmp_leftovers() == before


def test_an_upload_that_fails_leaves_nothing_under_the_url(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs

    from imkerutils.tiling.export import export_region

    canvas = Canvas.create(tmp_path / "c.zarr", tile=64)
    canvas.paste(photo_like(300, 300, seed=3), 0, 0, extend=True)
    real = s3fs.S3FileSystem._put_file
    calls = []

    async def flaky(self: Any, lpath: str, rpath: str, **kwargs: Any) -> None:
        calls.append(rpath)
        if len(calls) == 3:
            raise PermissionError(13, "Access Denied")
        await real(self, lpath, rpath, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_put_file", flaky)
    with pytest.raises(ExportWriteError, match="permission denied"):
        export_region(
            canvas,
            f"s3://{BUCKET}/flaky.ome.zarr",
            pyramid=True,
            progress=False,
            storage_options=storage_options(endpoint),
        )
    assert len(calls) >= 3
    assert not fs(endpoint).exists(f"{BUCKET}/flaky.ome.zarr")


def test_an_export_to_an_existing_url_or_a_missing_bucket_is_refused_before_any_work(
    endpoint: str, tmp_path: Path
) -> None:
    from imkerutils.tiling.export import export_region

    canvas = Canvas.create(tmp_path / "c.zarr", tile=64)
    canvas.paste(photo_like(100, 100, seed=4), 0, 0, extend=True)
    opts = storage_options(endpoint)
    fs(endpoint).pipe(f"{BUCKET}/taken.png", b"not mine")
    with pytest.raises(ExportExistsError, match="already exists"):
        export_region(canvas, f"s3://{BUCKET}/taken.png", progress=False, storage_options=opts)
    assert fs(endpoint).cat(f"{BUCKET}/taken.png") == b"not mine"
    with pytest.raises(ExportWriteError, match="bucket 'no-such-bucket' does not exist"):
        export_region(canvas, "s3://no-such-bucket/x.png", progress=False, storage_options=opts)
    proc = cli(endpoint, "export", tmp_path / "c.zarr", "s3://no-such-bucket/x.tif", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "does not exist" in proc.stderr


def test_extract_writes_to_an_s3_url(endpoint: str, png: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, pixels = png
    Canvas.from_image(path, tmp_path / "c.zarr")
    for name in ("tile.png", "tile.bmp"):  # streamed, and written from memory by Pillow
        ok(
            cli(
                endpoint,
                "extract",
                tmp_path / "c.zarr",
                f"s3://{BUCKET}/{name}",
                "--x",
                10,
                "--y",
                20,
                "--width",
                64,
                "--height",
                32,
                cwd=tmp_path,
            )
        )
        with fs(endpoint).open(f"{BUCKET}/{name}", "rb") as f, Image.open(f) as im:
            np.testing.assert_array_equal(np.asarray(im.convert("RGB")), pixels[20:52, 10:74])
    assert sorted(os.listdir(tmp_path)) == ["c.zarr"]
