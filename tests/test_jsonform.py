"""Every record whose persisted form is its fields survives JSON text unchanged (one rule: ``jsonform``)."""

from __future__ import annotations

import json

import pytest

from imkerutils.exquisite.api.base import Usage
from imkerutils.exquisite.geometry.fill import FillPlan, FillTile
from imkerutils.exquisite.pipeline.staging import PROPOSAL_FORMAT, Proposal
from imkerutils.exquisite.state.record import Attempt, TileRecord
from imkerutils.jsonform import fields_form, json_form
from imkerutils.tiling.frame import Frame
from imkerutils.tiling.journal import JOURNAL_FORMAT, JournalState, StepMeta
from imkerutils.tiling.window import Window

W = Window(-5, 3, 10, 20)
TILE = FillTile(
    key=(1, 2),
    ring=1,
    phase=0,
    cell=Window(0, 0, 4, 4),
    tile_window=Window(0, 0, 8, 8),
    write_windows=(Window(0, 0, 1, 1),),
    keep_windows=(Window(1, 1, 1, 1), Window(2, 2, 1, 1)),
    depends_on=((0, 0), (0, 1)),
)
PLAN = FillPlan(region=W, bounds=W, new_bounds=Window(-5, 3, 10, 28), tiles=(TILE,), tile=8, cell=(4, 4))
RECORDS = [
    JournalState(1, 2, W, "t", {"step": 2, "id": "x"}, ("a", "b"), Frame(1024, (1, -2), 3), ("p",)),
    StepMeta(1, "i", "k", ("a", "b"), W, Window(0, 0, 2, 2), "c", {"x": [1, 2]}),
    TILE,
    PLAN,
    Proposal("p", "c", W, (W,), "t", "f", PLAN, ({"candidate": 0, "seed": 1, "record": {"a": 1}},)),
    TileRecord(
        index=1, tile_window=W, write_window=W, seed=3, band_drift=0.5, usage=Usage(1, 2, 3), artifacts={"r": "x"}
    ),
    TileRecord(index=1, tile_window=W, write_window=W, seed=3),
    Attempt(seed=1, scores={"a": 0.5, "b": None}, reason="r"),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_a_record_read_back_from_its_json_text_is_equal(record: object) -> None:
    form = record.to_dict()  # type: ignore[attr-defined]
    assert type(record).from_dict(json.loads(json.dumps(form))) == record  # type: ignore[attr-defined]


def test_the_form_holds_every_field_after_its_tag_and_shares_nothing_mutable() -> None:
    state, meta = RECORDS[0], RECORDS[1]
    assert list(state.to_dict()) == ["format", "head", "top", "bounds", "token", "pending", "steps", "frame", "retired"]
    assert state.to_dict()["format"] == JOURNAL_FORMAT
    assert RECORDS[4].to_dict()["format"] == PROPOSAL_FORMAT
    form = meta.to_dict()
    form["info"]["x"].append(3)
    assert meta.info == {"x": [1, 2]}
    assert json_form(((1, 2), [W])) == [[1, 2], [W.to_dict()]]
    assert fields_form(W) == W.to_dict()
