"""2SFCA demand from a population layer: worked answers by hand (straight-line catchments on
the GK plane), the households-only fallback said as such, and the CLI reading the layer."""

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gis.accessibility import gaussian_decay, supply_demand
from gis.errors import InputError
from layers.imports import import_frame
from layers.store import open_store
from renewal_cli.main import main

X, Y = 430000.0, 3900000.0  # on EPSG:4547, near Jiaozuo


def _area():
    return gpd.GeoDataFrame({"name": ["甲片区"], "county": ["解放区"], "kind": ["shantytown"], "households": [100]},
                            geometry=[shapely.box(X, Y, X + 100, Y + 100)], crs=4547)


def _kindergarten():
    return gpd.GeoDataFrame({"name": ["幼儿园"], "category": ["kindergarten"], "capacity": [130.0]},
                            geometry=[shapely.Point(X + 150, Y + 50)], crs=4547)  # 50 m east of the area


def _population():
    # Cell 1 lies 100 m north of the kindergarten (inside its 300 m catchment), cell 2 550 m
    # north (outside): only cell 1's 1000 persons share its 130 seats.
    return gpd.GeoDataFrame({"population": [1000.0, 5000.0]},
                            geometry=[shapely.box(X + 145, Y + 145, X + 155, Y + 155),
                                      shapely.box(X + 145, Y + 595, X + 155, Y + 605)], crs=4547)


def _small_store(tmp_path):
    """A store of the area, the kindergarten and the two population cells above."""
    store_path = tmp_path / "s.gpkg"
    store = open_store(store_path)
    import_frame(store, _area(), layer="renewal_areas")
    import_frame(store, _kindergarten(), layer="services")
    import_frame(store, _population(), layer="population")
    return store_path


def test_demand_is_everyone_in_the_catchment():
    result = supply_demand(_area(), _kindergarten(), "kindergarten", catchment_m=300, population=_population())
    assert result.per_1000.iloc[0] == pytest.approx(130.0)  # 130 seats / 1000 persons
    assert result.population.iloc[0] == pytest.approx(262.0) and result.facilities.iloc[0] == 1
    assert "population layer: 6,000 persons in 2 units" in result.attrs["demand"]


def test_without_a_population_layer_the_demand_is_the_areas_households_and_says_so():
    result = supply_demand(_area(), _kindergarten(), "kindergarten", catchment_m=300)
    assert result.per_1000.iloc[0] == pytest.approx(130 / 262 * 1000, abs=0.01)  # 496.18: far too high
    assert result.attrs["demand"].startswith("the renewal areas' own households only")


def test_gaussian_decay_with_a_population_layer():
    result = supply_demand(_area(), _kindergarten(), "kindergarten", catchment_m=300, decay="gaussian",
                           population=_population())
    expected = float(gaussian_decay(50.0, 300)) * 130 / (float(gaussian_decay(100.0, 300)) * 1000)
    assert result.accessibility.iloc[0] == pytest.approx(expected, rel=1e-4)


def test_households_stand_in_for_population_and_bad_layers_are_refused():
    households = _population().drop(columns="population").assign(households=[1000 / 2.62, 0])
    result = supply_demand(_area(), _kindergarten(), "kindergarten", catchment_m=300, population=households)
    assert result.per_1000.iloc[0] == pytest.approx(130.0)
    with pytest.raises(InputError, match="'population' .* or 'households'"):
        supply_demand(_area(), _kindergarten(), "kindergarten", population=_population().drop(columns="population"))


def test_the_cli_reads_the_population_layer(tmp_path, capsys):
    store_path = _small_store(tmp_path)
    assert main(["--store", str(store_path), "access", "kindergarten", "--catchment", "300"]) == 0
    out = capsys.readouterr().out
    assert "demand: population layer: 6,000 persons in 2 units" in out and "130" in out


def test_an_area_covering_population_cells_takes_their_weighted_accessibility():
    # Cell 0 is the area itself (1000 persons, its centre 100 m from the kindergarten), cell 1 the
    # 1000 persons 100 m north of it: 130 seats / 2000 persons = 0.065 for both, and so for the
    # area (not the sum over every facility near any edge of it).
    cells = gpd.GeoDataFrame({"population": [1000.0, 1000.0]},
                             geometry=[shapely.box(X, Y, X + 100, Y + 100),
                                       shapely.box(X + 145, Y + 145, X + 155, Y + 155)], crs=4547)
    second = gpd.GeoDataFrame({"name": ["幼儿园乙"], "category": ["kindergarten"], "capacity": [1000.0]},
                              geometry=[shapely.Point(X + 150, Y - 450)], crs=4547)  # near the south edge only
    area = gpd.GeoDataFrame({"name": ["甲片区"], "households": [100]},
                            geometry=[shapely.box(X, Y - 300, X + 100, Y + 100)], crs=4547)
    services = gpd.GeoDataFrame(pd.concat([_kindergarten(), second], ignore_index=True), crs=4547)
    result = supply_demand(area, services, "kindergarten", catchment_m=300, population=cells)
    assert result.accessibility.iloc[0] == pytest.approx(0.065)
    assert result.facilities.iloc[0] == 2  # both within reach of its boundary, as reported


def test_a_population_raster_in_any_crs_imports_as_cells(tmp_path):
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    persons = np.array([[0, 120.5, 80], [300, 0, -9999]], dtype="float32")  # 100 m cells, UTM 49N
    path = tmp_path / "worldpop.tif"
    with rasterio.open(path, "w", driver="GTiff", width=3, height=2, count=1, dtype="float32", crs="EPSG:32649",
                       transform=from_origin(700000, 3900000, 100, 100), nodata=-9999) as dst:
        dst.write(persons, 1)
    store = open_store(tmp_path / "s.gpkg")
    from layers.imports import import_file

    import_file(store, path, layer="population")
    cells = store.read("population")
    assert sorted(cells["population"].round(1)) == [80.0, 120.5, 300.0]
    assert cells.to_crs(32649).area.round(0).tolist() == [10000.0] * 3
    with pytest.raises(InputError, match="only as a population layer"):
        import_file(store, path, layer="services")


def test_the_city_wide_share_counts_the_whole_population(tmp_path, capsys):
    store_path = _small_store(tmp_path)
    assert main(["--store", str(store_path), "services", "--all", "-o", str(tmp_path / "r.csv")]) == 0
    out = capsys.readouterr().out
    # Straight-line (no roads): cell 1 lies 100 m from the kindergarten, cell 2 550 m (standard 300 m).
    line = next(row for row in out.split("the whole population")[1].splitlines() if row.startswith("幼儿园"))
    assert line.split()[1:] == ["6000", "1000", "16.7%"]


def test_the_area_services_report_takes_its_demand_from_the_population_layer(tmp_path, capsys):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    store_path = _small_store(tmp_path)
    assert main(["--store", str(store_path), "services", "甲片区"]) == 0
    out = capsys.readouterr().out
    assert "demand: population layer: 6,000 persons in 2 units" in out
    # No roads: straight lines. The kindergarten (130 seats) is 50 m from the area; only cell 1's
    # 1000 persons live within its 300 m: 130 seats per 1000 residents, as in the hand case above.
    with TestClient(create_app(Settings(store=str(store_path)))) as client:
        supply = client.get("/analysis/services/甲片区").json()["supply"]
    assert supply["demand"] == "population layer: 6,000 persons in 2 units"
    (row,) = supply["categories"]
    assert row["category"] == "kindergarten" and row["catchment_m"] == 300
    assert row["per_1000"] == pytest.approx(130.0) and row["facilities"] == 1


def test_without_a_population_layer_the_area_report_says_its_demand_is_the_households(tmp_path, capsys):
    store = open_store(tmp_path / "s.gpkg")
    import_frame(store, _area(), layer="renewal_areas")
    import_frame(store, _kindergarten(), layer="services")
    assert main(["--store", str(tmp_path / "s.gpkg"), "services", "甲片区", "--json"]) == 0
    import json

    supply = json.loads(capsys.readouterr().out)["supply"]
    assert supply["demand"] == "the renewal areas' own households only (no population layer)"
    assert supply["categories"][0]["per_1000"] == pytest.approx(130 / 262 * 1000, abs=0.01)
