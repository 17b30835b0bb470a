"""The maps' GeoJSON (``api/map_data.py``): an answer cut from a small layer's kept feature
texts is byte for byte the answer the store's query gives (the general path), on both
backends, for boxes, property sets, limits and the GCJ-02 datum; an edit shows at once."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

import api.map_data as map_data
from api.app import create_app
from api.settings import Settings
from gis.errors import InputError
from layers.store import open_store
from layers.validate import validate_layer
from tests.conftest import copy_sample

#: (layer, properties the overview asks for or None for all)
QUERIES = [("parcels", "land_status,area_mu,max_far,name"), ("parcels", None), ("districts", "city,name"),
           ("renewal_areas", "county,kind,households,units,area_mu,status,plan_year,name"), ("services", "name")]


@pytest.fixture(params=("gpkg", "postgis"))
def sample(request, tmp_path):
    if request.param == "gpkg":
        return open_store(copy_sample(request.getfixturevalue("sample_store"), tmp_path))
    return request.getfixturevalue("postgis_sample")


def _boxes(store, layer: str, n: int, seed: int) -> list[str | None]:
    """``n`` boxes over the layer (some small, some holding all of it, one outside) and no box."""
    x0, y0, x1, y1 = store.read_cached(layer).total_bounds
    rng = np.random.default_rng(seed)
    out: list[str | None] = [None, f"{x1 + 1:.6f},{y1 + 1:.6f},{x1 + 2:.6f},{y1 + 2:.6f}"]
    for _ in range(n):
        w, h = rng.uniform(0.02, 1.2) * (x1 - x0), rng.uniform(0.02, 1.2) * (y1 - y0)
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        out.append(f"{cx - w / 2:.6f},{cy - h / 2:.6f},{cx + w / 2:.6f},{cy + h / 2:.6f}")
    return out


def _both_ways(store, layer, bbox, limit, datum, properties, monkeypatch) -> tuple[bytes, bytes]:
    timing: dict[str, float] = {}
    kept = map_data.layer_answer(store, layer, bbox, limit, datum, None, properties, timing)
    assert "cut" in timing  # from the kept texts
    with monkeypatch.context() as m:
        m.setattr(map_data, "FEATURE_TEXTS_MAX", 0)
        timing = {}
        queried = map_data.layer_answer(store, layer, bbox, limit, datum, None, properties, timing)
        assert "query" in timing  # through the store's query
    return kept, queried


@pytest.mark.parametrize(("layer", "properties"), QUERIES)
def test_an_answer_cut_from_kept_texts_is_the_query_answer(sample, layer, properties, monkeypatch):
    checked = 0
    for i, bbox in enumerate(_boxes(sample, layer, 6, seed=len(layer))):
        for limit, datum in ((5000, "cgcs2000"), (3, "cgcs2000"), (5000, "gcj02")):
            kept, queried = _both_ways(sample, layer, bbox, limit, datum, properties, monkeypatch)
            assert kept == queried, (layer, bbox, limit, datum)
            answer = json.loads(kept)
            assert answer["numberReturned"] == min(limit, answer["numberMatched"]) == len(answer["features"])
            checked += answer["numberReturned"]
            if i == 1:  # the box outside the layer
                assert answer["numberMatched"] == 0
    assert checked > 0


def test_the_kept_texts_answer_the_same_on_both_backends(sample_store, postgis_sample, tmp_path):
    gpkg = open_store(copy_sample(sample_store, tmp_path))
    for layer, properties in QUERIES[:1] + QUERIES[2:4]:
        for bbox in _boxes(gpkg, layer, 3, seed=7):
            a, b = (json.loads(map_data.layer_answer(s, layer, bbox, 5000, "cgcs2000", None, properties, {}))
                    for s in (gpkg, postgis_sample))
            assert a["numberMatched"] == b["numberMatched"]
            assert [f["id"] for f in a["features"]] == [f["id"] for f in b["features"]]
            assert [f["properties"] for f in a["features"]] == [f["properties"] for f in b["features"]]
            for fa, fb in zip(a["features"], b["features"], strict=True):
                assert shapely.geometry.shape(fa["geometry"]).equals_exact(shapely.geometry.shape(fb["geometry"]), 1e-6)


def test_a_box_holds_exactly_the_features_that_intersect_it(sample_store, tmp_path):
    """Against an independent count: every parcel whose polygon intersects the box (GEOS over the
    whole layer, no index)."""
    store = open_store(copy_sample(sample_store, tmp_path))
    parcels = store.read("parcels")
    for bbox in _boxes(store, "parcels", 5, seed=3)[2:]:
        box = shapely.box(*(float(v) for v in bbox.split(",")))
        want = sorted(parcels.loc[parcels.intersects(box), "id"])
        got = json.loads(map_data.layer_answer(store, "parcels", bbox, 5000, "cgcs2000", None, "name", {}))
        assert [f["id"] for f in got["features"]] == want


def test_an_edit_shows_in_the_next_answer_and_bad_input_is_a_400(sample_store, tmp_path):
    store = open_store(copy_sample(sample_store, tmp_path))
    client = TestClient(create_app(Settings(store=str(store.path), warm=False)))
    x0, y0, x1, y1 = store.read_cached("parcels").total_bounds
    url = f"/maps/data/parcels?properties=name&bbox={x0:.6f},{y0:.6f},{x1:.6f},{y1:.6f}"
    before = client.get(url).json()
    fid = before["features"][0]["id"]
    one = store.read("parcels")
    one = one[one["id"] == fid].drop(columns="id").assign(name="改过名的地块")
    store.update_feature("parcels", int(fid), validate_layer(gpd.GeoDataFrame(one, crs=4490), "parcels"),
                         who="test")
    after = client.get(url).json()
    assert after["features"][0]["properties"]["name"] == "改过名的地块"
    assert after["numberMatched"] == before["numberMatched"]
    assert "cut;dur=" in client.get(url.replace("bbox=", "limit=9&bbox=")).headers["server-timing"]
    r = client.get("/maps/data/parcels?properties=name,nope")
    assert r.status_code == 400 and "nope" in r.json()["detail"]
    r = client.get("/maps/data/parcels?bbox=113,35,112,36")
    assert r.status_code == 400 and "minx" in r.json()["detail"]
    with pytest.raises(InputError):
        map_data.layer_answer(store, "parcels", "a,b,c,d", 10, "cgcs2000", None, None, {})
