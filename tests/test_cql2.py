"""CQL2 text filters and queryables (OGC API – Features Part 3, #16): the same features on both
backends (pushed down to SQL in PostGIS, evaluated in memory on the GeoPackage), and each
answer checked against plain pandas/shapely on the whole layer."""

import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from gis.errors import InputError
from layers.cql2 import parse_cql2

POLY = "POLYGON((113.15 35.2, 113.2 35.2, 113.2 35.26, 113.15 35.26, 113.15 35.2))"
CASES = [  # (filter, the same rule in pandas over the whole layer `a`)
    ("status='started' AND households>500", lambda a: (a.status == "started") & (a.households > 500)),
    ("name LIKE '%改造片区0_'", lambda a: a.name.str.match(r"^.*改造片区0.$")),
    ("plan_year BETWEEN 2021 AND 2022", lambda a: a.plan_year.between(2021, 2022)),
    ("kind IN ('shantytown','old_factory')", lambda a: a.kind.isin(["shantytown", "old_factory"])),
    ("note IS NULL", lambda a: a.note.isna()),
    ("NOT status = 'planned'", lambda a: a.status != "planned"),
    # Missing built years are unknown, not "outside the range": SQL's three-valued logic.
    ("built_year NOT BETWEEN 1970 AND 1990", lambda a: a.built_year.notna() & ~a.built_year.between(1970, 1990)),
    ("investment IS NULL OR investment > 30000", lambda a: a.investment.isna() | (a.investment > 30000)),
    ("approximate = true", lambda a: a.approximate),
    (f"S_INTERSECTS(geometry, {POLY})", lambda a: a.intersects(shapely.from_wkt(POLY))),
    ("S_WITHIN(geometry, BBOX(113.1, 35.1, 113.3, 35.3))", lambda a: a.within(shapely.box(113.1, 35.1, 113.3, 35.3))),
    ("BBOX(geometry, 113.1, 35.1, 113.2, 35.3) AND units >= 400",
     lambda a: a.intersects(shapely.box(113.1, 35.1, 113.2, 35.3)) & (a.units >= 400)),
]


@pytest.fixture(params=["gpkg", "postgis"])
def store(request, sample_store):
    return sample_store if request.param == "gpkg" else request.getfixturevalue("postgis_sample")


@pytest.mark.parametrize(("text", "rule"), CASES, ids=[c[0][:40] for c in CASES])
def test_filters_match_pandas_on_both_backends(store, sample_store, text, rule):
    areas = sample_store.read("renewal_areas")
    expected = list(areas.id[rule(areas).fillna(False).to_numpy(dtype=bool)])
    page, matched = store.query("renewal_areas", cql=parse_cql2(text))
    assert list(page.id) == expected and matched == len(expected)
    assert 0 < matched < len(areas) or text.startswith("S_WITHIN")  # each case tells something apart


@pytest.mark.parametrize(("text", "fragment"), [
    ("status = = 'x'", "line 1, column 10"),
    ("nosuch = 1", "unknown property 'nosuch'"),
    ("households > 'many'", "households is a number property"),
    ("households LIKE '1%'", "LIKE needs a text property"),
    ("name LIKE 3", "quoted text pattern"),
    ("S_INTERSECTS(name, POINT(1 2))", "spatial predicate compares the geometry"),
])
def test_bad_filters_say_what_to_fix_on_both_backends(store, text, fragment):
    with pytest.raises(InputError, match=fragment):
        store.query("renewal_areas", cql=parse_cql2(text))


def test_filters_combine_with_bbox_paging_and_property_filters(store, sample_store):
    cql = parse_cql2("households > 300")
    page, matched = store.query("renewal_areas", cql=cql, filters={"county": "山阳区"}, limit=2, offset=1,
                                bbox=(112.0, 34.0, 114.5, 36.5))
    a = sample_store.read("renewal_areas")
    ids = list(a.id[(a.households > 300) & (a.county == "山阳区")])
    assert matched == len(ids) and list(page.id) == ids[1:3]


@pytest.fixture(scope="module")
def client(sample_store):
    return TestClient(create_app(Settings(store=str(sample_store.path))))


def test_items_take_a_filter_and_declare_part_3(client):
    conf = client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in conf
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text" in conf
    r = client.get("/collections/renewal_areas/items", params={"filter": "status='started' AND households>500",
                                                              "limit": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["numberMatched"] == 8 and body["numberReturned"] == 3
    assert all(f["properties"]["status"] == "started" and f["properties"]["households"] > 500 for f in body["features"])
    nxt = next(link["href"] for link in body["links"] if link["rel"] == "next")
    assert "filter=" in nxt  # the next page keeps the filter


@pytest.mark.parametrize(("params", "fragment"), [
    ({"filter": "status = = 'x'"}, "column 10"),
    ({"filter": "nosuch = 1"}, "queryables"),
    ({"filter": "status='x'", "filter-lang": "cql2-json"}, "filter-lang"),
    ({"filter": "status='x'", "filter-crs": "http://www.opengis.net/def/crs/EPSG/0/4547"}, "CRS84"),
])
def test_a_malformed_filter_is_a_400_naming_the_problem(client, params, fragment):
    r = client.get("/collections/renewal_areas/items", params=params)
    assert r.status_code == 400 and fragment in r.text


def test_queryables_list_every_property_with_its_type(client, sample_store):
    r = client.get("/collections/renewal_areas/queryables")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/schema+json")
    schema = r.json()
    props = schema["properties"]
    columns = [c for c in sample_store.read("renewal_areas").columns if c not in ("id", "geometry")]
    assert set(props) == {"id", "geometry", *columns}
    assert props["households"]["type"] == "number" and props["name"]["type"] == "string"
    assert props["approximate"]["type"] == "boolean" and props["status"]["title"] == "状态"
    assert "started" in props["status"]["enum"]
    assert schema["additionalProperties"] is False
    links = client.get("/collections/renewal_areas").json()["links"]
    assert any(link["rel"].endswith("/queryables") for link in links)
    assert client.get("/collections/nosuch/queryables").status_code == 404


def test_three_valued_logic_as_sql_has_it(store):
    # NOT (x > 1990) must not pick the areas whose built year is unknown.
    page, _ = store.query("renewal_areas", cql=parse_cql2("NOT built_year > 1990"))
    assert page.built_year.notna().all()
    every = store.read("renewal_areas")
    assert np.isnan(every.built_year.to_numpy(dtype=float)).any()  # the sample has unknown years
    assert isinstance(every, pd.DataFrame)
