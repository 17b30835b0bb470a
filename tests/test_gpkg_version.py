"""GeoPackages we write declare version 1.2 (QGIS 3.22 LTR / GDAL 3.6 warn on 1.4) unless asked (#16)."""

import sqlite3

import pytest

from layers.sample import build_sample_store
from renewal_cli.main import main


def declared(path) -> tuple[int, int]:
    with sqlite3.connect(path) as con:
        return con.execute("PRAGMA application_id").fetchone()[0], con.execute("PRAGMA user_version").fetchone()[0]


GPKG = 0x47504B47  # "GPKG"


def test_the_store_declares_1_2(tmp_path):
    store = build_sample_store(tmp_path / "s.gpkg")
    assert declared(store.path) == (GPKG, 10200)


@pytest.mark.parametrize(("asked", "expected"), [(None, 10200), ("1.4", 10400)])
def test_exports_declare_1_2_unless_asked(sample_store, tmp_path, asked, expected):
    out = tmp_path / "areas.gpkg"
    args = ["--store", str(sample_store.path), "export", "renewal_areas", "-o", str(out)]
    assert main(args + (["--gpkg-version", asked] if asked else [])) == 0
    assert declared(out) == (GPKG, expected)
