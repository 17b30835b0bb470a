import json
import zipfile

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from gis.errors import InputError, ValidationError
from layers.readers import read_layer_file
from layers.validate import validate_layer
from layers.writers import write_layer

NAMES = ["西大井片区", "陶圣源（陶三）文创园区", "中南路（南朱村）安置项目"]


@pytest.fixture
def areas():
    geoms = [shapely.box(113.17 + i * 0.01, 35.23, 113.176 + i * 0.01, 35.235) for i in range(3)]
    frame = gpd.GeoDataFrame({"name": NAMES, "county": ["中站区", "山阳区", "解放区"],
                              "kind": ["old_factory", "old_factory", "urban_village"],
                              "households": [3200, 0, 800], "floor_area_m2": [420000.0, 57900.0, 1.0]},
                             geometry=geoms, crs=4490)
    return validate_layer(frame, "renewal_areas").frame


@pytest.mark.parametrize("fmt, suffix", [("geojson", ".geojson"), ("gpkg", ".gpkg"), ("shp", ".zip"), ("csv", ".csv")])
def test_round_trip_per_format(tmp_path, areas, fmt, suffix):
    out = write_layer(areas, tmp_path / f"areas{suffix}", fmt=fmt, kind="renewal_areas")
    back = validate_layer(read_layer_file(out).frame, "renewal_areas").frame
    cols = ["name", "county", "kind", "households", "floor_area_m2", "area_mu", "geometry"]
    assert_geodataframe_equal(back[cols], areas[cols], check_less_precise=True, check_dtype=False,
                              normalize=True)


@pytest.mark.parametrize("fmt, suffix", [("geojson", ".geojson"), ("gpkg", ".gpkg"), ("shp", ".zip"), ("csv", ".csv")])
def test_export_in_gauss_kruger_for_a_land_bureau(tmp_path, areas, fmt, suffix):
    out = write_layer(areas, tmp_path / f"areas_gk{suffix}", fmt=fmt, crs=4547, kind="renewal_areas")
    raw = read_layer_file(out).frame
    if fmt != "csv":  # a CSV carries no CRS: the importer's --crs says what it is
        assert raw.crs.to_epsg() == 4547
    geoms = raw.geometry.values
    x, y = shapely.get_coordinates(geoms).mean(axis=0)
    assert 400000 < x < 500000 and 3_800_000 < y < 4_000_000  # metres on the CM 114°E plane
    assert shapely.area(geoms).sum() == pytest.approx(areas.area_m2.sum(), rel=1e-6)


def test_geojson_is_rfc7946(tmp_path, areas):
    clockwise = areas.copy()
    clockwise["geometry"] = shapely.orient_polygons(clockwise.geometry.values, exterior_cw=True)
    path = write_layer(clockwise, tmp_path / "a.geojson")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert "crs" not in doc
    geometry = doc["features"][0]["geometry"]
    ring = geometry["coordinates"][0] if geometry["type"] == "Polygon" else geometry["coordinates"][0][0]
    assert shapely.is_ccw(shapely.LinearRing(ring))  # exterior counter-clockwise
    lon, lat = ring[0]
    assert 113 < lon < 114 and 35 < lat < 36  # lon, lat order
    assert max(len(str(v).split(".")[1]) for v in (lon, lat)) <= 7
    assert doc["features"][0]["properties"]["name"] == NAMES[0]


def _gbk_shapefile(tmp_path, with_cpg: bool):
    frame = gpd.GeoDataFrame({"name": NAMES, "category": ["park"] * 3},
                             geometry=[shapely.Point(113.2, 35.2)] * 3, crs=4490)
    path = tmp_path / "gbk.shp"
    pyogrio.write_dataframe(frame, path, encoding="GBK")
    dbf = path.with_suffix(".dbf").read_bytes()
    assert NAMES[0].encode("gbk") in dbf  # really GBK bytes on disk
    if not with_cpg:
        path.with_suffix(".cpg").unlink()
    return path


@pytest.mark.parametrize("with_cpg", [True, False])
def test_gbk_shapefile_names_intact(tmp_path, with_cpg):
    raw = read_layer_file(_gbk_shapefile(tmp_path, with_cpg))
    assert raw.frame["name"].tolist() == NAMES
    assert raw.encoding == ("cpg" if with_cpg else "GB18030")


def test_zipped_gbk_shapefile_without_cpg(tmp_path):
    shp = _gbk_shapefile(tmp_path, with_cpg=False)
    zpath = tmp_path / "gbk.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for part in tmp_path.glob("gbk.*"):
            if part.suffix != ".zip":
                zf.write(part, f"folder/{part.name}")
    assert shp.exists()
    assert read_layer_file(zpath).frame["name"].tolist() == NAMES


def test_explicit_wrong_encoding_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="pass the right --encoding"):
        read_layer_file(_gbk_shapefile(tmp_path, with_cpg=False), encoding="UTF-8")


@pytest.mark.parametrize("encoding", ["UTF-8", "GBK"])
def test_shapefile_export_encodings(tmp_path, areas, encoding):
    out = write_layer(areas, tmp_path / "a.shp", fmt="shp", encoding=encoding, kind="renewal_areas")
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        assert {"a.shp", "a.shx", "a.dbf", "a.prj", "a.cpg"} <= names
        assert zf.read("a.cpg").decode().strip().upper() == encoding
        assert NAMES[0].encode(encoding.lower()) in zf.read("a.dbf")
    back = read_layer_file(out).frame
    assert back["name"].tolist() == NAMES
    assert "floor_m2" in back.columns  # 10-character dBASE name from the schema


def test_chinese_labels_in_csv_export(tmp_path, areas):
    out = write_layer(areas, tmp_path / "a.csv", kind="renewal_areas", labels="zh")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM, so Excel reads UTF-8
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert {"名称", "县市区", "改造类型", "面积(亩)"} <= set(table.columns)
    assert table["改造类型"].tolist() == ["老厂区", "老厂区", "城中村"]


def test_csv_points_with_chinese_headers_in_gbk(tmp_path):
    path = tmp_path / "poi.csv"
    path.write_bytes("名称,类别,经度,纬度\n幼儿园A,幼儿园,113.2,35.2\n公交站B,bus_stop,113.21,35.21\n".encode("gbk"))
    raw = read_layer_file(path)
    assert raw.encoding == "GB18030"
    v = validate_layer(raw.frame, "services")
    assert v.frame.name.tolist() == ["幼儿园A", "公交站B"]
    assert v.frame.category.tolist() == ["kindergarten", "bus_stop"]


def test_csv_bad_coordinates_name_the_row(tmp_path):
    path = tmp_path / "poi.csv"
    path.write_text("name,category,lon,lat\na,park,113.2,35.2\nb,park,east,35.2\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="row 2, field 'lon': not a number: 'east'"):
        read_layer_file(path)


@pytest.mark.parametrize("content, match", [(b"", "is empty"), (b"name,lon,lat\n", "no rows"),
                                            (b'{"type":"FeatureCollection","features":[]}', "no features|cannot be read")])
def test_empty_files(tmp_path, content, match):
    path = tmp_path / ("e.csv" if b"lon" in content or not content else "e.geojson")
    path.write_bytes(content)
    with pytest.raises((ValidationError, InputError), match=match):
        read_layer_file(path)


def test_unreadable_and_unsupported_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_layer_file(tmp_path / "missing.geojson")
    bad = tmp_path / "bad.geojson"
    bad.write_text("{ this is not json", encoding="utf-8")
    with pytest.raises(InputError, match="cannot be read"):
        read_layer_file(bad)
    doc = tmp_path / "notes.docx"
    doc.write_bytes(b"PK")
    with pytest.raises(InputError, match="unsupported format"):
        read_layer_file(doc)
