import json

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
