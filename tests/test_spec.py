"""Weight specs from YAML/JSON: every bad spec is a ValidationError naming each key path (never
a KeyError or a 500), good ones keep load_spec's semantics, raster sources stay in their
folders; and AHP's consistency ratio of a consistent matrix is exactly 0."""

import json
import math
import os
import re
from dataclasses import replace

import numpy as np
import pytest

from gis.errors import InputError, ValidationError
from gis.suitability.model import (
    SPEC_KEYS,
    CriterionSpec,
    SuitabilitySpec,
    default_spec,
    load_spec,
    spec_from_dict,
)
from gis.suitability.transforms import Transform
from gis.suitability.weights import ahp_weights

NEAR = {"kind": "near", "midpoint": 800, "spread": 150}


def field(key: str) -> str:
    """The pattern of a problem at ``key`` in a ValidationError's message."""
    return re.escape(f"field '{key}'")


# --- AHP consistency ---------------------------------------------------------------------

@pytest.mark.parametrize("n", range(3, 11))
@pytest.mark.parametrize("seed", range(5))
def test_consistent_matrix_has_cr_exactly_zero(n, seed):
    w = np.random.default_rng(seed * 100 + n).uniform(0.05, 1.0, n)
    r = ahp_weights(w[:, None] / w[None, :])
    assert r.ci == 0.0 and r.cr == 0.0 and r.consistent and r.worst_pair is None
    assert r.weights == pytest.approx(w / w.sum())
    assert not str(r.to_dict()["cr"]).startswith("-")


def test_cr_is_never_negative():
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(3, 11))
        a = np.exp(np.triu(rng.uniform(-np.log(9), np.log(9), (n, n)), 1))
        a = np.triu(a, 1) + np.tril(1 / a.T, -1) + np.eye(n)
        r = ahp_weights(a, allow_inconsistent=True)
        assert r.ci >= 0 and r.cr >= 0


# --- bad specs ---------------------------------------------------------------------------

BAD = [
    ({"colour": "red"}, "colour"),
    ({"criteria": "x"}, "criteria"),
    ({"criteria": [1, 2]}, "criteria"),
    ({"criteria": {"school": {"source": "service:school", "transform": NEAR}}}, "criteria.school.source"),
    ({"criteria": {"park": {"source": "ftp://x", "transform": NEAR}}}, "criteria.park.source"),
    ({"criteria": {"park": {"source": 5, "transform": NEAR}}}, "criteria.park.source"),
    ({"criteria": {"park": {"transform": NEAR}}}, "criteria.park.source"),
    ({"criteria": {"park": 10}}, "criteria.park"),
    ({"criteria": {"park": {"source": "service:park"}}}, "criteria.park.transform"),
    ({"criteria": {"park": {"source": "service:park", "transform": "near"}}}, "criteria.park.transform"),
    ({"criteria": {"park": {"source": "service:park", "transform": None}}}, "criteria.park.transform"),
    ({"criteria": {"park": {"source": "service:park", "transform": {"midpoint": 1}}}},
     "criteria.park.transform.kind"),
    ({"criteria": {"school": {"source": "service:primary_school", "transform": {"kind": "closest"}}}},
     "criteria.school.transform.kind"),
    ({"criteria": {"park": {"source": "service:park", "transform": {"kind": ["near"]}}}},
     "criteria.park.transform.kind"),
    ({"criteria": {"park": {"source": "service:park", "transform": {**NEAR, "width": 3}}}},
     "criteria.park.transform.width"),
    ({"criteria": {"park": {"source": "service:park", "transform": {"kind": "near", "midpoint": 500}}}},
     "criteria.park.transform.spread"),
    ({"criteria": {"park": {"source": "service:park", "transform": {**NEAR, "midpoint": "500"}}}},
     "criteria.park.transform.midpoint"),
    ({"criteria": {"park": {"source": "service:park", "transform": {**NEAR, "spread": 0}}}},
     "criteria.park.transform.spread"),
    ({"criteria": {"origin": {"transform": {"kind": "linear", "low": 9, "high": 1}}}},
     "criteria.origin.transform.high"),
    ({"criteria": {"origin": {"transform": {"kind": "linear", "low": 0, "high": 1, "increasing": "no"}}}},
     "criteria.origin.transform.increasing"),
    ({"criteria": {"slope": {"transform": {"kind": "classes", "breaks": [8, 3], "values": [1, 0.5, 0]}}}},
     "criteria.slope.transform.breaks"),
    ({"criteria": {"slope": {"transform": {"kind": "classes", "breaks": [3], "values": [1, 0.5, 0]}}}},
     "criteria.slope.transform.values"),
    ({"criteria": {"slope": {"transform": {"kind": "classes", "breaks": [3], "values": [1, 5]}}}},
     "criteria.slope.transform.values"),
    ({"criteria": {"slope": {"transform": {"kind": "classes", "breaks": "3,8", "values": [1, 0.5, 0]}}}},
     "criteria.slope.transform.breaks"),
    ({"criteria": {"slope": {"transform": {"kind": "ms_small", "std": 0}}}}, "criteria.slope.transform.std"),
    ({"criteria": {"slope": {"transform": {"kind": "gaussian", "ideal": 2, "width": math.inf}}}},
     "criteria.slope.transform.width"),
    ({"criteria": {"market": {"weight": "10"}}}, "criteria.market.weight"),
    ({"criteria": {"market": {"weight": True}}}, "criteria.market.weight"),
    ({"criteria": {"market": {"weight": None}}}, "criteria.market.weight"),
    ({"criteria": {"market": {"weight": math.nan}}}, "criteria.market.weight"),
    ({"criteria": {"market": {"weight": math.inf}}}, "criteria.market.weight"),
    ({"criteria": {"market": {"weight": -5}}}, "criteria.market.weight"),
    ({"criteria": {"market": "10"}}, "criteria.market"),
    ({"criteria": {"market": {"weight": 5, "colour": "red"}}}, "criteria.market.colour"),
    ({"criteria": {"market": {"label_zh": 3}}}, "criteria.market.label_zh"),
    ({"criteria": {"../../x": {"source": "slope", "transform": NEAR}}}, "criteria.../../x"),
    ({"criteria": {"surface": {"source": "slope", "transform": NEAR}}}, "criteria.surface"),
    ({"criteria": dict.fromkeys([c.name for c in default_spec().criteria], 0)}, "criteria"),
    ({"ahp": [[1, 2], [0.5, 1]]}, "ahp"),
    ({"ahp": {"names": ["origin", "market"]}}, "ahp.matrix"),
    ({"ahp": {"matrix": [[1, 2], [0.5, 1]]}}, "ahp.names"),
    ({"ahp": {"names": ["origin", "gym"], "matrix": [[1, 2], [0.5, 1]]}}, "ahp.names"),
    ({"ahp": {"names": ["origin", "market"], "matrix": [[1, 2], [0.5]]}}, "ahp.matrix"),
    ({"ahp": {"names": ["origin", "market"], "matrix": [[1, "2"], [0.5, 1]]}}, "ahp.matrix"),
    ({"ahp": {"names": ["origin", "market"], "matrix": [[1, 2], [2, 1]]}}, "ahp.matrix"),
    ({"ahp": {"names": ["origin", "market", "slope"], "matrix": [[1, 2], [0.5, 1]]}}, "ahp.matrix"),
    ({"ahp": {"names": ["origin", "market"], "matrix": [[1, 2], [0.5, 1]], "allow_inconsistent": "yes"}},
     "ahp.allow_inconsistent"),
    ({"ahp": {"names": ["origin", "market"], "matrix": [[1, 2], [0.5, 1]], "weights": 1}}, "ahp.weights"),
    ({"method": "best"}, "method"),
    ({"method": ["weighted_sum"]}, "method"),
    ({"resolution": 0}, "resolution"),
    ({"resolution": 5000}, "resolution"),
    ({"resolution": "10"}, "resolution"),
    ({"max_distance_m": -1}, "max_distance_m"),
    ({"max_distance_m": 1e9}, "max_distance_m"),
    ({"max_distance_m": math.nan}, "max_distance_m"),
    ({"penalty": 1.5}, "penalty"),
    ({"penalty": True}, "penalty"),
]


@pytest.mark.parametrize(("data", "key"), BAD, ids=[f"{k}-{i}" for i, (_, k) in enumerate(BAD)])
def test_bad_spec_names_the_key(data, key):
    with pytest.raises(ValidationError, match=field(key)) as info:
        spec_from_dict(data)
    assert [p.field for p in info.value.problems] == [key]  # and only that one
    assert isinstance(info.value, ValueError)


def test_bad_spec_survives_json_and_a_file(tmp_path):
    """The same table, as the API receives it (JSON with NaN/Infinity literals) and as a file."""
    for i, (data, key) in enumerate(BAD):
        decoded = json.loads(json.dumps(data))
        with pytest.raises(ValidationError, match=field(key)):
            spec_from_dict(decoded)
        path = tmp_path / f"w{i}.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        with pytest.raises(ValidationError, match=rf"^w{i}\.json: weights spec: 1 problem"):
            load_spec(path)


@pytest.mark.parametrize("data", [None, "criteria: {}", 3, [{"criteria": {}}]])
def test_top_level_must_be_a_mapping(data):
    with pytest.raises(ValidationError, match="expected a mapping with keys " + ", ".join(SPEC_KEYS)):
        spec_from_dict(data)


def test_every_problem_is_listed_at_once():
    data = {"method": "best",
            "criteria": {"park": {"source": "service:parks", "transform": {"kind": "near", "midpoint": 1}}}}
    with pytest.raises(ValidationError, match="weights spec: 3 problems") as info:
        spec_from_dict(data)
    assert [p.field for p in info.value.problems] == [
        "method", "criteria.park.source", "criteria.park.transform.spread"]
    message = str(info.value)
    assert "weighted_sum, weighted_product, minimum" in message
    assert "kindergarten, nursery" in message and "'parks'" in message  # lists the 16 categories


def test_unknown_keys_and_kinds_list_the_known_ones():
    with pytest.raises(ValidationError) as info:
        spec_from_dict({"weigths": {}, "criteria": {"x": {"source": "river", "transform": {"kind": "sigmoid"}}}})
    message = str(info.value)
    assert "unknown key; use method, resolution, max_distance_m, penalty, criteria, ahp" in message
    assert "service:<category>, origin, main_roads, slope or raster:<path>" in message
    assert "linear, ms_small, ms_large, gaussian, near, far, classes" in message


def test_a_problem_in_every_criterion():
    data = {"criteria": {name: {"weight": -1} for name in ("origin", "hospital", "slope")}}
    with pytest.raises(ValidationError, match="3 problems") as info:
        spec_from_dict(data)
    assert {p.field for p in info.value.problems} == {
        "criteria.origin.weight", "criteria.hospital.weight", "criteria.slope.weight"}


# --- good specs --------------------------------------------------------------------------

def test_empty_spec_is_the_default():
    assert spec_from_dict({}) == default_spec()
    assert spec_from_dict({"criteria": None}) == default_spec()


def test_default_overrides():
    spec = spec_from_dict({"method": "minimum", "resolution": 20, "max_distance_m": 2000, "penalty": 0,
                           "criteria": {"market": 0, "hospital": {"weight": 30, "label_zh": "医院"},
                                        "bus_stop": 5,
                                        "slope": {"transform": {"kind": "linear", "low": 0, "high": 25,
                                                                "increasing": False}}}})
    by_name = {c.name: c for c in spec.criteria}
    assert (spec.method, spec.resolution, spec.max_distance_m, spec.penalty) == ("minimum", 20.0, 2000.0, 0.0)
    assert "market" not in by_name
    assert by_name["hospital"] == CriterionSpec("hospital", "service:hospital", Transform(
        "near", {"midpoint": 1500, "spread": 300}), 30.0, "医院")
    assert by_name["bus_stop"].weight == 5.0
    assert by_name["slope"].transform == Transform("linear", {"low": 0, "high": 25, "increasing": False})
    assert by_name["origin"].transform.params["high"] == 2000.0  # the default at this max distance


def test_new_criterion_with_source_and_transform():
    spec = spec_from_dict({"criteria": {"park": {"source": "service:park", "weight": 12, "transform": NEAR}},
                           "resolution": 5})
    park = spec.criteria[-1]
    assert park == CriterionSpec("park", "service:park", Transform("near", {"midpoint": 800, "spread": 150}),
                                 12.0, "park")
    assert len(spec.criteria) == len(default_spec().criteria) + 1 and spec.resolution == 5.0
    no_weight = spec_from_dict({"criteria": {"roads": {"source": "main_roads", "transform": {"kind": "far",
                                                                                             "midpoint": 50, "spread": 10}}}})
    assert no_weight.criteria[-1].weight == 1.0


def test_ahp_block_sets_the_weights_it_names():
    third = 1 / 3
    spec = spec_from_dict({"ahp": {"names": ["origin", "bus_stop", "park"],
                                   "matrix": [[1, 3, 9], [third, 1, 3], [1 / 9, third, 1]]},
                           "criteria": {"park": {"source": "service:park", "transform": NEAR}, "market": 0}})
    w = {c.name: c.weight for c in spec.criteria}
    assert w["origin"] == pytest.approx(9 / 13) and w["bus_stop"] == pytest.approx(3 / 13)
    assert w["park"] == pytest.approx(1 / 13) and "market" not in w and w["hospital"] == 15


def test_inconsistent_ahp_needs_allowing():
    matrix = [[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]]
    with pytest.raises(ValidationError, match=field("ahp.matrix") + ".*inconsistent"):
        spec_from_dict({"ahp": {"names": ["origin", "hospital", "slope"], "matrix": matrix}})
    spec = spec_from_dict({"ahp": {"names": ["origin", "hospital", "slope"], "matrix": matrix,
                                   "allow_inconsistent": True}})
    assert sum(c.weight for c in spec.criteria if c.name in ("origin", "hospital", "slope")) == pytest.approx(1)


def test_base_spec_is_kept():
    base = SuitabilitySpec((CriterionSpec("slope", "slope", Transform("near", {"midpoint": 5, "spread": 1}), 1),),
                           resolution=30)
    spec = spec_from_dict({"criteria": {"slope": 2}}, base=base)
    assert spec.resolution == 30 and spec.criteria == (replace(base.criteria[0], weight=2.0),)


def test_load_spec_reads_yaml_and_json(tmp_path):
    yml = tmp_path / "w.yaml"
    yml.write_text("method: weighted_product\ncriteria:\n  market: 0\n  park:\n    source: service:park\n"
                   "    transform: {kind: near, midpoint: 800, spread: 150}\n", encoding="utf-8")
    js = tmp_path / "w.json"
    js.write_text(json.dumps({"method": "weighted_product", "criteria": {"market": 0, "park": {
        "source": "service:park", "transform": NEAR}}}), encoding="utf-8")
    assert load_spec(yml) == load_spec(js) == spec_from_dict(json.loads(js.read_text(encoding="utf-8")))
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    assert load_spec(empty) == default_spec()
    broken = tmp_path / "broken.yaml"
    broken.write_text("criteria: [", encoding="utf-8")
    with pytest.raises(InputError, match="broken.yaml is not valid YAML/JSON"):
        load_spec(broken)
    with pytest.raises(InputError, match="no such weights file"):
        load_spec(tmp_path / "missing.yaml")


# --- raster sources ----------------------------------------------------------------------

def raster_spec(path) -> dict:
    return {"criteria": {"flood": {"source": f"raster:{path}", "weight": 10,
                                   "transform": {"kind": "linear", "low": 0, "high": 2, "increasing": False}}}}


@pytest.fixture
def rasters(tmp_path):
    folder = tmp_path / "rasters"
    folder.mkdir()
    (folder / "depth.tif").write_bytes(b"not opened")
    return folder


def test_raster_sources_are_refused_without_folders():
    for path in ("/etc/passwd", "depth.tif"):
        with pytest.raises(ValidationError, match=field("criteria.flood.source") +
                           ": raster sources are not allowed here; use a layer of the store"):
            spec_from_dict(raster_spec(path), raster_dirs=[])


@pytest.mark.parametrize("path", ["/etc/passwd", "{allowed}/../../etc/passwd", "{allowed}/../outside.tif",
                                  "{allowed}", "{allowed}-evil/x.tif", "{allowed}/link.tif", "bad\0.tif"])
def test_raster_outside_the_allowed_folders_is_refused(rasters, path):
    (rasters / "link.tif").symlink_to("/etc/passwd")
    with pytest.raises(ValidationError, match=field("criteria.flood.source") +
                       ": raster sources must be inside one of the allowed folders"):
        spec_from_dict(raster_spec(path.format(allowed=rasters)), raster_dirs=[rasters])


def test_raster_inside_the_allowed_folder_passes(rasters, tmp_path):
    spec = spec_from_dict(raster_spec(f"{rasters}/sub/../depth.tif"), raster_dirs=[tmp_path / "other", rasters])
    assert spec.criteria[-1].source == f"raster:{os.path.realpath(rasters / 'depth.tif')}"
    # The folder itself may be reached through a symlink: what counts is where the file is.
    (tmp_path / "alias").symlink_to(rasters)
    spec = spec_from_dict(raster_spec(tmp_path / "alias" / "depth.tif"), raster_dirs=[str(rasters)])
    assert spec.criteria[-1].source == f"raster:{os.path.realpath(rasters / 'depth.tif')}"


def test_any_raster_is_allowed_when_folders_are_not_restricted():
    spec = spec_from_dict(raster_spec("/etc/passwd"))  # the CLI: the user owns the machine
    assert spec.criteria[-1].source == "raster:/etc/passwd"
    with pytest.raises(ValidationError, match="needs the path of a raster file"):
        spec_from_dict(raster_spec(""))
