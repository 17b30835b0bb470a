import json

import numpy as np
import pytest

from renewal_cli.main import main
from tests.conftest import sha256


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "renewal.gpkg"
    assert main(["--store", str(path), "sample"]) == 0
    return path


def test_sample_prints_layers_and_west_big_well(store_path, capsys):
    assert main(["--store", str(store_path), "layers", "--json"]) == 0
    layers = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert layers["renewal_areas"]["feature_count"] >= 30 and layers["renewal_areas"]["synthetic"]


def test_targets_check_exit_zero(store_path, capsys):
    assert main(["--store", str(store_path), "targets", "--check"]) == 0
    out = capsys.readouterr().out
    assert "焦作市 2023 delivered_units: 合计 6040 = sum of rows" in out
    assert "NOTE  焦作市 示范区" in out


def test_import_export_round_trip(store_path, tmp_path, capsys):
    out = tmp_path / "areas.zip"
    assert main(["--store", str(store_path), "export", "renewal_areas", "-o", str(out), "--crs", "4547",
                 "--encoding", "GBK"]) == 0
    copy = tmp_path / "copy.gpkg"
    assert main(["--store", str(copy), "import", str(out), "--layer", "renewal_areas"]) == 0
    assert "from EPSG:4547, encoding GBK" in capsys.readouterr().out
    assert main(["--store", str(copy), "layers", "--json"]) == 0
    layers = json.loads(capsys.readouterr().out)
    assert layers[0]["feature_count"] >= 30


def test_bad_import_exits_non_zero_with_the_fix(store_path, tmp_path, capsys):
    before = sha256(store_path)
    bad = tmp_path / "swapped.csv"
    bad.write_text("name,category,lon,lat\nA,park,35.2,113.2\n", encoding="utf-8")
    assert main(["--store", str(store_path), "import", str(bad), "--layer", "services"]) == 2
    err = capsys.readouterr().err
    assert "row 1, field 'geometry': longitude and latitude look swapped" in err
    assert sha256(store_path) == before


@pytest.mark.parametrize("argv, message", [
    (["import", "nope.geojson", "--layer", "services"], "no such file"),
    (["export", "stadiums", "-o", "x.geojson"], "no layer 'stadiums'"),
    (["import", "x.csv", "--layer", "mystery"], "cannot tell the kind"),
])
def test_cli_errors(store_path, capsys, argv, message):
    assert main(["--store", str(store_path), *argv]) == 2
    assert message in capsys.readouterr().err


def test_services_json_for_west_big_well(store_path, capsys):
    assert main(["--store", str(store_path), "services", "西大井片区", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["area_name"] == "西大井片区" and data["basis"] == "network"
    first = data["categories"][0]
    assert set(first) == {"category", "nearest_name", "straight_m", "network_m", "count_300", "count_500",
                          "count_1000", "standard_m", "meets_standard", "gap_zh", "gap_en"}
    assert len(data["categories"]) == 16
    assert data["categories_required"] == 15


def test_services_table_and_all_areas_report(store_path, tmp_path, capsys):
    assert main(["--store", str(store_path), "services", "1"]) == 0
    assert "西大井片区:" in capsys.readouterr().out
    out = tmp_path / "report.csv"
    assert main(["--store", str(store_path), "services", "--all", "-o", str(out)]) == 0
    import pandas as pd

    report = pd.read_csv(out, encoding="utf-8-sig")
    assert report.origin_id.nunique() >= 30 and "gap_zh" in report.columns
    assert "达标比例" in capsys.readouterr().out


def test_isochrones_written_as_geojson(store_path, tmp_path, capsys):
    out = tmp_path / "iso.geojson"
    assert main(["--store", str(store_path), "isochrones", "西大井片区", "-o", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert [f["properties"]["threshold_m"] for f in doc["features"]] == [1000, 500, 300]


def test_unknown_area_is_a_clear_error(store_path, capsys):
    assert main(["--store", str(store_path), "services", "不存在的片区"]) == 2
    assert "no renewal area '不存在的片区'" in capsys.readouterr().err


def test_weights_from_an_ahp_csv(tmp_path, capsys):
    from tests.test_suitability import HOUSE_NAMES, SAATY_HOUSE

    good = tmp_path / "ahp.csv"
    good.write_text("criterion,origin,school,bus\norigin,1,3,9\nschool,1/3,1,3\nbus,1/9,1/3,1\n", encoding="utf-8")
    assert main(["weights", "--ahp", str(good), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["weights"] == {"origin": 0.6923, "school": 0.2308, "bus": 0.0769} and data["consistent"]
    bad = tmp_path / "house.csv"
    bad.write_text(",".join(["criterion"] + HOUSE_NAMES) + "\n" + "\n".join(
        ",".join([n] + row.split()) for n, row in zip(HOUSE_NAMES, SAATY_HOUSE.splitlines(), strict=True)),
        encoding="utf-8")
    assert main(["weights", "--ahp", str(bad)]) == 2
    assert "neighborhood vs condition" in capsys.readouterr().err


def test_site_select_for_west_big_well(store_path, capsys):
    assert main(["--store", str(store_path), "site-select", "--for", "西大井片区", "--units", "1000",
                 "--require", "kindergarten:300", "--sensitivity", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mode"] == "parcels" and 1 <= len(data["candidates"]) <= 5
    first = data["candidates"][0]
    assert sum(first["contributions"].values()) == pytest.approx(first["score"], abs=1e-3)
    assert first["area_m2"] >= first["required_m2"] and first["required_m2"] == pytest.approx(1000 * 90 / 2.5, rel=0.5)
    assert data["removed_by_rule"]["constraints"] > 0 and "sensitivity" in data


def test_suitability_surface_is_a_tiled_geotiff_with_overviews(store_path, tmp_path, capsys):
    import rasterio

    out = tmp_path / "surface.tif"
    assert main(["--store", str(store_path), "suitability", "--for", "1", "-o", str(out)]) == 0
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 4547 and src.res == (10.0, 10.0) and src.dtypes[0] == "float32"
        assert src.overviews(1) and src.profile["tiled"]
        data = src.read(1)
        assert np.isnan(data).any() and np.nanmax(data) <= 1 and np.nanmin(data) >= 0


def test_site_select_bad_require(store_path, capsys):
    assert main(["--store", str(store_path), "site-select", "--for", "1", "--require", "kindergarten"]) == 2
    assert "category:metres" in capsys.readouterr().err


def test_access_2sfca_for_kindergartens(store_path, capsys):
    assert main(["--store", str(store_path), "access", "kindergarten", "--decay", "gaussian", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["catchment_m"] == 300 and data["decay"] == "gaussian" and len(data["areas"]) >= 30
    assert all(a["population"] == pytest.approx(a["households"] * 2.62) for a in data["areas"])


def test_suitability_needs_no_parcels_or_units(store_path, tmp_path, capsys):
    import shutil

    from layers.store import GeoPackageStore

    bare = tmp_path / "bare.gpkg"
    shutil.copyfile(store_path, bare)
    GeoPackageStore(bare).delete("parcels")
    assert main(["--store", str(bare), "suitability", "--for", "陶圣源（陶三）文创园区", "-o", str(tmp_path / "s.tif")]) == 0
    assert (tmp_path / "s.tif").exists()


def _nan_geojson(path):
    path.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point",'
                    '"coordinates":[NaN,35.2]},"properties":{"name":"a","category":"park"}}]}', encoding="utf-8")
    return path


def _bad_weights(path):
    path.write_text('{"criteria": {"hospital": {"weight": "heavy"}, "x": {"source": "moon"}}}', encoding="utf-8")
    return path


#: The bad inputs of the API's table, through the CLI: exit 2 and a message, no traceback.
CLI_BAD_INPUTS = [
    ("nan-coordinates", lambda d: ["import", str(_nan_geojson(d / "nan.geojson")), "--layer", "services"],
     "not a finite number"),
    ("import-dotdot", lambda d: ["import", str(d / ".."), "--layer", "services"], "not a file"),
    ("shp-bogus-encoding", lambda d: ["export", "renewal_areas", "-o", str(d / "a.zip"), "--encoding", "bogus"],
     "bogus"),
    ("csv-ascii", lambda d: ["export", "renewal_areas", "-o", str(d / "a.csv"), "--encoding", "ascii"],
     "field 'name'"),
    ("txt-ascii", lambda d: ["export", "renewal_areas", "-o", str(d / "a.txt"), "--format", "txt",
                             "--encoding", "ascii"], "ascii"),
    ("bad-weights", lambda d: ["site-select", "--for", "西大井片区", "--weights", str(_bad_weights(d / "w.json"))],
     "criteria.hospital.weight"),
]


@pytest.mark.parametrize("args, fragment", [c[1:] for c in CLI_BAD_INPUTS], ids=[c[0] for c in CLI_BAD_INPUTS])
def test_bad_inputs_exit_2_with_the_message(store_path, tmp_path, capsys, args, fragment):
    before = sha256(store_path)
    assert main(["--store", str(store_path), *args(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert sha256(store_path) == before
    assert not [p for p in tmp_path.iterdir() if p.suffix in (".zip", ".csv", ".txt")]  # nothing half-written
