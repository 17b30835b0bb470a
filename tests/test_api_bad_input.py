"""Bad input over HTTP: one table of requests that once answered 500, each now a 4xx
problem+json saying what to fix, the store unchanged and no server path in the answer."""

import json

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.conftest import copy_sample, sha256

TOKEN = {"Authorization": "Bearer s3cret"}
SQUARE = [[[113.30, 35.20], [113.301, 35.20], [113.301, 35.201], [113.30, 35.201], [113.30, 35.20]]]


def _area(geometry=None, **props) -> dict:
    return {"type": "Feature", "geometry": geometry or {"type": "Polygon", "coordinates": SQUARE},
            "properties": {"name": "新片区", "county": "解放区", "kind": "shantytown", **props}}


def _service(coords, **props) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": coords},
            "properties": {"name": "幼儿园甲", "category": "kindergarten", **props}}


def _raw(text: str) -> dict:
    return {"content": text.encode("utf-8", "surrogatepass"), "headers": {"Content-Type": "application/json"}}


def _weights(weights) -> dict:
    return {"json": {"for": "西大井片区", "weights": weights}}


NESTED = "[" * 100_000 + "]" * 100_000
ITEMS = "/collections/{layer}/items"

#: (id, method, path, request keyword arguments, status, a fragment of the answer)
BAD_REQUESTS = [
    ("circle", "post", "services", {"json": _area({"type": "Circle", "coordinates": [113.3, 35.2]})}, 400,
     "not a GeoJSON geometry type"),
    ("empty-type", "post", "services", {"json": _area({"type": "", "coordinates": []})}, 400,
     "not a GeoJSON geometry type"),
    ("two-point-ring", "post", "renewal_areas",
     {"json": _area({"type": "Polygon", "coordinates": [[[113.3, 35.2], [113.31, 35.21]]]})}, 400,
     "at least 4 positions"),
    ("nan-coordinates", "post", "services", _raw('{"type":"Feature","geometry":{"type":"Point","coordinates":'
                                                 '[NaN,35.2]},"properties":{"name":"a","category":"park"}}'), 400,
     "not a finite number"),
    ("infinity-coordinates", "post", "services", _raw(
        '{"type":"Feature","geometry":{"type":"Point","coordinates":[Infinity,35.2]},'
        '"properties":{"name":"a","category":"park"}}'), 400, "not a finite number"),
    ("coordinate-400-digits", "post", "services", _raw('{"type":"Feature","geometry":{"type":"Point",'
                                                         '"coordinates":[1' + "0" * 400 + ',35.2]},'
                                                         '"properties":{"name":"a","category":"park"}}'), 400,
     "not a finite number"),
    ("households-1e308", "post", "renewal_areas", {"json": _area(households=1e308)}, 422, "households"),
    ("households-400-digits", "post", "renewal_areas", _raw(json.dumps(_area()).replace(
        '"kind": "shantytown"', '"kind": "shantytown", "households": 1' + "0" * 400)), 422, "households"),
    ("households-infinity", "post", "renewal_areas", _raw(json.dumps(_area()).replace(
        '"kind": "shantytown"', '"kind": "shantytown", "households": Infinity')), 400, "not a finite number"),
    ("lone-surrogate", "post", "services", _raw(json.dumps(_service([113.3, 35.2]), ensure_ascii=False).replace(
        "幼儿园甲", "\\ud800")), 400, "not valid Unicode"),
    ("nested-100k", "post", "services", _raw(NESTED), 400, "nests too deep"),
    ("nested-property", "post", "services", {"json": _service([113.3, 35.2], note={"a": [1, 2]})}, 400,
     "nested objects and lists are not stored"),
    ("items-to-dem", "post", "dem", {"json": _service([113.3, 35.2])}, 400, "raster layer"),
    ("items-to-targets", "post", "targets", {"json": _service([113.3, 35.2])}, 400, "table layer"),
    ("shp-bogus-encoding", "get", "/exports/renewal_areas?format=shp&encoding=bogus", {}, 400, "bogus"),
    ("csv-ascii", "get", "/exports/renewal_areas?format=csv&encoding=ascii", {}, 400, "field 'name'"),
    ("txt-ascii", "get", "/exports/renewal_areas?format=txt&encoding=ascii", {}, 400, "ascii"),
    ("weights-criteria-string", "post", "/analysis/site-selection", _weights({"criteria": "x"}), 422, "criteria"),
    ("weights-unknown-source", "post", "/analysis/site-selection",
     _weights({"criteria": {"x": {"source": "moon", "weight": 1, "transform": {"kind": "linear", "low": 0,
                                                                                  "high": 1}}}}),
     422, "criteria.x.source"),
    ("weights-missing-transform", "post", "/analysis/site-selection",
     _weights({"criteria": {"x": {"source": "origin", "weight": 1}}}), 422, "criteria.x.transform"),
    ("weights-missing-ahp-matrix", "post", "/analysis/site-selection",
     _weights({"ahp": {"names": ["origin", "hospital"]}}), 422, "ahp.matrix"),
    ("weights-non-number", "post", "/analysis/site-selection",
     _weights({"criteria": {"hospital": {"weight": "heavy"}}}), 422, "criteria.hospital.weight"),
    ("weights-raster-etc-passwd", "post", "/analysis/site-selection",
     _weights({"criteria": {"x": {"source": "raster:/etc/passwd", "weight": 1,
                                  "transform": {"kind": "linear", "low": 0, "high": 1}}}}), 422,
     "raster sources are not allowed"),
    ("weights-grid-too-large", "post", "/analysis/site-selection",
     _weights({"resolution": 2, "max_distance_m": 5000}), 400, "this server allows"),
    ("ring-of-one-point", "post", "renewal_areas",
     {"json": _area({"type": "Polygon", "coordinates": [[[113.3, 35.2]] * 4]})}, 422, "cannot be repaired"),
    ("positions-2d-and-3d", "post", "roads", {"json": _area({"type": "LineString",
                                                           "coordinates": [[113.3, 35.2], [113.31, 35.2, 5]]})},
     400, "same number of values"),
    ("put-id-beyond-sqlite", "put", "/collections/services/items/99999999999999999999",
     {"json": _service([113.3, 35.2])}, 404, "no feature"),
    ("weights-width-underflows", "post", "/analysis/site-selection",
     _weights({"criteria": {"x": {"source": "origin", "weight": 1,
                                  "transform": {"kind": "gaussian", "ideal": 0, "width": 1e-200}}}}), 422,
     "criteria.x.transform"),
    ("login-over-limit", "post", "/login", {"content": b"token=" + b"x" * 1_200_000,
                                            "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
     413, "RENEWAL_JSON_LIMIT_MB"),
    ("bbox-minx-over-maxx", "get", "/collections/renewal_areas/items?bbox=113.3,35.2,113.1,35.3", {}, 400,
     "minx"),
    ("upload-dotdot", "post", "/imports", {"files": {"file": ("..", b"{}")}, "data": {"layer": "services"}}, 400,
     "not a file name"),
    ("upload-dot", "post", "/imports", {"files": {"file": (".", b"{}")}, "data": {"layer": "services"}}, 400,
     "not a file name"),
    ("upload-over-limit", "post", "/imports", {"files": {"file": ("big.geojson", b" " * 1_200_000)},
                                               "data": {"layer": "services"}}, 413, "1 MB (RENEWAL_UPLOAD_LIMIT_MB)"),
]


@pytest.fixture(scope="module")
def bad_store(sample_store, tmp_path_factory):
    return copy_sample(sample_store, tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="module")
def bad_client(bad_store):
    app = create_app(Settings(store=str(bad_store), edit_tokens="alice:s3cret", upload_limit_mb=1))
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("method, target, kwargs, status, fragment",
                         [case[1:] for case in BAD_REQUESTS], ids=[case[0] for case in BAD_REQUESTS])
def test_bad_input_is_a_4xx_problem_and_changes_nothing(bad_client, bad_store, method, target, kwargs, status,
                                                        fragment):
    before = sha256(bad_store)
    path = target if target.startswith("/") else ITEMS.format(layer=target)
    kwargs = dict(kwargs)
    r = bad_client.request(method.upper(), path, headers={**TOKEN, **kwargs.pop("headers", {})}, **kwargs)
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("application/problem+json")
    assert fragment in r.text, r.text[:500]
    assert str(bad_store.parent) not in r.text and "/tmp/" not in r.text
    assert sha256(bad_store) == before


def test_an_unexpected_error_is_a_500_naming_an_id_without_a_traceback(bad_store, monkeypatch, caplog):
    import api.routes.features as features

    def broken(*args, **kwargs):
        raise RuntimeError(f"boom at {bad_store}")

    monkeypatch.setattr(features, "query_features", broken)
    client = TestClient(create_app(Settings(store=str(bad_store))), raise_server_exceptions=False)
    r = client.get("/collections/services/items")
    body = r.json()
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/problem+json")
    assert body["error_id"] in body["detail"] and "Traceback" not in r.text and "boom" not in r.text
    assert body["error_id"] in caplog.text  # the operator finds it in the log


def test_the_caller_is_checked_before_the_body_is_read(bad_store):
    """An anonymous upload gets its 401 before a byte of the body is read: the body here is
    a generator that fails if it is ever consumed."""
    client = TestClient(create_app(Settings(store=str(bad_store), edit_tokens="alice:s3cret",
                                            read_tokens="bob:r3ad")), raise_server_exceptions=False)
    consumed = []

    def body():
        consumed.append(True)
        yield b"x" * 1000

    for path, headers in [("/imports", {}), ("/collections/services/items", {}),
                          ("/analysis/weights", {}), ("/imports", {"Authorization": "Bearer r3ad"})]:
        r = client.post(path, content=body(), headers={"Content-Type": "application/json", **headers})
        assert r.status_code in (401, 403), r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    assert not consumed


def test_bodies_are_limited_while_they_stream(bad_store):
    client = TestClient(create_app(Settings(store=str(bad_store), edit_tokens="alice:s3cret", upload_limit_mb=1,
                                            json_limit_mb=0.5)), raise_server_exceptions=False)
    sent = []

    def chunks(n):
        for _ in range(n):
            sent.append(1)
            yield b" " * 100_000

    r = client.post("/analysis/weights", content=chunks(50), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "0.5 MB (RENEWAL_JSON_LIMIT_MB)" in r.json()["detail"]
    r = client.post("/collections/services/items", content=chunks(50), headers={**TOKEN,
                                                                                "Content-Type": "application/json"})
    assert r.status_code == 413 and "1 MB (RENEWAL_UPLOAD_LIMIT_MB)" in r.json()["detail"]
    declared = client.post("/analysis/weights", content=b"{}", headers={"Content-Length": str(10**9)})
    assert declared.status_code == 413


def test_openapi_lists_the_statuses_and_the_item_bodies(bad_client):
    doc = bad_client.get("/api").json()
    post = doc["paths"]["/collections/{collection_id}/items"]["post"]
    put = doc["paths"]["/collections/{collection_id}/items/{feature_id}"]["put"]
    for op in (post, put):
        assert "application/geo+json" in op["requestBody"]["content"]
        assert {"400", "401", "403", "404", "409", "412", "413"} <= set(op["responses"])
    assert {"400", "401", "403", "404"} <= set(doc["paths"]["/collections/{collection_id}/items"]["get"]["responses"])


def test_tokens_are_compared_in_constant_time(monkeypatch):
    import hmac

    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    s = Settings(edit_tokens="alice:s3cret", read_tokens="bob:r3ad")
    assert s.user_for("r3ad", "read") == "bob" and s.user_for("s3cret", "read") == "alice"
    assert s.user_for("s3cret", "edit") == "alice" and s.user_for("r3ad", "edit") is None
    assert s.user_for("s3cre", "read") is None and s.user_for(None, "read") is None
    assert len(calls) >= 6
