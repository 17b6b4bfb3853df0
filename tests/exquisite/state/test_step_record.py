"""Step records: exact JSON round trips, the format ladder, and clear errors for bad data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imkerutils.errors import InvalidRecordError, UnknownRecordFormatError
from imkerutils.exquisite.api.base import Usage
from imkerutils.exquisite.geometry.direction import Direction
from imkerutils.exquisite.prompt import get_template, prompt_sha256, render
from imkerutils.exquisite.state import record as record_module
from imkerutils.exquisite.state.record import (
    CURRENT_FORMAT,
    Attempt,
    StepFormat,
    StepRecord,
    TileRecord,
    check_step_id,
    detect_format,
    format_utc,
)
from imkerutils.tiling.window import Window

# --- strategies ----------------------------------------------------------------------------------------

coords = st.integers(-(2**30), 2**30)
sizes = st.integers(0, 2**20)
windows = st.builds(Window, coords, coords, sizes, sizes)
finite = st.floats(allow_nan=False, allow_infinity=False)
nonneg = st.floats(min_value=0, allow_nan=False, allow_infinity=False)
keys = st.text(max_size=12)
scores = st.dictionaries(keys, st.none() | finite, max_size=4)
seeds = st.integers(0, 2**63 - 1)
hexes = st.text("0123456789abcdef", min_size=64, max_size=64)
usages = st.none() | st.builds(Usage, st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9))
rel_paths = st.lists(
    st.text("abcXYZ019_-.", min_size=1, max_size=8).filter(lambda s: s not in {".", ".."}), min_size=1, max_size=3
).map("/".join)
artifacts = st.dictionaries(keys, rel_paths, max_size=4)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | finite | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=10,
)
params = st.dictionaries(keys, json_values, max_size=4)
step_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)).map(
    format_utc
)

tiles = st.builds(
    TileRecord,
    index=st.integers(0, 1000),
    tile_window=windows,
    write_window=windows,
    seed=seeds,
    band_drift=st.none() | nonneg,
    seam_scores=scores,
    usage=usages,
    cost_usd=st.none() | nonneg,
    request_id=st.none() | st.text(max_size=20),
    artifacts=artifacts,
)
attempts = st.builds(Attempt, seed=seeds, scores=scores, reason=st.text(max_size=20))


@st.composite
def step_records(draw: st.DrawFn) -> StepRecord:
    name = draw(st.sampled_from(["extend", "other-template"]))
    version = draw(st.integers(1, 5))
    text = draw(st.text(max_size=100))
    tile_list = draw(st.lists(tiles, max_size=3, unique_by=lambda t: t.index))
    return StepRecord(
        step_id=draw(step_ids),
        direction=draw(st.sampled_from(list(Direction))),
        created_at=draw(moments),
        strip_window=draw(windows),
        bounds_before=draw(windows),
        bounds_after=draw(windows),
        band_sha256=draw(hexes),
        result_sha256=draw(hexes),
        prompt_text=text,
        user_prompt=draw(st.text(max_size=30)),
        template_name=name,
        template_version=version,
        prompt_sha256=prompt_sha256(name, version, text),
        generator_name=draw(st.sampled_from(["mock", "local", "openai"])),
        generator_version=draw(st.text(max_size=8)),
        generator_params=draw(params),
        seed=draw(seeds),
        seam_strategy=draw(st.sampled_from(["exact", "correction-field"])),
        seam_params=draw(params),
        tiles=tuple(tile_list),
        usage=draw(usages),
        cost_usd=draw(st.none() | nonneg),
        timings=draw(st.dictionaries(keys, nonneg, max_size=4)),
        qc=draw(scores),
        attempts=tuple(draw(st.lists(attempts, max_size=3))),
        artifacts=draw(artifacts),
    )


def example_record(**changes: Any) -> StepRecord:
    rendered = render(get_template(), "a red barn", "right")
    fields: dict[str, Any] = dict(
        step_id="000001-right",
        direction=Direction.RIGHT,
        created_at="2025-06-01T12:00:00.000000Z",
        strip_window=Window(0, 512, 1024, 1024),
        bounds_before=Window(0, 0, 1024, 1024),
        bounds_after=Window(0, 0, 1024, 1536),
        band_sha256="a" * 64,
        result_sha256="b" * 64,
        prompt_text=rendered.text,
        user_prompt=rendered.user_prompt,
        template_name=rendered.template_name,
        template_version=rendered.template_version,
        prompt_sha256=rendered.sha256,
        generator_name="mock",
        generator_version="1",
        generator_params={"size": 1024},
        seed=42,
        tiles=(
            TileRecord(
                index=0,
                tile_window=Window(0, 512, 1024, 1024),
                write_window=Window(0, 1024, 1024, 512),
                seed=42,
                band_drift=1.25,
                seam_scores={"seam_excess": 1.1},
                usage=Usage(10, 20, 30),
                cost_usd=0.04,
                request_id="req_1",
                artifacts={"raw": "_generated/steps/000001-right/tile-0-raw.png"},
            ),
        ),
        usage=Usage(10, 20, 30),
        cost_usd=0.04,
        timings={"generate": 1.5},
        qc={"seam_excess": 1.1, "detail_ratio": None},
        attempts=(Attempt(seed=41, scores={"seam_excess": 7.0}, reason="seam"),),
    )
    fields.update(changes)
    return StepRecord(**fields)


def through_json(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, allow_nan=False))


# --- round trips ---------------------------------------------------------------------------------------


@given(step_records())
def test_step_record_round_trips_exactly_through_json(record):
    data = through_json(record.to_dict())
    assert data["format"] == "imkerutils.step/1"
    loaded = StepRecord.from_dict(data)
    assert loaded == record
    assert loaded.to_dict() == data
    assert StepRecord.from_json(record.to_json()) == record


@given(tiles)
def test_tile_record_round_trips_exactly_through_json(tile):
    assert TileRecord.from_dict(through_json(tile.to_dict())) == tile


def test_saved_layout_of_an_example_record():
    data = example_record().to_dict()
    assert data["direction"] == "right"
    assert data["strip_window"] == {"row_off": 0, "col_off": 512, "height": 1024, "width": 1024}
    assert data["usage"] == {"input_text_tokens": 10, "input_image_tokens": 20, "output_tokens": 30}
    assert data["tiles"][0]["write_window"] == {"row_off": 0, "col_off": 1024, "height": 1024, "width": 512}
    assert data["attempts"] == [{"seed": 41, "scores": {"seam_excess": 7.0}, "reason": "seam"}]
    assert data["qc"] == {"seam_excess": 1.1, "detail_ratio": None}
    assert json.loads(example_record().to_json(indent=2)) == data


def test_to_dict_does_not_alias_the_record():
    record = example_record(generator_params={"nested": {"k": [1, 2]}})
    data = record.to_dict()
    data["generator_params"]["nested"]["k"].append(3)
    data["qc"]["x"] = 1.0
    assert record.generator_params == {"nested": {"k": [1, 2]}}
    assert "x" not in record.qc


def test_tuples_and_numpy_scalars_are_normalised_so_the_round_trip_stays_exact():
    record = example_record(
        generator_params={"size": (1024, 1024), "quality": np.float32(0.5), "n": np.int64(3)},
        qc={"seam_excess": np.float64(1.5)},
        tiles=[],
        attempts=[],
    )
    assert record.generator_params == {"size": [1024, 1024], "quality": 0.5, "n": 3}
    assert type(record.generator_params["n"]) is int
    assert record.tiles == ()
    assert record.attempts == ()
    assert StepRecord.from_dict(through_json(record.to_dict())) == record


def test_direction_may_be_given_as_a_string():
    assert example_record(direction="UP").direction is Direction.UP


def test_format_utc_and_created_at_accept_utc_only():
    stamp = format_utc(datetime(2025, 1, 2, 3, 4, 5, 678, tzinfo=timezone(timedelta(hours=-5))))
    assert stamp == "2025-01-02T08:04:05.000678Z"
    assert example_record(created_at=stamp).created_at == stamp
    assert example_record(created_at="2025-01-02T08:04:05+00:00").created_at == "2025-01-02T08:04:05+00:00"
    with pytest.raises(InvalidRecordError, match="created_at: must be in UTC"):
        example_record(created_at="2025-01-02T08:04:05")
    with pytest.raises(InvalidRecordError, match="created_at: must be in UTC"):
        example_record(created_at="2025-01-02T08:04:05+01:00")
    with pytest.raises(InvalidRecordError, match="created_at: must be an ISO-8601"):
        example_record(created_at="yesterday")
    with pytest.raises(InvalidRecordError, match="timezone-aware"):
        format_utc(datetime(2025, 1, 1))


# --- the format ladder ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["imkerutils.step/2", "imkerutils.step", None, 1])
def test_unknown_format_is_a_clear_error(fmt):
    data = example_record().to_dict() | {"format": fmt}
    with pytest.raises(UnknownRecordFormatError, match=r"format .* is not one this imkerutils can read"):
        StepRecord.from_dict(data)


def test_missing_format_is_an_unknown_format():
    data = example_record().to_dict()
    del data["format"]
    with pytest.raises(UnknownRecordFormatError, match=r"known: imkerutils\.step/1"):
        StepRecord.from_dict(data)


def test_non_object_data_is_refused():
    with pytest.raises(InvalidRecordError, match="must be a JSON object, got list"):
        StepRecord.from_dict([])  # type: ignore[arg-type]
    with pytest.raises(InvalidRecordError, match="not valid JSON"):
        StepRecord.from_json("{not json")


def test_ladder_asks_each_format_newest_first(monkeypatch):
    class FutureFormat(StepFormat):
        version: ClassVar[str] = "imkerutils.step/99"

        def decode(self, data):
            return CURRENT_FORMAT.decode(dict(data, format=CURRENT_FORMAT.version, seed=data["seed"] + 1))

    future = FutureFormat()
    monkeypatch.setattr(record_module, "FORMATS", (future, CURRENT_FORMAT))
    data = example_record().to_dict()
    assert detect_format(data) is CURRENT_FORMAT
    assert detect_format(data | {"format": "imkerutils.step/99"}) is future
    assert StepRecord.from_dict(data | {"format": "imkerutils.step/99"}).seed == 43


# --- malformed data ------------------------------------------------------------------------------------


def test_missing_and_unknown_fields_are_named():
    data = example_record().to_dict()
    del data["seed"]
    data["colour"] = "red"
    with pytest.raises(InvalidRecordError, match=r"missing field\(s\) \['seed'\], unknown field\(s\) \['colour'\]"):
        StepRecord.from_dict(data)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("strip_window",), {"row_off": 0}, "step: KeyError"),
        (("strip_window",), {"row_off": 0.5, "col_off": 0, "height": 1, "width": 1}, "must be an integer"),
        (("bounds_after",), [0, 0, 1, 1], "step: TypeError"),
        (("direction",), "north", "step.direction: direction must be one of"),
        (("seed",), -1, r"step.seed: must be in \[0, "),
        (("seed",), 2**63, r"step.seed: must be in \[0, "),
        (("seed",), True, "step.seed: must be an integer"),
        (("band_sha256",), "ABC", "step.band_sha256: must be 64 lowercase hex"),
        (("template_version",), 0, "step.template_version"),
        (("cost_usd",), -0.01, "step.cost_usd: must not be negative"),
        (("cost_usd",), "0.04", "step.cost_usd: must be a number"),
        (("timings", "generate"), -1.0, r"step.timings\['generate'\]: must not be negative"),
        (("qc", "seam_excess"), "high", r"step.qc\['seam_excess'\]: must be a number"),
        (("tiles",), {"0": {}}, "step.tiles: must be a JSON array"),
        (("tiles", 0, "index"), -1, "tile.index"),
        (("tiles", 0, "usage", "output_tokens"), -5, "usage.output_tokens"),
        (("tiles", 0, "usage", "extra_tokens"), 5, r"usage: missing field\(s\) \[\], unknown field"),
        (("tiles", 0, "band_drift"), -0.5, "tile.band_drift: must not be negative"),
        (("attempts", 0, "seed"), "41", "attempt.seed: must be an integer"),
        (("artifacts",), {"raw": "/etc/passwd"}, "must be a relative POSIX path"),
        (("artifacts",), {"raw": "../outside.png"}, "must be a relative POSIX path"),
        (("artifacts",), {"raw": "C:\\x.png"}, "must be a relative POSIX path"),
        (("generator_params",), {"f": {1, 2}}, r"step.generator_params\['f'\]: set is not JSON-serialisable"),
        (("step_id",), "../evil", "step id must be"),
        (("prompt_text",), "tampered", "step.prompt_sha256: does not match the prompt text"),
    ],
)
def test_malformed_fields_give_clear_errors(path, value, message):
    data = example_record().to_dict()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(InvalidRecordError, match=message):
        StepRecord.from_dict(data)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_numbers_are_refused_so_json_stays_strict(bad):
    with pytest.raises(InvalidRecordError, match=r"must be finite .*record an undefined value as None"):
        example_record(qc={"seam_excess": bad})
    with pytest.raises(InvalidRecordError, match="must be finite"):
        example_record(generator_params={"x": [bad]})
    with pytest.raises(InvalidRecordError, match="must be finite"):
        Attempt(seed=1, scores={"s": bad})


def test_duplicate_tile_indices_are_refused():
    tile = example_record().tiles[0]
    with pytest.raises(InvalidRecordError, match=r"tile indices must be unique, got \[0, 0\]"):
        example_record(tiles=(tile, tile))


def test_constructor_type_checks():
    with pytest.raises(InvalidRecordError, match=r"step\.strip_window: must be a Window"):
        example_record(strip_window=(0, 0, 1, 1))
    with pytest.raises(InvalidRecordError, match=r"step\.usage: must be a Usage"):
        example_record(usage={"output_tokens": 1})
    with pytest.raises(InvalidRecordError, match=r"step\.tiles: must be a sequence of TileRecord"):
        example_record(tiles=({"index": 0},))
    with pytest.raises(InvalidRecordError, match=r"step\.generator_params: must be a mapping with string keys"):
        example_record(generator_params={1: "x"})


@pytest.mark.parametrize(
    "step_id", ["", "a/b", "../x", ".hidden", "-x", "a b", pytest.param("x" * 129, id="129-chars"), 7]
)
def test_unsafe_step_ids_are_refused(step_id):
    with pytest.raises(InvalidRecordError, match="step id must be"):
        check_step_id(step_id)


def test_records_are_frozen():
    record = example_record()
    with pytest.raises(AttributeError):
        record.seed = 1  # type: ignore[misc]
