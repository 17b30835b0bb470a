"""Walking access where a street enters an area, and isochrones that follow the point rule.

Hand-built networks on the GK plane (EPSG:4547); every expected figure is worked out by hand.
"""

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis.access import access_points
from gis.isochrones import walking_isochrones
from gis.network import NearestField, Snapped, build_network
from gis.services import nearest_services

X0, Y0 = 430000.0, 3900000.0


def xy(x, y):
    return shapely.Point(X0 + x, Y0 + y)


def box(x0, y0, x1, y1):
    return gpd.GeoDataFrame({"name": ["area"]}, geometry=[shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)],
                            crs=4547)


def roads(lines):
    return gpd.GeoDataFrame({"name": ["street"] * len(lines)}, geometry=lines, crs=4547)


@pytest.fixture(scope="module")
def grid_net():
    """An 11 × 11 street grid at 100 m, rows and columns as whole lines."""
    lines = [shapely.LineString([(X0 + i * 100, Y0 + j * 100) for j in range(11)]) for i in range(11)]
    lines += [shapely.LineString([(X0 + i * 100, Y0 + j * 100) for i in range(11)]) for j in range(11)]
    return build_network(roads(lines))


@pytest.fixture(scope="module")
def jittered_net():
    """A 12 × 12 grid of 100 m blocks with nodes moved up to 12 m and a few links missing
    (dead ends), like the sample city's streets."""
    rng = np.random.default_rng(7)
    n = 12
    node = np.stack(np.meshgrid(np.arange(n) * 100.0, np.arange(n) * 100.0, indexing="ij"), axis=-1)
    node += rng.uniform(-12, 12, node.shape)
    lines = []
    for i in range(n):
        for j in range(n):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < n and j + dj < n and rng.random() > 0.06:
                    lines.append(shapely.LineString([node[i, j] + (X0, Y0), node[i + di, j + dj] + (X0, Y0)]))
    return build_network(roads(lines))


# --- access points where a street crosses or touches the boundary ---------------------------


@pytest.mark.parametrize("centre", [(500, 500), (500, 450)], ids=["on a junction", "mid-block"])
def test_a_street_through_a_small_area_is_walked_from_where_it_enters(grid_net, centre):
    # A 20 m × 20 m area has access points only at its corners (25 m spacing), 10 m off the
    # street x = 500 through it. A facility 250 m north of the centre is 240 m from where the
    # street leaves the area at y = centre + 10; from a corner it was 10 + 240 = 250 m, and
    # 270 m when the corner snapped to the cross street y = 500 (10 + 10 + 250).
    cx, cy = centre
    area = box(cx - 10, cy - 10, cx + 10, cy + 10)
    kg = gpd.GeoDataFrame({"name": ["K"], "category": ["kindergarten"]}, geometry=[xy(cx, cy + 250)], crs=4547)
    r = nearest_services(area, kg, network=grid_net, categories=["kindergarten"]).iloc[0]
    assert r.network_m == pytest.approx(240.0, abs=0.05)
    assert r.count_300 == 1


def test_crossing_and_touching_streets_are_access_points():
    # Street A crosses the 20 m square [-10, 10]² along x = 0; street B ends on its right
    # edge at (10, 4); street C passes 5 m below it and stays outside.
    net = build_network(roads([shapely.LineString([(X0, Y0 - 100), (X0, Y0 + 100)]),
                               shapely.LineString([(X0 + 60, Y0 + 4), (X0 + 10, Y0 + 4)]),
                               shapely.LineString([(X0 - 100, Y0 - 15), (X0 + 100, Y0 - 15)])]))
    square = shapely.box(X0 - 10, Y0 - 10, X0 + 10, Y0 + 10)
    pts, index = access_points(np.array([square, xy(50, 50)]), 25.0, net)
    found = {(round(x - X0, 6), round(y - Y0, 6)) for x, y in pts[index == 0]}
    corners = {(-10.0, -10.0), (10.0, -10.0), (10.0, 10.0), (-10.0, 10.0)}
    assert found == corners | {(0.0, -10.0), (0.0, 10.0), (10.0, 4.0)}
    assert pts[index == 1].tolist() == [[X0 + 50, Y0 + 50]]
    on_street = pts[index == 0][-3:]  # the crossings come after the sampled boundary
    assert {(round(x - X0, 6), round(y - Y0, 6)) for x, y in on_street} == {(0.0, -10.0), (0.0, 10.0), (10.0, 4.0)}
    assert np.all(net.snap(on_street).offset < 1e-9)
    # Without a network only the sampled boundary points are made.
    assert len(access_points(np.array([square]), 25.0)[0]) == 5  # four corners, the first repeated


# --- isochrones -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_street_iso():
    # One straight 2 km street y = 0 from x = -1000 to 1000, no junction near; the area
    # [-10, 10] × [10, 30] lies 10 m north of it. Its lower corners snap to (±10, 0) at 10 m,
    # so a point (x, y) east of them is at |y| + x walking metres (x ≥ 10).
    net = build_network(roads([shapely.LineString([(X0 - 1000, Y0), (X0 + 1000, Y0)])]))
    iso = walking_isochrones(box(-10, 10, 10, 30), net)
    return iso.to_crs(4547).set_index("threshold_m")


@pytest.mark.parametrize(("limit", "inside", "outside"), [
    (300, [(250, 0), (-250, 0), (250, 45), (270, -25), (295, 4)], [(320, 0), (280, 30), (250, 55), (0, 60)]),
    (500, [(450, 0), (480, 15), (-480, -15)], [(490, 15), (520, 0)]),
    (1000, [(900, 0), (950, 40), (-990, 5)], [(980, 30), (1010, 0)]),
])
def test_isochrones_reach_along_a_long_street_from_the_snap_point(long_street_iso, limit, inside, outside):
    g = long_street_iso.loc[limit, "geometry"]
    assert all(g.contains(xy(x, y)) for x, y in inside)
    assert not any(g.contains(xy(x, y)) for x, y in outside)


def test_long_street_isochrone_areas(long_street_iso):
    # Full 50 m depth on both sides while |x| + 50 <= D, then a taper to 0 at |x| = D: a
    # 100 m wide band 2(D - 50) long plus four 50 × 50 / 2 triangles (the area lies inside).
    for limit in (300, 500, 1000):
        expected = 100 * 2 * (limit - 50) + 4 * 1250
        assert long_street_iso.loc[limit, "area_m2"] == pytest.approx(expected, abs=0.5)


def _rule_range(net, field, pts, tie_m):
    """Walking metres by the services rule (snap to the nearest segment, offset added), as
    its least and largest value over the segments within ``tie_m`` of the nearest: the output
    is on a 1e-7° (~1 cm) grid, so a point that close to a tie may go either way."""
    snap = net.snap(pts)
    pi, si = net.tree.query(shapely.points(pts), predicate="dwithin", distance=snap.offset + tie_m)
    a, b = net.node_xy[net.seg_u[si]], net.node_xy[net.seg_v[si]]
    ab = b - a
    t = np.clip(((pts[pi] - a) * ab).sum(axis=1) / (ab * ab).sum(axis=1), 0, 1)
    proj = a + t[:, None] * ab
    _, f = field.at(Snapped(si, t, np.hypot(*(pts[pi] - proj).T), proj))
    low, high = np.full(len(pts), np.inf), np.full(len(pts), -np.inf)
    np.minimum.at(low, pi, f)
    np.maximum.at(high, pi, f)
    return low, high, snap.offset


@pytest.mark.parametrize(("net_name", "corners"), [
    ("grid_net", (490, 490, 510, 510)),
    ("grid_net", (420, 430, 570, 555)),
    ("jittered_net", (430, 520, 610, 640)),
])
def test_isochrones_follow_the_point_rule(request, net_name, corners):
    net = request.getfixturevalue(net_name)
    area = box(*corners)
    _assert_point_rule(net, area, walking_isochrones(area, net))


@pytest.mark.parametrize("net_name", ["grid_net", "jittered_net"])
def test_isochrones_nest_exactly(request, net_name):
    net = request.getfixturevalue(net_name)
    iso = walking_isochrones(box(480, 470, 530, 540), net).set_index("threshold_m").geometry
    _assert_nested(iso)


def test_isochrones_on_the_sample_city(sample_store):
    net = build_network(sample_store.read("roads"))
    areas = sample_store.read("renewal_areas")
    area = areas[areas.name == "西大井片区"]
    iso = walking_isochrones(area, net)
    _assert_nested(iso.set_index("threshold_m").geometry)
    _assert_point_rule(net, area, iso)


def _assert_point_rule(net, area, iso, n=30000):
    """Inside the D polygon (outside the area): offset + walking metres of the snap point
    <= D; and every point within D and within 50 m of its street is inside."""
    iso = iso.to_crs(net.crs).set_index("threshold_m")
    geom = area.to_crs(net.crs).geometry.union_all()
    field = NearestField(net, access_points(np.array([geom]), 25.0, net)[0])
    rng = np.random.default_rng(3)
    x0, y0, x1, y1 = iso.loc[1000, "geometry"].bounds
    pts = np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)])
    low, high, offset = _rule_range(net, field, pts, tie_m=0.05)
    outside_area = ~shapely.contains(geom, shapely.points(pts))
    for limit, g in iso.geometry.items():
        inside = shapely.contains(g, shapely.points(pts)) & outside_area
        assert inside.sum() > 1000
        assert np.all(low[inside] <= limit + 0.5), np.max(low[inside] - limit)
        reachable = outside_area & (high <= limit - 0.5) & (offset <= 50 - 0.5)
        assert np.all(inside[reachable])


def _assert_nested(iso):
    assert list(iso.index) == [1000, 500, 300]
    assert all(shapely.is_valid(iso)) and set(iso.geom_type) <= {"Polygon", "MultiPolygon"}
    # Coordinates are on the 1e-7° grid the GeoJSON writers keep; they nest as returned and
    # after the API's own set_precision.
    steps = shapely.get_coordinates(iso.values) * 1e7
    assert np.abs(steps - np.round(steps)).max() < 1e-3
    for g in (iso, gpd.GeoSeries(shapely.set_precision(iso.values, 1e-7), index=iso.index)):
        assert g.loc[300].within(g.loc[500]) and g.loc[500].within(g.loc[1000])
