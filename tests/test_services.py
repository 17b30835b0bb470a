"""Nearby services on a hand-built grid city: 100 m blocks, every figure worked out by hand."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.accessibility import gaussian_decay, two_step_fca
from gis.errors import InputError
from gis.isochrones import walking_isochrones
from gis.network import build_network, nearest_within_network
from gis.network_pairs import pairs_within
from gis.service_reports import area_summary, share_within_standard
from gis.services import nearest_services
from gis.standards import default_standards, load_standards
from tests.helpers.reference import lines_of, reference_distances

X0, Y0 = 430000.0, 3900000.0


def xy(x, y):
    return shapely.Point(X0 + x, Y0 + y)


@pytest.fixture(scope="module")
def grid_roads():
    """An 11 × 11 street grid at 100 m (rows and columns as whole lines) plus an isolated
    street far away."""
    lines = [shapely.LineString([(X0 + i * 100, Y0 + j * 100) for j in range(11)]) for i in range(11)]
    lines += [shapely.LineString([(X0 + i * 100, Y0 + j * 100) for i in range(11)]) for j in range(11)]
    lines.append(shapely.LineString([(X0 + 2000, Y0 + 2000), (X0 + 2100, Y0 + 2000)]))
    return gpd.GeoDataFrame({"name": ["street"] * len(lines)}, geometry=lines, crs=4547)


@pytest.fixture(scope="module")
def grid_services():
    rows = [
        ("K1", "kindergarten", xy(300, 400), 200),  # on a node
        ("K2", "kindergarten", xy(550, 200), 100),  # mid-block
        ("KD", "kindergarten", xy(2050, 2010), 90),  # on the isolated street
        ("P1", "primary_school", xy(150, 230), None),  # 30 m off the street y=200
        ("C1", "community_service", xy(700, 700), None),  # inside area B
    ]
    return gpd.GeoDataFrame({"name": [r[0] for r in rows], "category": [r[1] for r in rows],
                             "capacity": [r[3] for r in rows]}, geometry=[r[2] for r in rows], crs=4547)


@pytest.fixture(scope="module")
def grid_origins():
    return gpd.GeoDataFrame({"id": [1, 2], "name": ["A", "B"], "households": [100, 300]},
                            geometry=[xy(150, 200), shapely.box(X0 + 600, Y0 + 600, X0 + 800, Y0 + 800)], crs=4547)


@pytest.fixture(scope="module")
def report(grid_origins, grid_services, grid_roads):
    return nearest_services(grid_origins, grid_services, grid_roads,
                            categories=["kindergarten", "primary_school", "community_service"])


def row(report, origin, category):
    r = report[(report.origin_name == origin) & (report.category == category)]
    assert len(r) == 1
    return r.iloc[0]


def test_point_origin_worked_answers(report):
    k = row(report, "A", "kindergarten")
    # A (150, 200) → K1 (300, 400): 50 east, 200 north, 100 east = 350 = Manhattan distance.
    assert k.nearest_name == "K1" and k.network_m == pytest.approx(350, abs=0.05)
    assert k.straight_m == pytest.approx(250.0, abs=0.05)  # hypot(150, 200)
    # K2 (550, 200) lies on A's own street: 400 m straight along it.
    assert k.second_name == "K2" and k.second_m == pytest.approx(400, abs=0.05)
    assert k.third_name is None  # KD is on another network component: never listed
    assert (k.count_300, k.count_500, k.count_1000) == (0, 2, 2)
    assert not k.meets_standard and k.standard_m == 300
    assert k.gap_zh == "300 m 内无幼儿园" and k.gap_en == "no kindergarten within 300 m"


def test_snapping_to_an_edge_mid_block_adds_the_offset(report):
    p = row(report, "A", "primary_school")
    # P1 (150, 230) snaps to (150, 200) on A's segment, 30 m away: not to a node 50 m off.
    assert p.network_m == pytest.approx(30.0, abs=0.05) and p.straight_m == pytest.approx(30.0, abs=0.05)
    assert p.meets_standard and pd.isna(p.gap_zh)


def test_area_is_measured_from_its_boundary(report):
    k = row(report, "B", "kindergarten")
    # From B's corner (600, 600): K2 (550, 200) is 50 + 400 = 450 m, K1 (300, 400) 300 + 200 = 500 m.
    assert k.nearest_name == "K2" and k.network_m == pytest.approx(450, abs=0.05)
    assert k.second_name == "K1" and k.second_m == pytest.approx(500, abs=0.05)
    assert k.straight_m == pytest.approx(np.hypot(50, 400), abs=0.05)
    assert (k.count_300, k.count_500) == (0, 2)


def test_facility_inside_the_area_is_at_zero(report):
    c = row(report, "B", "community_service")
    assert c.nearest_name == "C1" and c.network_m == 0 and c.straight_m == 0 and c.meets_standard


def test_disconnected_facility_is_unreachable_not_a_number(grid_services, grid_roads):
    origin = gpd.GeoDataFrame({"name": ["far"]}, geometry=[xy(1000, 1000)], crs=4547)
    only_kd = grid_services[grid_services.name == "KD"]
    r = nearest_services(origin, only_kd, grid_roads, categories=["kindergarten"]).iloc[0]
    assert not r.reachable and np.isnan(r.network_m)
    assert r.nearest_name == "KD" and r.straight_m == pytest.approx(np.hypot(1050, 1010), abs=0.1)
    assert r.gap_en == "no kindergarten reachable on foot" and not r.meets_standard


def test_without_roads_falls_back_to_straight_line_and_says_so(grid_origins, grid_services):
    r = nearest_services(grid_origins, grid_services, categories=["kindergarten"])
    assert set(r.basis) == {"straight"}
    a = row(r, "A", "kindergarten")
    assert a.nearest_name == "K1" and a.straight_m == pytest.approx(250, abs=0.05) and np.isnan(a.network_m)


def test_origin_far_from_every_road_is_measured_straight(grid_services, grid_roads):
    far = gpd.GeoDataFrame({"name": ["island"]}, geometry=[xy(-5000, -5000)], crs=4547)
    r = nearest_services(far, grid_services, grid_roads, categories=["kindergarten"]).iloc[0]
    assert r.basis == "straight (off network)" and np.isnan(r.network_m) and r.nearest_name == "K1"


def test_summary_and_city_share(report, grid_origins):
    s = area_summary(report).set_index("origin_name")
    assert s.loc["A", "categories_required"] == 3
    assert s.loc["A", "categories_met"] == 1  # only the primary school (community service: none near A)
    assert s.loc["B", "coverage_score"] == pytest.approx(1 / 3, abs=1e-3)
    share = share_within_standard(report, grid_origins.set_index("id").households).set_index("category")
    # Only B (300 of 400 households) has community service within 300 m.
    assert share.loc["community_service", "share"] == pytest.approx(0.75)
    assert share.loc["kindergarten", "share"] == 0


def test_unknown_category_and_bad_inputs(grid_origins, grid_services):
    with pytest.raises(InputError, match="unknown categories"):
        nearest_services(grid_origins, grid_services, categories=["casino"])
    with pytest.raises(InputError, match="should be a GeoDataFrame"):
        nearest_services(pd.DataFrame(), grid_services)
    with pytest.raises(InputError, match="needs a 'category' column"):
        nearest_services(grid_origins, grid_services.drop(columns="category"))


@pytest.mark.parametrize("workers", [1, 2])
def test_tile_size_and_workers_do_not_change_the_answer(grid_roads, workers):
    net = build_network(grid_roads)
    rng = np.random.default_rng(5)
    o = np.column_stack([X0 + rng.uniform(0, 1000, 200), Y0 + rng.uniform(0, 1000, 200)])
    f = np.column_stack([X0 + rng.uniform(0, 1000, 150), Y0 + rng.uniform(0, 1000, 150)])
    a = pairs_within(net, o, f, 400, tile=400)
    b = pairs_within(net, o, f, 400, tile=2000 if workers == 1 else 150, workers=workers)
    ka, kb = np.lexsort((a[1], a[0])), np.lexsort((b[1], b[0]))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x[ka], y[kb])


def test_same_distances_as_networkx_on_the_sample_network(sample_store):
    roads = sample_store.read("roads")
    net = build_network(roads)
    cx, cy = np.median(net.node_xy, axis=0)
    window = roads.to_crs(net.crs).cx[cx - 1500:cx + 1500, cy - 1500:cy + 1500]
    sub = build_network(window, crs=net.crs)
    rng = np.random.default_rng(11)
    origins = np.column_stack([rng.uniform(cx - 800, cx + 800, 25), rng.uniform(cy - 800, cy + 800, 25)])
    facilities = np.column_stack([rng.uniform(cx - 800, cx + 800, 30), rng.uniform(cy - 800, cy + 800, 30)])
    ref = reference_distances(lines_of(window), origins, facilities)
    oi, fi, d = pairs_within(sub, origins, facilities, 1000)
    ours = np.full_like(ref, np.inf)
    ours[oi, fi] = d
    expected = np.where(ref <= 1000, ref, np.inf)
    assert (np.isfinite(ours) == np.isfinite(expected)).all()
    finite = np.isfinite(expected)
    np.testing.assert_allclose(ours[finite], expected[finite], atol=0.05)  # nodes are rounded to 1 cm
    src, best = nearest_within_network(sub, origins, facilities)
    np.testing.assert_allclose(best, ref.min(axis=1), atol=0.05)
    assert (src == ref.argmin(axis=1)).all()


def test_isochrones_are_nested_and_sized_right(grid_roads):
    net = build_network(grid_roads)
    area = gpd.GeoDataFrame({"name": ["B"]}, geometry=[shapely.box(X0 + 400, Y0 + 400, X0 + 600, Y0 + 600)], crs=4547)
    iso = walking_isochrones(area, net).to_crs(4547).set_index("threshold_m")
    assert list(iso.index) == [1000, 500, 300]
    g300, g500 = iso.loc[300, "geometry"], iso.loc[500, "geometry"]
    assert g300.within(g500)
    # From B's edge at (500, 400), 300 m south along x = 500 reaches y = 100.
    assert g300.contains(shapely.Point(X0 + 500, Y0 + 110))
    # Off the street a point is measured from its nearest street: (520, 150) is 20 + 250 m;
    # (540, 120) is nearest y = 100, 20 + 340 m (a flat 50 m buffer of x = 500 took it in).
    assert g300.contains(shapely.Point(X0 + 520, Y0 + 150))
    assert not g300.contains(shapely.Point(X0 + 540, Y0 + 120)) and g500.contains(shapely.Point(X0 + 540, Y0 + 120))
    assert not g300.contains(shapely.Point(X0 + 500, Y0 + 30))
    assert g500.contains(shapely.Point(X0 + 500, Y0 + 30))


def test_standards_table_and_city_override(tmp_path):
    s = default_standards()
    assert {c: s[c].standard_m for c in ("kindergarten", "primary_school", "middle_school", "metro")} == \
        {"kindergarten": 300, "primary_school": 500, "middle_school": 1000, "metro": 800}
    yaml_file = tmp_path / "city.yaml"
    yaml_file.write_text("kindergarten: 250\nprimary_school: 400\n", encoding="utf-8")
    city = load_standards(yaml_file)
    assert city["kindergarten"].standard_m == 250 and city["metro"].standard_m == 800
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text("category,standard_m\ncasino,100\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown category 'casino'"):
        load_standards(csv_file)


@pytest.mark.parametrize("decay", ["none", "gaussian"])
def test_2sfca_matches_pysal_access(decay):
    from access import Access

    rng = np.random.default_rng(2)
    demand = pd.DataFrame({"id": range(6), "pop": rng.integers(100, 1000, 6).astype(float)})
    supply = pd.DataFrame({"id": [f"s{j}" for j in range(4)], "cap": rng.integers(50, 200, 4).astype(float)})
    cost = pd.DataFrame([(i, f"s{j}", float(rng.uniform(50, 900))) for i in range(6) for j in range(4)],
                        columns=["origin", "dest", "cost"])
    ours = two_step_fca(cost.rename(columns={"origin": "demand_id", "dest": "supply_id", "cost": "distance_m"}),
                        demand.set_index("id")["pop"], supply.set_index("id")["cap"], 600, decay=decay)
    a = Access(demand_df=demand, demand_index="id", demand_value="pop", supply_df=supply, supply_index="id",
               supply_value="cap", cost_df=cost, cost_origin="origin", cost_dest="dest", cost_name="cost")
    weight = None if decay == "none" else (lambda d: float(gaussian_decay(d, 600)))
    theirs = a.two_stage_fca(name="x", max_cost=600, weight_fn=weight)
    expected = theirs.iloc[:, 0].reindex(ours.index).fillna(0.0)
    np.testing.assert_allclose(ours.accessibility.to_numpy(), expected.to_numpy(), rtol=1e-9)


def test_2sfca_worked_example():
    # One kindergarten with 200 seats; 100 and 300 people within reach: 0.5 seats per person each.
    pairs = pd.DataFrame({"demand_id": [1, 2, 3], "supply_id": ["k", "k", "k"], "distance_m": [100, 200, 900]})
    out = two_step_fca(pairs, pd.Series({1: 100.0, 2: 300.0, 3: 50.0}), pd.Series({"k": 200.0}), 300)
    assert out.accessibility.to_dict() == {1: 0.5, 2: 0.5, 3: 0.0}
    assert out.facilities.to_dict() == {1: 1, 2: 1, 3: 0}
    assert float(gaussian_decay(250.0, 500)) == pytest.approx((np.exp(-0.125) - np.exp(-0.5)) / (1 - np.exp(-0.5)))


def test_supply_demand_on_the_grid_city(grid_roads):
    from gis.accessibility import supply_demand

    # Two areas share one 200-seat kindergarten within 300 m walking; a third is beyond reach.
    areas = gpd.GeoDataFrame({"id": [1, 2, 3], "name": ["A", "B", "C"], "households": [100, 300, 50]},
                             geometry=[shapely.box(X0 + 100, Y0 + 100, X0 + 200, Y0 + 200),
                                       shapely.box(X0 + 300, Y0 + 100, X0 + 400, Y0 + 200),
                                       shapely.box(X0 + 800, Y0 + 800, X0 + 900, Y0 + 900)], crs=4547)
    kg = gpd.GeoDataFrame({"name": ["K"], "category": ["kindergarten"], "capacity": [200.0]},
                          geometry=[xy(250, 200)], crs=4547)
    net = build_network(grid_roads)
    out = supply_demand(areas, kg, "kindergarten", network=net).set_index("name")
    # Population 262 + 786 = 1048 share 200 seats: 200/1048 seats per person for A and B.
    assert out.loc["A", "accessibility"] == pytest.approx(200 / 1048, abs=1e-5)
    assert out.loc["B", "per_1000"] == pytest.approx(1000 * 200 / 1048, abs=0.01)
    assert out.loc["C", "accessibility"] == 0 and out.loc["C", "facilities"] == 0
    assert out.attrs["catchment_m"] == 300
    with pytest.raises(InputError, match="needs capacities|with a capacity"):
        supply_demand(areas, kg.assign(capacity=None), "kindergarten")


def test_facilities_near_a_point(grid_services, grid_roads):
    from gis.facilities import facilities_near

    net = build_network(grid_roads)
    svc = grid_services.to_crs(4490).assign(id=range(1, 6))
    origin = gpd.GeoSeries([xy(150, 200)], crs=4547).to_crs(4490).iloc[0]
    found = facilities_near(origin.x, origin.y, svc, radius_m=400, network=net).set_index("name")
    # P1 30 m; K1 350 m on foot (250 m straight); K2 400 m on its street; C1 inside area B is 710 m off.
    assert list(found.index) == ["P1", "K1", "K2"]
    assert found.loc["K1", "network_m"] == pytest.approx(350, abs=0.1)
    assert found.loc["K1", "straight_m"] == pytest.approx(250, abs=0.1)
    with pytest.raises(InputError, match="swapped"):
        facilities_near(origin.y, origin.x, svc)
