"""Artifact keys: one per tile and role under the canvas's _generated/steps/<step id>/, never outside it."""

import pytest

from imkerutils.errors import ArtifactPathError, InvalidRecordError
from imkerutils.exquisite.state.artifacts import GENERATED_STEPS, TILE_ROLES, step_artifact_key, tile_artifact_name


def test_every_role_of_a_tile_has_its_own_key_under_the_step():
    keys = [step_artifact_key("20261125-right-ab12", 1, 7, role) for role in TILE_ROLES]
    assert keys == [f"{GENERATED_STEPS}/20261125-right-ab12/edge-1-tile-7-{role}.png" for role in TILE_ROLES]
    assert len(set(keys)) == len(TILE_ROLES)


@pytest.mark.parametrize("step_id", ["../escape", "a/b", ""])
def test_unsafe_step_ids_never_become_keys(step_id):
    with pytest.raises(InvalidRecordError, match="step id must be"):
        step_artifact_key(step_id, 0, 0, "raw")


@pytest.mark.parametrize(("index", "role"), [(-1, "raw"), (True, "raw"), (1.0, "raw"), (0, "thumbnail")])
def test_bad_tile_index_or_role_is_refused(index, role):
    with pytest.raises(ArtifactPathError):
        tile_artifact_name(index, role)


@pytest.mark.parametrize("edge", [-1, True, 0.5])
def test_bad_edge_is_refused(edge):
    with pytest.raises(ArtifactPathError, match="edge"):
        step_artifact_key("s1", edge, 0, "raw")
