import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gis.targets import check_targets
from layers.sample import TAOSAN, WEST_BIG_WELL
from layers.schemas import VOCABULARIES


@pytest.fixture(scope="module")
def areas(sample_store):
    return sample_store.read("renewal_areas").set_index("name")


def test_documented_areas_within_one_percent(areas):
    assert areas.loc[WEST_BIG_WELL, "area_mu"] == pytest.approx(500, rel=0.01)
    assert areas.loc[WEST_BIG_WELL, "area_m2"] == pytest.approx(333333, rel=0.01)
    assert areas.loc[TAOSAN, "area_mu"] == pytest.approx(105.27, rel=0.01)
    assert areas.loc[WEST_BIG_WELL, "approximate"] and areas.loc[TAOSAN, "approximate"]


def test_west_big_well_sits_where_documented(sample_store, areas):
    wbw = areas.loc[WEST_BIG_WELL, "geometry"]
    c = wbw.centroid
    assert c.x == pytest.approx(113.17, abs=0.02) and c.y == pytest.approx(35.24, abs=0.02)
    districts = sample_store.read("districts").set_index("name")
    assert districts.loc["中站区", "geometry"].contains(c)
    assert areas.loc[WEST_BIG_WELL, "county"] == "中站区"


def test_west_big_well_is_bounded_by_the_roads_the_document_names(sample_store, areas):
    # Seed 004: 怡光路以西、解放西路以北、中南路以东、跃进路以南 — the site is west of 怡光路
    # (its east edge), north of 解放西路, east of 中南路 and south of 跃进路.
    roads = sample_store.read("roads")
    x0, y0, x1, y1 = areas.loc[WEST_BIG_WELL, "geometry"].bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2

    def where(name):
        b = shapely.union_all(roads[roads.name == name].geometry.values).bounds
        return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2

    assert where("怡光路")[0] > cx and where("中南路")[0] < cx
    assert where("解放西路")[1] < cy and where("跃进路")[1] > cy
    assert where("怡光路")[0] == pytest.approx(x1, abs=0.0005) and where("中南路")[0] == pytest.approx(x0, abs=0.0005)


def test_taosan_is_in_shanyang(sample_store, areas):
    districts = sample_store.read("districts").set_index("name")
    assert districts.loc["山阳区", "geometry"].contains(areas.loc[TAOSAN, "geometry"].centroid)


def test_layer_sizes_and_flags(sample_store, areas):
    info = {i.name: i for i in sample_store.layers()}
    assert len(areas) >= 30 and info["renewal_areas"].synthetic
    assert set(areas.county) >= {"解放区", "中站区", "马村区", "山阳区"}
    services = sample_store.read("services")
    assert len(services) >= 2000 and set(services.category) == set(VOCABULARIES["service_category"])
    assert info["parcels"].feature_count >= 300
    assert not info["districts"].synthetic and not info["targets"].synthetic


def test_services_are_denser_in_the_centre(sample_store):
    services = sample_store.read("services").to_crs(4547)
    x, y = services.geometry.x, services.geometry.y
    cx, cy = x.median(), y.median()
    near = ((x - cx).abs() < 2000) & ((y - cy).abs() < 2000)
    far = ((x - cx).abs() > 5000)
    assert near.sum() / 16 > 2 * far.sum() / max(1, (x.max() - x.min() - 10000) * (y.max() - y.min()) / 1e6)


def test_road_network_is_large_and_connected(sample_store):
    roads = sample_store.read("roads")
    assert len(roads) >= 20000
    ends = shapely.get_coordinates(shapely.boundary(roads.geometry.values)).round(7)
    _, node = np.unique(ends, axis=0, return_inverse=True)
    node = node.ravel().reshape(-1, 2)
    n = node.max() + 1
    graph = coo_matrix((np.ones(len(node)), (node[:, 0], node[:, 1])), shape=(n, n))
    assert connected_components(graph, directed=False)[0] == 1


def test_subsidence_along_the_northern_mining_belt(sample_store, areas):
    constraints = sample_store.read("constraints")
    sub = constraints[constraints.kind == "subsidence"]
    assert len(sub) >= 5 and (sub.severity == "exclude").all()
    assert sub.geometry.to_crs(4547).centroid.y.min() > areas.to_crs(4547).loc[WEST_BIG_WELL, "geometry"].centroid.y
    assert set(constraints.kind) == set(VOCABULARIES["constraint_kind"])


def test_dem_rises_to_the_north(sample_store):
    with sample_store.read_raster("dem") as src:
        dem = src.read(1)
    rows = dem.mean(axis=1)
    assert rows[0] > rows[-1] + 200  # first row is the northern edge
    assert 80 < rows[-1] < 150


def test_targets_exactly_as_printed(sample_store):
    t = sample_store.read("targets")
    jz = t[(t.city == "焦作市") & (t.region == "合计")].set_index("metric").value
    assert jz.to_dict() == {"new_start_projects": 1, "new_start_units": 880,
                            "basically_built_units": 6525, "delivered_units": 6040}
    gz = t[(t.city == "赣州市") & (t.region == "合计")].set_index(["year", "metric"]).value
    assert gz[("2023-2024", "new_start_units")] == 45311 and gz[("2023-2024", "basically_built_units")] == 20600
    assert gz[("2023", "new_start_units")] == 29951 and gz[("2024", "basically_built_units")] == 11900
    assert len(t[(t.city == "赣州市") & (t.region != "合计")].region.unique()) == 20
    checks = check_targets(t, sample_store.read("districts"))
    assert all(c.ok for c in checks if c.kind != "region")
    unmatched = {c.region for c in checks if c.kind == "region"}
    # XX区: seed 001's district is unnamed in the document, so no boundary can match it.
    assert unmatched == {"示范区", "赣州经开区", "赣州蓉江新区", "XX区"}


def test_seed_001_is_held_as_plan_years_with_the_printed_text(sample_store):
    t = sample_store.read("targets")
    xx = t[t.city == "XX区"]
    got = {(y, m): v for y, m, v in zip(xx.year, xx.metric, xx.value, strict=True)}
    assert got == {("Y1-Y3", "projects"): 24, ("Y1-Y3", "households"): 13161, ("Y1-Y3", "floor_area_m2"): 1283400,
                   ("Y1", "projects"): 8, ("Y1", "households"): 3926, ("Y1", "floor_area_m2"): 385700,
                   ("Y2", "projects"): 6, ("Y2", "households"): 4332, ("Y2", "floor_area_m2"): 488900,
                   ("Y3", "projects"): 10, ("Y3", "households"): 4903, ("Y3", "floor_area_m2"): 408800}
    assert all("——2024年" in s for s in xx.source[xx.year != "Y1-Y3"])  # the printed year, kept in the source
    assert all("Y1–Y3" in n and "2024" in n for n in xx.note)  # and the note says how it is held
    spans = [c for c in check_targets(xx) if c.kind == "span"]
    assert len(spans) == 3 and all(c.ok for c in spans)


def test_sample_progress_fits_plan_years_and_statuses(sample_store):
    from gis.progress import derive_status
    from layers.sample.events import DATA_DATE

    info = sample_store.info("progress")
    assert info.synthetic and info.kind == "progress"
    events, areas = sample_store.read("progress"), sample_store.read("renewal_areas")
    assert (events.date <= DATA_DATE.isoformat()).all()
    years = areas.set_index("id").plan_year
    started = events[events.event != "approved"]
    # Nothing is under way before its plan year, and nothing planned after the data date has events.
    assert (pd.to_datetime(started.date).dt.year >= started.area_id.map(years)).all()
    assert set(events.area_id.map(years)) <= {2021, 2022, 2023}
    assert set(areas.status[areas.plan_year > DATA_DATE.year]) == {"planned"}
    derived = derive_status(events.astype({"area_id": "int64"})).set_index("area_id").status
    stored = areas.set_index("id").status
    assert stored.to_dict() == {i: derived.get(i, "planned") for i in stored.index}
    nanzhu = events[events.area == "中南路（南朱村）安置项目"]
    assert list(nanzhu.event) == ["approved"]  # the 2023 new start, not under way by the end of the year


def test_sample_is_deterministic(tmp_path, sample_store):
    from layers.sample import build_sample_store

    again = build_sample_store(tmp_path / "again.gpkg")
    a, b = sample_store.read("parcels"), again.read("parcels")
    assert a.geometry.equals(b.geometry)


def test_the_population_grid_is_synthetic_inside_jiaozuo_and_denser_in_the_centre(sample_store):
    info = sample_store.info("population")
    assert info.synthetic and info.geometry_type == "polygon"
    grid = sample_store.read("population").to_crs(4547)
    jiaozuo = sample_store.read("districts").query("city == '焦作市'").to_crs(4547).geometry.union_all()
    assert grid.representative_point().within(jiaozuo).all()
    density = grid["population"] / (grid.area / 1e6)
    centre = grid.geometry.centroid
    d = ((centre.x - centre.x.median()) ** 2 + (centre.y - centre.y.median()) ** 2) ** 0.5
    assert density[d < 1500].mean() > 4 * density[d > 6000].mean()
    assert 300_000 < grid["population"].sum() < 3_000_000  # a prefecture city's core, not a province
