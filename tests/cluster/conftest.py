"""Fixtures for the cluster tests: a source image, its serial growth, and a LocalCluster per module."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _cluster_helpers import Reference, canvas_sha, local_cluster, make_canvas, moto_server, photo_like, storage_options

from imkerutils.exquisite.api.mock import MockGenerator
from imkerutils.exquisite.pipeline import GrowSettings, grow

if TYPE_CHECKING:
    from collections.abc import Iterator

    from distributed import Client

SIDE = 3072  # 3 x 3 tiles
SEED = 11
DIRECTIONS = ("right", "down")


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    image = photo_like(SIDE, SIDE, seed=3)
    canvas = make_canvas(tmp_path_factory.mktemp("serial") / "c.zarr", image)
    records = grow(canvas, DIRECTIONS, MockGenerator(), GrowSettings(seed=SEED, workers=1, save_artifacts=False))
    assert canvas.verify().ok
    return Reference(
        image=image,
        seed=SEED,
        directions=DIRECTIONS,
        bounds=canvas.bounds,
        sha=canvas_sha(canvas),
        tiles=sum(len(r.tiles) for r in records),
    )


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """Two single-threaded worker processes, started once per test module."""
    with local_cluster() as c:
        yield c


@pytest.fixture(scope="module")
def endpoint(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server for the test module (recording its requests), with the module's ``BUCKET`` made."""
    import s3fs

    with moto_server(recording=tmp_path_factory.mktemp("moto") / "recording.jsonl") as url:
        s3fs.S3FileSystem(**storage_options(url)).mkdir(request.module.BUCKET)
        yield url
