"""Bad input never escapes as a bare ValueError/OverflowError/UnicodeError/LookupError.

Each case must end as an InputError (or its subclass ValidationError) whose message names
the row or feature, the field and what to fix.
"""

import json
import math
import re
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.errors import InputError, ValidationError
from layers.imports import import_file, import_frame
from layers.landuse_txt import write_landuse_txt
from layers.readers import read_layer_file
from layers.store import GeoPackageStore
from layers.validate import validate_layer
from layers.writers import write_layer
from tests.conftest import sha256

BOX = shapely.box(113.20, 35.20, 113.205, 35.204)


def _areas(**columns) -> gpd.GeoDataFrame:
    """Two renewal areas in EPSG:4490; ``columns`` overrides or adds columns (2 values each)."""
    data = {"name": ["甲片区", "乙片区"], "county": ["解放区"] * 2, "kind": ["shantytown"] * 2, **columns}
    return gpd.GeoDataFrame(data, geometry=[BOX, shapely.box(113.21, 35.20, 113.215, 35.204)], crs=4490)


def _with_geometry(geom, kind="renewal_areas") -> gpd.GeoDataFrame:
    """Row 1 valid, row 2 ``geom``."""
    if kind == "roads":
        good = shapely.LineString([(113.2, 35.2), (113.21, 35.2)])
        return gpd.GeoDataFrame({"name": ["甲路", "乙路"]}, geometry=[good, geom], crs=4490)
    return _areas().set_geometry([BOX, geom], crs=4490)


def _polygon(coords) -> shapely.Polygon:
    with np.errstate(invalid="ignore"):  # shapely warns about NaN while building the ring
        return shapely.Polygon(coords)


def _services(capacity) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["甲", "乙"], "category": ["park", "park"], "capacity": capacity},
                            geometry=[shapely.Point(113.2, 35.2)] * 2, crs=4490)


BAD_FRAMES = {
    # (a) NaN or Infinity coordinates: not the swapped-axes or "not degrees" message.
    "nan_x": (_with_geometry(_polygon([(113.2, 35.2), (math.nan, 35.2), (113.21, 35.21), (113.2, 35.2)])),
              "renewal_areas", "geometry", r"coordinate x=nan, y=35.2 is not a finite number"),
    "inf_y_point": (gpd.GeoDataFrame({"name": ["甲", "乙"], "category": ["park"] * 2},
                                     geometry=[shapely.Point(113.2, 35.2), shapely.Point(113.2, math.inf)], crs=4490),
                    "services", "geometry", r"coordinate x=113.2, y=inf is not a finite number"),
    "nan_projected": (gpd.GeoDataFrame({"name": ["甲", "乙"], "category": ["park"] * 2},
                                       geometry=[shapely.Point(430000, 3900000), shapely.Point(math.nan, 3900000)],
                                       crs=4547),
                      "services", "geometry", r"coordinate x=nan, y=3900000.0 is not a finite number"),
    # (b) rings and lines too short for GEOS.
    "three_point_ring": (_with_geometry(shapely.from_wkt("POLYGON ((113.2 35.2, 113.21 35.2, 113.2 35.2))")),
                         "renewal_areas", "geometry", r"invalid \(Too few points.*\) and cannot be repaired; a polygon ring needs at least 4 points"),
    "one_point_line": (_with_geometry(shapely.from_wkt("LINESTRING (113.2 35.2, 113.2 35.2)"), "roads"),
                       "roads", "geometry", r"invalid \(Too few points.*a line at least 2 distinct points"),
    # (c) numbers out of range, infinite or beyond int64.
    "households_1e308": (_areas(households=[100, 1e308]), "renewal_areas", "households",
                         r"1e\+308 is out of range \(0 … 1000000\)"),
    "households_inf": (_areas(households=[100, math.inf]), "renewal_areas", "households", r"inf is out of range"),
    "households_minus_inf_text": (_areas(households=["100", "-inf"]), "renewal_areas", "households",
                                  r"-inf is out of range"),
    "units_beyond_int64": (_areas(units=pd.Series([1, 10**30], dtype=object)), "renewal_areas", "units",
                           r"1e\+30 is out of range"),
    "nan_text_in_number": (_areas(households=["100", "NaN"]), "renewal_areas", "households",
                           r"not a number: 'NaN'"),
    "capacity_inf": (_services([1.0, -math.inf]), "services", "capacity", r"-inf is out of range"),
    "target_value_inf": (pd.DataFrame({"city": ["焦作"] * 2, "region": ["解放区"] * 2, "year": ["2025"] * 2,
                                       "metric": ["new_start_units"] * 2, "value": [1.0, math.inf]}),
                         "targets", "value", r"inf is not a finite number"),
    # (d) nested objects and lists are refused.
    "dict_in_text_field": (_areas(note=[None, {"a": 1}]), "renewal_areas", "note",
                           r"nested objects and lists are not stored; send a string, number or boolean"),
    "list_in_vocabulary_field": (_areas(kind=["shantytown", ["shantytown"]]), "renewal_areas", "kind",
                                 r"nested objects and lists are not stored"),
    "dict_in_number_field": (_areas(households=[1, {"n": 2}]), "renewal_areas", "households",
                             r"nested objects and lists are not stored"),
    "list_in_extra_column": (_areas(tags=[None, ["a"]]), "renewal_areas", "tags", r"nested objects and lists"),
    # (e) text that is not valid Unicode (json.loads accepts a lone surrogate).
    "lone_surrogate_name": (_areas(name=["甲片区", json.loads('"\\ud800片区"')]), "renewal_areas", "name",
                            r"not valid Unicode text \(lone surrogate U\+D800"),
    "lone_surrogate_extra": (_areas(note=["ok", "\udc80"]), "renewal_areas", "note", r"not valid Unicode text"),
}


@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_validate_layer_bad_input_is_a_row_and_field_problem(case):
    frame, kind, field, phrase = BAD_FRAMES[case]
    with pytest.raises(ValidationError, match=rf"row 2, field '{field}': {phrase}") as info:
        validate_layer(frame, kind)
    # Exactly the bad cell is reported: no second "empty value"/"not a number" for it.
    cells = [(p.row, p.field) for p in info.value.problems]
    assert cells.count((2, field)) == 1, info.value.problems
    assert all(p.row != 1 for p in info.value.problems), info.value.problems


def test_nan_coordinates_are_not_called_swapped_or_projected():
    frame = BAD_FRAMES["nan_x"][0]
    with pytest.raises(ValidationError) as info:
        validate_layer(frame, "renewal_areas")
    text = str(info.value)
    assert "swapped" not in text and "not degrees" not in text and "outside China" not in text


def test_problems_in_many_cells_are_listed_together():
    frame = _areas(households=[1e308, 5], note=[{"a": 1}, "ok"])
    frame["geometry"] = [_polygon([(113.2, 35.2), (math.inf, 35.2), (113.2, 35.21), (113.2, 35.2)]), BOX]
    with pytest.raises(ValidationError) as info:
        validate_layer(frame, "renewal_areas")
    assert {(p.row, p.field) for p in info.value.problems} == {(1, "geometry"), (1, "households"), (1, "note")}


def test_a_column_name_that_is_not_valid_unicode():
    frame = _areas(**{"\ud800x": [1, 2]})
    with pytest.raises(ValidationError, match=r"field '\\ud800x': the column name is not valid Unicode text"):
        validate_layer(frame, "renewal_areas")


def test_numbers_in_range_still_pass(areas_4490):
    out = validate_layer(areas_4490.assign(households=[0, 1_000_000, 5], units=["1,000", None, "7"]),
                         "renewal_areas").frame
    assert out.households.tolist() == [0, 1_000_000, 5]
    assert out.units.tolist()[0] == 1000 and pd.isna(out.units.tolist()[1])


# --- files --------------------------------------------------------------------------------

NAN_GEOJSON = ('{"type": "FeatureCollection", "features": ['
               '{"type": "Feature", "properties": {"name": "甲", "county": "解放区", "kind": "shantytown"}, '
               '"geometry": {"type": "Polygon", "coordinates": [[[113.2, 35.2], [113.21, 35.2], [113.21, 35.21], '
               '[113.2, 35.2]]]}}, '
               '{"type": "Feature", "properties": {"name": "乙", "county": "解放区", "kind": "shantytown"}, '
               '"geometry": {"type": "Polygon", "coordinates": [[[113.2, 35.2], [NaN, 35.2], [113.21, Infinity], '
               '[113.2, 35.2]]]}}]}')


def test_geojson_with_nan_leaves_a_fresh_store_absent(tmp_path):
    assert json.loads(NAN_GEOJSON)  # Python's json reads and writes NaN, so such files exist
    path = tmp_path / "nan.geojson"
    path.write_text(NAN_GEOJSON, encoding="utf-8")
    store = GeoPackageStore(tmp_path / "s.gpkg")
    with pytest.raises(ValidationError, match=r"row 2, field 'geometry': coordinate x=nan, y=35.2 is not a finite "):
        import_file(store, path, layer="renewal_areas")
    assert not (tmp_path / "s.gpkg").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.geojson"]


def test_geojson_with_nan_leaves_an_existing_store_byte_for_byte(tmp_path, areas_4490):
    store = GeoPackageStore(tmp_path / "s.gpkg")
    import_frame(store, areas_4490, layer="renewal_areas", source="test")
    before = sha256(store.path)
    path = tmp_path / "nan.geojson"
    path.write_text(NAN_GEOJSON, encoding="utf-8")
    with pytest.raises(ValidationError, match="not a finite number"):
        import_file(store, path, layer="renewal_areas", mode="append")
    assert sha256(store.path) == before


@pytest.mark.parametrize("geometry, reason", [
    ({"type": "Polygon", "coordinates": [[[113.2, 35.2], [113.21, 35.2]]]}, "closed linestring"),
    ({"type": "Polygon", "coordinates": [[[113.2, 35.2], [113.21, 35.2], [113.21, 35.21]]]}, "closed linestring"),
    ({"type": "LineString", "coordinates": [[113.2, 35.2]]}, "0 or >1 elements"),
])
def test_geojson_file_with_short_rings_names_the_row(tmp_path, geometry, reason):
    good = {"type": "Polygon", "coordinates": [[[113.2, 35.2], [113.21, 35.2], [113.21, 35.21], [113.2, 35.2]]]}
    if geometry["type"] == "LineString":
        good = {"type": "LineString", "coordinates": [[113.2, 35.2], [113.21, 35.2]]}
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": f"f{i}"}, "geometry": g} for i, g in enumerate([good, geometry])]}
    path = tmp_path / "short.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ValidationError, match=rf"row 2, field 'geometry': cannot be read \(.*{reason}"):
        read_layer_file(path)


@pytest.mark.parametrize("name", ["..", "."])
def test_reader_refuses_folders(tmp_path, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / name if name == ".." else Path(name)
    with pytest.raises(InputError, match=rf"^{re.escape(name)} is not a file \(a folder\); pass the .shp") as info:
        read_layer_file(path)
    assert str(tmp_path) not in str(info.value) and str(tmp_path.parent) not in str(info.value)


def test_reader_messages_name_the_file_not_its_folder(tmp_path):
    for path in (tmp_path / "garbage.geojson", tmp_path / "missing.gpkg"):
        if path.suffix == ".geojson":
            path.write_text("not json at all", encoding="utf-8")
        with pytest.raises(InputError) as info:
            read_layer_file(path)
        assert path.name in str(info.value) and str(tmp_path) not in str(info.value)


# --- exports ------------------------------------------------------------------------------

@pytest.fixture
def stored_areas():
    """Validated renewal areas with store ids; feature 3 (id 12) has a Chinese name."""
    frame = gpd.GeoDataFrame({"name": ["East", "West", "西大井片区"], "county": ["Jiefang"] * 3,
                              "kind": ["shantytown"] * 3},
                             geometry=[shapely.box(113.2 + i / 100, 35.2, 113.205 + i / 100, 35.204) for i in range(3)],
                             crs=4490)
    frame = validate_layer(frame, "renewal_areas").frame
    frame["id"] = [10, 11, 12]
    return frame


def _write(frame, tmp_path, fmt, encoding):
    if fmt == "txt":
        return write_landuse_txt(frame, tmp_path / "out" / "a.txt", encoding=encoding)
    return write_layer(frame, tmp_path / "out" / f"a.{fmt}", fmt=fmt, encoding=encoding, kind="renewal_areas")


EXPORT_CASES = [
    ("csv", "ascii", InputError,
     r"^feature 3 \(id 12\), field 'name': '西大井片区' cannot be written in ascii; use UTF-8 or GBK/GB18030\. "
     r"Nothing was written$"),
    ("shp", "ascii", InputError,
     r"^feature 3 \(id 12\), field 'name': '西大井片区' cannot be written in ascii; use UTF-8 or GBK/GB18030\. "
     r"Nothing was written$"),
    ("txt", "ascii", InputError, r"^the 报部格式 header is Chinese text .* ascii cannot hold; use GBK"),
    ("csv", "bogus", InputError, r"^unknown encoding 'bogus'; use UTF-8 or GBK$"),
    ("shp", "bogus", InputError, r"^unknown encoding 'bogus'; use UTF-8 or GBK$"),
    ("txt", "bogus", InputError, r"^unknown encoding 'bogus'; use UTF-8 or GBK$"),
    ("geojson", "bogus", InputError, r"^unknown encoding 'bogus'; use UTF-8 or GBK$"),
    ("gpkg", "base64", InputError, r"^unknown encoding 'base64'; use UTF-8 or GBK$"),
    ("shp", "utf-16", InputError, r"^a Shapefile cannot be written in 'utf-16'; use UTF-8 or GBK"),
]


@pytest.mark.parametrize("fmt, encoding, error, match", EXPORT_CASES)
def test_export_encoding_errors_write_nothing(tmp_path, stored_areas, fmt, encoding, error, match):
    with pytest.raises(error, match=match) as info:
        _write(stored_areas, tmp_path, fmt, encoding)
    assert not isinstance(info.value, ValidationError)  # a bad request (400), not bad features (422)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert not list(tmp_path.rglob("*.*"))


def test_txt_in_gbk_names_the_feature_whose_name_gbk_cannot_hold(tmp_path, stored_areas):
    frame = stored_areas.assign(name=["East", "𠮷祥片区", "West"])  # U+20BB7 is in GB18030, not GBK
    (tmp_path / "out").mkdir()
    with pytest.raises(InputError, match=r"^feature 2 \(id 11\), field 'name': '𠮷祥片区' cannot be written in "
                                         r"GBK; use UTF-8 or GBK/GB18030"):
        _write(frame, tmp_path, "txt", "GBK")
    assert not list((tmp_path / "out").iterdir())
    assert _write(frame, tmp_path, "txt", "GB18030").read_bytes().count("𠮷祥片区".encode("gb18030")) == 1


def test_chinese_labels_in_ascii_name_the_headers(tmp_path, stored_areas):
    frame = stored_areas.assign(name=["East", "West", "North"])[["name", "kind", "id", "geometry"]]
    with pytest.raises(InputError) as info:
        write_layer(frame, tmp_path / "a.csv", encoding="ascii", kind="renewal_areas", labels="zh")
    text = str(info.value)
    assert text.startswith("column header '名称' cannot be written in ascii; use UTF-8 or GBK/GB18030, "
                           "or English headers (labels='en')")
    assert "  - column header '改造类型' cannot be written in ascii" in text
    # The Chinese vocabulary labels (棚户区) are values that ascii cannot hold either.
    assert "  - feature 1 (id 10), field '改造类型': '棚户区' cannot be written in ascii" in text
    assert not list(tmp_path.iterdir())


def test_every_unwritable_value_is_listed(tmp_path, stored_areas):
    frame = stored_areas.assign(county=["解放区", "Jiefang", "山阳区"])
    with pytest.raises(InputError) as info:
        write_layer(frame, tmp_path / "a.csv", encoding="ascii")
    lines = str(info.value).splitlines()
    assert lines[0].endswith("Nothing was written; 3 problems in all:")
    assert [line.split(":")[0] for line in lines[1:]] == ["  - feature 3 (id 12), field 'name'",
                                                          "  - feature 1 (id 10), field 'county'",
                                                          "  - feature 3 (id 12), field 'county'"]


def test_encodings_that_hold_the_text_still_export(tmp_path, stored_areas):
    for encoding in ("GBK", "gb18030", "utf8"):
        out = write_layer(stored_areas, tmp_path / f"{encoding}.shp", fmt="shp", encoding=encoding,
                          kind="renewal_areas")
        with zipfile.ZipFile(out) as zf:
            assert "西大井片区".encode(encoding) in zf.read(f"{encoding}.dbf")
        assert read_layer_file(out).frame["name"].tolist()[2] == "西大井片区"
    csv = write_layer(stored_areas, tmp_path / "a.csv", encoding="gbk")
    assert pd.read_csv(csv, encoding="gbk")["name"].tolist()[2] == "西大井片区"


def test_lone_surrogate_in_a_stored_value_is_refused_even_in_utf8(tmp_path, stored_areas):
    frame = stored_areas.assign(name=["East", "\ud800", "West"])
    with pytest.raises(InputError, match=r"'\\ud800' is not valid Unicode text .*; correct the value"):
        write_layer(frame, tmp_path / "a.geojson")
    assert not list(tmp_path.iterdir())


def test_nan_in_numbers_is_not_an_encoding_problem(tmp_path, stored_areas):
    frame = stored_areas.assign(note=[np.nan, "备注", None])
    out = write_layer(frame, tmp_path / "a.csv", encoding="GBK")
    assert "备注" in out.read_bytes().decode("gbk")
