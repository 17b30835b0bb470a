"""The synthetic province (issue #17): layers, partitions, separate networks, seeding, CLI."""

import numpy as np
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from gis.errors import InputError
from gis.network import build_network
from gis.standards import default_standards
from layers.sample import build_province_store, city_name
from layers.schemas import VOCABULARIES
from renewal_cli.main import main

VECTOR_LAYERS = ("districts", "renewal_areas", "services", "roads", "constraints")


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    return build_province_store(tmp_path_factory.mktemp("province") / "p.gpkg", 3, seed=0, size="small")


@pytest.fixture(scope="module")
def districts(province):
    return province.read("districts")


def test_layers_are_synthetic_and_in_cgcs2000(province):
    infos = {i.name: i for i in province.layers()}
    assert set(infos) == {*VECTOR_LAYERS, "dem"}
    assert all(i.synthetic for i in infos.values())
    for name in VECTOR_LAYERS:
        assert province.read(name).crs.to_epsg() == 4490
    with province.read_raster("dem") as dem:
        assert dem.dtypes[0] == "float32" and abs(dem.transform.a) == 30.0
        heights = dem.read(1)
        # One raster over the whole province: every city's streets lie on it.
        roads = province.read("roads").to_crs(dem.crs)
        x0, y0, x1, y1 = roads.total_bounds
        assert dem.bounds.left < x0 and dem.bounds.bottom < y0 and dem.bounds.right > x1 and dem.bounds.top > y1
    assert np.isfinite(heights).all() and 0 < heights.min() < heights.max() < 1000


def test_three_cities_of_two_to_four_districts(districts):
    assert sorted(districts.city.unique()) == [city_name(k) for k in range(3)] == ["合成01市", "合成02市", "合成03市"]
    assert districts.groupby("city").size().between(2, 4).all()
    assert districts.name.is_unique and all(n.startswith(c) for n, c in zip(districts.name, districts.city,
                                                                                 strict=True))


def test_areas_lie_in_the_district_they_name(province, districts):
    areas = province.read("renewal_areas")
    assert len(areas) == 3 * 6 and areas.name.is_unique
    assert set(areas.kind) <= set(VOCABULARIES["renewal_kind"])
    assert set(areas.status) <= set(VOCABULARIES["renewal_status"])
    by_name = districts.set_index("name").geometry
    for county, geom in zip(areas.county, areas.geometry, strict=True):
        assert by_name[county].contains(geom), county
    assert (areas.households > 0).all() and areas.plan_year.between(2021, 2025).all()


def test_every_standard_category_in_every_city(province, districts):
    services = province.read("services")
    city_of = services.sjoin(districts[["city", "geometry"]], predicate="within").city
    assert len(city_of) == len(services) == 3 * 100
    wanted = set(default_standards())
    for city, cats in services.category.groupby(city_of):
        assert set(cats) >= wanted, city
    assert services.capacity.notna().any() and services.capacity.isna().any()


def test_main_roads_and_multi_vertex_streets(province):
    roads = province.read("roads")
    assert set(roads.road_class) <= set(VOCABULARIES["road_class"])
    assert {"expressway", "arterial", "secondary"} <= set(roads.road_class)
    assert shapely.get_num_coordinates(roads.geometry.values).mean() > 10  # not one feature per block


def test_each_city_has_its_own_network(province, districts):
    net = build_network(province.read("roads"))
    cities = districts.to_crs(net.crs).dissolve("city").geometry
    city_of = np.full(net.n_nodes, "", dtype=object)
    for city, geom in cities.items():
        city_of[shapely.contains_xy(geom, *net.node_xy.T)] = city
    assert (city_of != "").all()
    for city in cities.index:
        nodes = city_of == city
        assert 2000 <= nodes.sum() <= 3000, city
        # Nearly all of a city's nodes are in one component (a few links are left out) ...
        assert np.bincount(net.component[nodes]).max() >= 0.95 * nodes.sum()
    # ... and no component reaches into two cities.
    for comp in np.unique(net.component):
        assert len(set(city_of[net.component == comp])) == 1


def _layers(store):
    frames = {name: store.read(name) for name in VECTOR_LAYERS}
    with store.read_raster("dem") as dem:
        return frames, dem.read(1)


def test_same_seed_same_layers_other_seed_others(province, tmp_path):
    frames, dem = _layers(province)
    again, dem_again = _layers(build_province_store(tmp_path / "again.gpkg", 3, seed=0, size="small"))
    for name in VECTOR_LAYERS:
        assert_geodataframe_equal(frames[name], again[name])
    np.testing.assert_array_equal(dem, dem_again)
    other, dem_other = _layers(build_province_store(tmp_path / "other.gpkg", 3, seed=1, size="small"))
    for name in ("renewal_areas", "services", "roads"):
        assert list(frames[name].geometry.to_wkb()) != list(other[name].geometry.to_wkb()), name
    assert not np.array_equal(dem, dem_other)


def test_bad_arguments(tmp_path):
    with pytest.raises(InputError, match="size must be one of"):
        build_province_store(tmp_path / "x.gpkg", 2, size="huge")
    with pytest.raises(InputError, match="at least one city"):
        build_province_store(tmp_path / "x.gpkg", 0)


def test_cli_builds_and_summarizes(tmp_path, capsys):
    store = tmp_path / "cli.gpkg"
    assert main(["--store", str(store), "sample", "--province", "2", "--size", "small", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "synthetic province written to" in out and "(seed 1, size small)" in out
    assert "cities:         2 (合成01市, 合成02市)" in out
    assert "renewal areas:  12" in out and "services:       200 in 16 categories" in out
    assert "2 component(s)" in out and "cells of 30 m" in out
    assert "all 6 layers flagged synthetic" in out
