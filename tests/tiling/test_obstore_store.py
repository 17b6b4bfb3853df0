"""Canvases on S3 through obstore (``IMKERUTILS_OBJECT_STORE=obstore``): the bytes fsspec writes, clear refusals.

A moto S3 server on loopback (as the other S3 tests use) holds a twin of every canvas: one written through
fsspec (s3fs), one through obstore.  Every stored key outside the journal (whose entry names are random)
must hold the same bytes in both, and each backend must open, read and verify what the other wrote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from _cluster_helpers import canvas_sha, moto_server, photo_like, s3_env, storage_options

from imkerutils.errors import StoreConfigError
from imkerutils.tiling.canvas import Canvas
from imkerutils.tiling.location import open_store
from imkerutils.tiling.objstore import ENV
from imkerutils.tiling.window import Window

if TYPE_CHECKING:
    from collections.abc import Iterator

pytest.importorskip("obstore")
BUCKET = "obstore-twins"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    import s3fs

    with moto_server() as url:
        s3fs.S3FileSystem(**storage_options(url)).mkdir(BUCKET)
        yield url


def stored(endpoint: str, prefix: str) -> dict[str, bytes]:
    """Every key below ``prefix`` and its bytes, read with s3fs (independent of both stores under test)."""
    import s3fs

    fs = s3fs.S3FileSystem(**storage_options(endpoint))
    fs.invalidate_cache()
    root = f"{BUCKET}/{prefix}/"
    return {k[len(root) :]: fs.cat_file(k) for k in fs.find(root)}


def build(url: str, opts: dict[str, Any]) -> tuple[Canvas, list[str]]:
    """Create, paste, grow (right, and left and up: a rebase), pyramid, undo, redo, artifact; SHA after each."""
    canvas = Canvas.create(url, mode="RGB", storage_options=opts)
    shas = []
    canvas.paste(photo_like(1024, 1536, seed=1), 0, 0, extend=True)
    shas.append(canvas_sha(canvas))
    canvas.paste(photo_like(700, 900, seed=2), 600, 1200, extend=True)  # across chunks, past the right edge
    canvas.extend(Window(-300, -200, 400, 400))  # left and up: the origin moves
    canvas.paste(photo_like(300, 300, seed=3), -250, -150)
    canvas.update_pyramid()
    shas.append(canvas_sha(canvas))
    canvas.undo()
    shas.append(canvas_sha(canvas))
    canvas.redo()
    canvas.put_artifact("outputs/a.bin", b"\x00artifact\xff")
    shas += [canvas_sha(canvas), canvas.read(canvas.bounds, level=1).tobytes().hex()[:64]]
    return canvas, shas


def test_a_canvas_through_obstore_stores_the_bytes_fsspec_stores(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zarr.storage import FsspecStore, ObjectStore

    opts, built = storage_options(endpoint), {}
    for backend, kind in (("fsspec", FsspecStore), ("obstore", ObjectStore)):
        monkeypatch.setenv(ENV, backend)
        url = f"s3://{BUCKET}/{backend}/twin"
        assert isinstance(open_store(url, storage_options=opts), kind)
        canvas, shas = build(url, opts)
        assert canvas.verify().ok
        built[backend] = (canvas.bounds, canvas.head, shas)
    assert built["obstore"] == built["fsspec"]

    a, b = stored(endpoint, "fsspec/twin"), stored(endpoint, "obstore/twin")
    outside = sorted(k for k in a if not k.startswith("_journal/"))
    assert len(outside) > 10
    assert any(k.startswith("0/c/") for k in outside)
    assert "outputs/a.bin" in outside
    assert sorted(k for k in b if not k.startswith("_journal/")) == outside
    assert [k for k in outside if a[k] != b[k]] == []
    assert sum(k.startswith("_journal/") for k in a) == sum(k.startswith("_journal/") for k in b)


@pytest.mark.parametrize(("writer", "reader"), [("obstore", "fsspec"), ("fsspec", "obstore")])
def test_each_backend_opens_and_verifies_what_the_other_wrote(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, writer: str, reader: str
) -> None:
    opts, url = storage_options(endpoint), f"s3://{BUCKET}/cross-{writer}/canvas"
    monkeypatch.setenv(ENV, writer)
    canvas, shas = build(url, opts)
    monkeypatch.setenv(ENV, reader)
    other = Canvas.open(url, storage_options=opts)
    assert other.bounds == canvas.bounds
    assert other.head == canvas.head
    assert canvas_sha(other) == shas[-2]
    assert other.verify().ok
    assert other.get_artifact("outputs/a.bin") == b"\x00artifact\xff"
    other.paste(np.full((10, 10, 3), 7, np.uint8), 0, 0)
    monkeypatch.setenv(ENV, writer)
    assert Canvas.open(url, storage_options=opts).read(Window(0, 0, 10, 10)).tolist() == [[[7] * 3] * 10] * 10


def test_obstore_finds_the_endpoint_and_keys_in_the_environment(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("AWS_ENDPOINT_URL", "FSSPEC_S3_ENDPOINT_URL"):
        with monkeypatch.context() as m:
            for k, v in {**s3_env(endpoint, variable=variable), ENV: "obstore"}.items():
                m.setenv(k, v)
            url = f"s3://{BUCKET}/env-{variable.lower()}"
            canvas = Canvas.create(url, height=64, width=64)  # no storage_options
            canvas.paste(np.full((64, 64, 3), 9, np.uint8), 0, 0)
            assert Canvas.open(url).read(Window(0, 0, 1, 1)).tolist() == [[[9, 9, 9]]]


@pytest.mark.parametrize(
    ("backend", "url", "options", "message"),
    [
        ("Obstore ", "s3://b/c", None, None),  # spelling and spaces do not matter
        ("s3fs", "s3://b/c", None, "IMKERUTILS_OBJECT_STORE='s3fs' is not a backend: use one of fsspec, obstore"),
        ("obstore", "gs://b/c", None, "opens s3:// canvases only, not 'gs://b/c'"),
        ("obstore", "s3:///c", None, "names no bucket"),
        ("obstore", "s3://b/c", {"profile": "x"}, "storage option 'profile' has no obstore equivalent"),
        ("obstore", "s3://b/c", {"client_kwargs": {"verify": False}}, "client_kwargs['verify'] has no obstore"),
        ("obstore", "s3://b/c", {"client_kwargs": None}, None),  # s3fs's own default
        ("obstore", "s3://b/c", {"key": "k"}, "cannot open 's3://b/c' through obstore"),  # obstore's own refusal
    ],
)
def test_a_bad_backend_or_option_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, backend: str, url: str, options: dict[str, Any] | None, message: str | None
) -> None:
    monkeypatch.setenv(ENV, backend)
    if message is None:
        from zarr.storage import ObjectStore

        assert isinstance(open_store(url, storage_options=options), ObjectStore)
        return
    with pytest.raises(StoreConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        open_store(url, storage_options=options)


def test_obstore_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "obstore")
    monkeypatch.setitem(__import__("sys").modules, "obstore.store", None)  # what an install without it imports
    with pytest.raises(StoreConfigError, match=r"needs the obstore package: pip install 'imkerutils\[obstore\]'"):
        open_store("s3://b/c")
