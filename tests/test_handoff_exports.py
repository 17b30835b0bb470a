"""Hand-off formats (issue #15): DXF for CAD offices, KML/KMZ for field survey apps.

Each file is read back by GDAL, through pyogrio (GDAL 3.12) and the ``ogrinfo`` client
(the system's GDAL), and compared with our own transforms of the stored geometries.
"""

import io
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from gis.crs import parse_crs, transform_geometries, wgs84_to_gcj02
from gis.errors import InputError
from layers.cad_kml import cad_layer_name
from layers.schemas import SCHEMAS
from layers.store import open_store
from layers.writers import write_layer
from renewal_cli.main import main
from tests.conftest import copy_sample

LAYERS = ["renewal_areas", "parcels", "services", "roads"]
WEST_BIG_WELL = "西大井片区"


@pytest.fixture(scope="module")
def store_path(sample_store, tmp_path_factory):
    return copy_sample(sample_store, tmp_path_factory.mktemp("handoff"))


@pytest.fixture(scope="module")
def stored(store_path):
    store = open_store(store_path)
    return {layer: store.read(layer) for layer in LAYERS}


@pytest.fixture(scope="module")
def client(store_path):
    return TestClient(create_app(Settings(store=str(store_path))))


@pytest.fixture
def closed_lines_as_polygons():
    """GDAL reads closed LWPOLYLINEs back as polygons (as QGIS users set it)."""
    before = pyogrio.get_gdal_config_option("DXF_CLOSED_LINE_AS_POLYGON")
    pyogrio.set_gdal_config_options({"DXF_CLOSED_LINE_AS_POLYGON": "TRUE"})
    yield
    pyogrio.set_gdal_config_options({"DXF_CLOSED_LINE_AS_POLYGON": before})


def export(store_path, layer, out, *args) -> None:
    assert main(["--store", str(store_path), "export", layer, "-o", str(out), *args]) == 0


def names_of(frame) -> list:
    return [n if isinstance(n, str) and n.strip() else None for n in frame["name"]]


def entries(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- DXF ----------------------------------------------------------------------------------


@pytest.mark.parametrize("crs", ["4547", "4526"])
@pytest.mark.parametrize("layer", LAYERS)
def test_dxf_reads_back_in_gauss_kruger_metres(store_path, stored, tmp_path, closed_lines_as_polygons, layer, crs):
    out = tmp_path / f"{layer}.dxf"
    export(store_path, layer, out, "--crs", crs)
    back = pyogrio.read_dataframe(out)
    frame = stored[layer]
    label = SCHEMAS[layer].label_zh
    assert set(back["Layer"]) == {label, label + "注记"}  # a CAD layer per kind, its names beside it

    # Geometries: our own GK transform of the stored geometries, every vertex to 1 cm.
    ours = parse_crs(crs).from_cgcs2000(frame.to_crs(4490).geometry.values)
    drawn = back[back["Layer"] == label].geometry.values
    expected_type = {"renewal_areas": "Polygon", "parcels": "Polygon", "services": "Point", "roads": "LineString"}
    assert set(shapely.get_type_id(drawn)) == {{"Point": 0, "LineString": 1, "Polygon": 3}[expected_type[layer]]}
    if expected_type[layer] == "Polygon":  # one closed polyline per ring of every part
        assert len(drawn) == sum(shapely.get_num_interior_rings(p) + 1 for g in ours for p in getattr(g, "geoms", [g]))
    else:
        assert len(drawn) == len(frame)
    np.testing.assert_allclose(shapely.get_coordinates(drawn), shapely.get_coordinates(ours), rtol=0, atol=0.01)
    x = shapely.get_coordinates(drawn)[:, 0]
    if crs == "4526":  # zone 38 in front of the easting: 38 xxx xxx.xxx
        assert ((x > 38_300_000) & (x < 38_700_000)).all()
    else:  # metres from a false easting of 500 km on CM 114°E
        assert ((x > 300_000) & (x < 700_000)).all()

    # Names as text on the 注记 layer, Chinese intact.
    texts = back[back["Layer"] == label + "注记"]
    assert texts["SubClasses"].str.contains("AcDbMText").all()
    named = [n for n in names_of(frame) if n]
    if layer == "roads":  # once per road name, along its longest segment
        assert sorted(texts["Text"]) == sorted(set(named))
    else:
        assert list(texts["Text"]) == named
    if layer == "renewal_areas":
        assert {WEST_BIG_WELL, "陶圣源（陶三）文创园区"} <= set(texts["Text"])
    if expected_type[layer] == "Polygon":  # each label point inside its own polygon
        polygons = [g for g, n in zip(ours, names_of(frame), strict=True) if n]
        assert shapely.contains(polygons, texts.geometry.values).all()
    elif layer == "services":  # beside its point
        assert (shapely.distance(ours, texts.geometry.values) < 5).all()


def test_dxf_is_code_page_936_with_cjk_layer_names_for_ogrinfo(store_path, stored, tmp_path):
    out = tmp_path / "areas.dxf"
    export(store_path, "renewal_areas", out, "--crs", "4526")
    raw = out.read_bytes()
    assert b"$ACADVER\n  1\nAC1018" in raw  # AutoCAD 2004 DXF
    assert b"$DWGCODEPAGE\n  3\nANSI_936" in raw
    assert "更新改造片区注记".encode("gbk") in raw
    raw.decode("gbk")  # the whole file is GBK; MTEXT carries \U+ escapes
    assert b"\\u+897f\\u+5927\\u+4e95" in raw.lower()  # 西大井

    assert shutil.which("ogrinfo"), "gdal-bin must be installed (make test installs it)"
    listing = subprocess.run(["ogrinfo", "-ro", "-al", "-q", str(out)], capture_output=True, text=True,
                             encoding="utf-8", check=True).stdout
    assert "Layer (String) = 更新改造片区\n" in listing
    assert "Layer (String) = 更新改造片区注记\n" in listing
    assert f"Text (String) = {WEST_BIG_WELL}\n" in listing
    first = next(line.strip() for line in listing.splitlines() if line.strip().startswith(("LINESTRING", "POLYGON")))
    ring = shapely.get_coordinates(shapely.from_wkt(first))
    ours = parse_crs(4526).from_cgcs2000(stored["renewal_areas"].to_crs(4490).geometry.values[:1])
    np.testing.assert_allclose(ring, shapely.get_coordinates(ours), rtol=0, atol=0.01)


def test_dxf_defaults_to_the_data_zone(store_path, tmp_path):
    export(store_path, "parcels", tmp_path / "default.dxf")
    export(store_path, "parcels", tmp_path / "gk.dxf", "--crs", "4547")  # Jiaozuo: zone 38, CM 114°E
    assert (tmp_path / "default.dxf").read_bytes() == (tmp_path / "gk.dxf").read_bytes()


@pytest.mark.parametrize("crs", ["cgcs2000", "wgs84", "4490", "gcj02", "bd09"])
def test_dxf_in_degrees_is_refused(store_path, tmp_path, capsys, crs):
    folder = tmp_path / "out"
    folder.mkdir()
    assert main(["--store", str(store_path), "export", "renewal_areas", "-o", str(folder / "a.dxf"), "--crs", crs]) == 2
    err = capsys.readouterr().err
    assert "DXF is drawn in metres" in err and "4547" in err and "4526" in err
    assert entries(folder) == []  # nothing written, no temporary file left


def test_dxf_labels_text_safely_and_inside_a_ring(tmp_path, closed_lines_as_polygons):
    """Names with MTEXT/OGR-style characters; a ring whose centroid is in its hole."""
    x, y = 430000.0, 3900000.0
    ring = shapely.box(x, y, x + 300, y + 300).difference(shapely.box(x + 20, y + 20, x + 280, y + 280))
    tricky = ['引号"路\\段', "花括号{片区}", "逗号,括号)(", "  "]
    frame = gpd.GeoDataFrame({"name": [WEST_BIG_WELL, *tricky]},
                             geometry=[ring, *(shapely.box(x + 400 * i, y + 400, x + 400 * i + 50, y + 450)
                                               for i in range(1, 5))], crs=4547).to_crs(4490)
    out = write_layer(frame, tmp_path / "a.dxf", crs=4547, kind="renewal_areas")
    back = pyogrio.read_dataframe(out)
    texts = back[back["Layer"] == "更新改造片区注记"]
    assert list(texts["Text"]) == [WEST_BIG_WELL, '引号"路\\段', "花括号｛片区｝", "逗号,括号)("]  # blank: no text
    drawn = back[back["Layer"] == "更新改造片区"].geometry.values
    assert len(drawn) == 6  # the ring's exterior and its hole, and the four boxes
    ours = parse_crs(4547).from_cgcs2000(frame.geometry.values)
    assert shapely.contains(ours[0], texts.geometry.values[0])  # in the ring, not in its hole


def test_cad_layer_names():
    assert cad_layer_name("parcels", "parcels_2024") == "候选地块"
    assert cad_layer_name(None, 'a<b>c/d\\e"f:g;h?i*j|k=l`m') == "a_b_c_d_e_f_g_h_i_j_k_l_m"
    assert cad_layer_name(None, "片区😀") == "片区_"  # not in code page 936


# --- KML / KMZ ----------------------------------------------------------------------------


@pytest.mark.parametrize("crs", [None, "gcj02"])
@pytest.mark.parametrize("layer", LAYERS)
def test_kml_reads_back_in_lon_lat(store_path, stored, tmp_path, layer, crs):
    out = tmp_path / f"{layer}.kml"
    export(store_path, layer, out, *(["--crs", crs] if crs else []))
    back = pyogrio.read_dataframe(out)
    frame = stored[layer]
    geoms = frame.to_crs(4490).geometry.values
    if crs == "gcj02":
        geoms = transform_geometries(geoms, wgs84_to_gcj02)
    np.testing.assert_allclose(shapely.get_coordinates(back.geometry.values), shapely.get_coordinates(geoms),
                               rtol=0, atol=1e-7)
    assert [n if isinstance(n, str) else None for n in back["Name"]] == names_of(frame)
    codes = {"renewal_areas": "kind", "parcels": "land_status", "services": "category", "roads": "road_class"}[layer]
    assert list(back[codes]) == list(frame[codes])  # the stored values, as ExtendedData
    assert "OGR_STYLE" not in back.columns and b"OGR_STYLE" not in out.read_bytes()
    root = ET.parse(out).getroot()
    assert root.find(".//{http://www.opengis.net/kml/2.2}Folder/{http://www.opengis.net/kml/2.2}name").text == \
        SCHEMAS[layer].label_zh


def test_kml_descriptions_carry_chinese_labels(store_path, tmp_path):
    export(store_path, "renewal_areas", tmp_path / "a.kml")
    areas = pyogrio.read_dataframe(tmp_path / "a.kml")
    lines = areas.loc[areas["Name"] == WEST_BIG_WELL, "description"].iloc[0].splitlines()
    assert {"县市区：中站区", "改造类型：老厂区", "户数：3200", "状态：已批复", "几何为示意：是", "面积(亩)：500"} <= set(lines)
    assert not any(line.startswith(("名称", "总投资(万元)：nan")) for line in lines)
    export(store_path, "services", tmp_path / "s.kml")
    services = pyogrio.read_dataframe(tmp_path / "s.kml")
    assert services["description"].str.startswith("设施类别：").all()
    assert "设施类别：幼儿园" in set(services["description"].str.split("\n").str[0])


def test_kmz_is_the_kml_zipped_and_ogrinfo_reads_it(store_path, tmp_path):
    export(store_path, "renewal_areas", tmp_path / "a.kml", "--crs", "gcj02")
    export(store_path, "renewal_areas", tmp_path / "a.kmz", "--crs", "gcj02")
    with zipfile.ZipFile(tmp_path / "a.kmz") as zf:
        assert zf.namelist() == ["doc.kml"]
        assert zf.read("doc.kml") == (tmp_path / "a.kml").read_bytes()
    listing = subprocess.run(["ogrinfo", "-ro", "-al", "-q", str(tmp_path / "a.kmz")], capture_output=True,
                             text=True, encoding="utf-8", check=True).stdout
    assert f"Name (String) = {WEST_BIG_WELL}\n" in listing and "县市区：中站区" in listing
    assert "Layer name: 更新改造片区" in listing


@pytest.mark.parametrize("fmt", ["kml", "kmz"])
@pytest.mark.parametrize("crs", ["4547", "4526", "bd09"])
def test_kml_in_metres_or_bd09_is_refused(store_path, tmp_path, capsys, fmt, crs):
    folder = tmp_path / "out"
    folder.mkdir()
    assert main(["--store", str(store_path), "export", "services", "-o", str(folder / f"a.{fmt}"),
                 "--crs", crs]) == 2
    err = capsys.readouterr().err
    assert "KML/KMZ holds longitude/latitude in WGS84" in err and "gcj02" in err
    assert entries(folder) == []


def test_unknown_formats_and_tables_are_refused(store_path, stored, tmp_path):
    frame = stored["renewal_areas"]
    with pytest.raises(InputError, match="cannot tell the format"):
        write_layer(frame, tmp_path / "a.dwg")
    with pytest.raises(InputError, match="unknown format 'dwg'.*dxf, kml, kmz"):
        write_layer(frame, tmp_path / "a.dxf", fmt="dwg")
    targets = open_store(store_path).read("targets")
    for fmt in ("dxf", "kml", "kmz"):
        with pytest.raises(InputError, match="needs geometries"):
            write_layer(targets, tmp_path / f"t.{fmt}", crs=4547 if fmt == "dxf" else None)
    assert entries(tmp_path) == []


# --- the API gives what the CLI gives -----------------------------------------------------


@pytest.mark.parametrize("fmt, crs, media", [
    ("dxf", "4526", "image/vnd.dxf"),
    ("dxf", None, "image/vnd.dxf"),
    ("kml", None, "application/vnd.google-earth.kml+xml"),
    ("kmz", "gcj02", "application/vnd.google-earth.kmz"),
])
def test_api_gives_the_cli_file(client, store_path, tmp_path, fmt, crs, media):
    r = client.get("/exports/renewal_areas", params={"format": fmt, **({"crs": crs} if crs else {})})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == media
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment;") and disposition.endswith(f".{fmt}")
    out = tmp_path / f"cli.{fmt}"
    export(store_path, "renewal_areas", out, *(["--crs", crs] if crs else []))
    if fmt == "kmz":
        assert zipfile.ZipFile(io.BytesIO(r.content)).read("doc.kml") == zipfile.ZipFile(out).read("doc.kml")
    else:
        assert r.content == out.read_bytes()


@pytest.mark.parametrize("params, words", [
    ({"format": "dxf", "crs": "cgcs2000"}, "DXF is drawn in metres"),
    ({"format": "kml", "crs": "4547"}, "KML/KMZ holds longitude/latitude"),
    ({"format": "kmz", "crs": "bd09"}, "gcj02"),
    ({"format": "dwg"}, "format"),
])
def test_api_bad_combinations_are_400(client, params, words):
    r = client.get("/exports/parcels", params=params)
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    assert words in r.json()["detail"]
