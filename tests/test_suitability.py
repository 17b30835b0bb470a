"""Suitability: transforms at their thresholds, combination with known answers, AHP against
Saaty's published example, parcel rules, regions and sensitivity."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from gis.errors import InputError
from gis.suitability.combine import Criterion, combine_arrays, combine_rasters
from gis.suitability.grid import Grid
from gis.suitability.model import CriterionSpec, SuitabilitySpec, load_spec
from gis.suitability.regions import grow_regions
from gis.suitability.sensitivity import weight_sensitivity
from gis.suitability.sites import SiteRules, score_parcels, select_sites
from gis.suitability.surface import build_surface
from gis.suitability.transforms import (
    Transform,
    apply_transform,
    classes,
    far,
    gaussian,
    linear,
    ms_large,
    ms_small,
    near,
)
from gis.suitability.weights import ahp_weights

X0, Y0 = 430000.0, 3900000.0

SAATY_HOUSE = """1 5 3 7 6 6 1/3 1/4
1/5 1 1/3 5 3 3 1/5 1/7
1/3 3 1 6 3 4 6 1/5
1/7 1/5 1/6 1 1/3 1/4 1/7 1/8
1/6 1/3 1/3 3 1 1/2 1/5 1/6
1/6 1/3 1/4 4 2 1 1/5 1/6
3 5 1/6 7 5 5 1 1/2
4 7 5 8 6 6 2 1"""
HOUSE_NAMES = ["size", "transportation", "neighborhood", "age", "yard", "modern_facilities", "condition", "financing"]


def saaty_matrix():
    from fractions import Fraction

    return np.array([[float(Fraction(x)) for x in row.split()] for row in SAATY_HOUSE.splitlines()])


# --- transforms at their thresholds -----------------------------------------------------

def test_linear_at_thresholds():
    assert linear([0, 100, 200, 300], 100, 200).tolist() == [0, 0, 1, 1]
    assert linear([150], 100, 200)[0] == pytest.approx(0.5)
    assert linear([100, 200], 100, 200, increasing=False).tolist() == [1, 0]
    with pytest.raises(InputError, match="greater than"):
        linear([1], 5, 5)


def test_ms_small_and_large_follow_arcgis():
    # m = 100, s = 50: at and below a·m → 1 (small) / 0 (large); at m + s: b·s/(s + b·s) = 0.5.
    assert ms_small([50, 100, 150], mean=100, std=50).tolist() == pytest.approx([1, 1, 0.5])
    assert ms_large([50, 100, 150], mean=100, std=50).tolist() == pytest.approx([0, 0, 0.5])


def test_gaussian_near_far_classes_at_thresholds():
    assert gaussian([10, 12], ideal=10, width=2).tolist() == pytest.approx([1, np.exp(-0.5)])
    assert near([500], 500, 100)[0] == pytest.approx(0.5)
    assert far([500], 500, 100)[0] == pytest.approx(0.5)
    assert near([600], 500, 100)[0] == pytest.approx(1 / (1 + np.e))
    assert classes([2.999, 3, 8, 15], [3, 8, 15], [1, 0.7, 0.3, 0]).tolist() == pytest.approx([1, 0.7, 0.3, 0])


def test_transform_keeps_nodata_and_checks_parameters():
    out = apply_transform(np.array([np.nan, 0.0]), Transform("linear", {"low": 0, "high": 1}))
    assert np.isnan(out[0]) and out[1] == 0
    with pytest.raises(InputError, match="unknown transform"):
        Transform("sigmoid")
    with pytest.raises(InputError, match="bad parameters"):
        apply_transform([1.0], Transform("near", {"mid": 1}))


# --- combination ------------------------------------------------------------------------

def _write(path, array, **options):
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[1], height=array.shape[0], count=1,
                       dtype=array.dtype, crs="EPSG:4547", transform=from_origin(X0, Y0, 10, 10),
                       nodata=None if array.dtype == np.uint8 else float("nan"), **options) as dst:
        dst.write(array, 1)
    return str(path)


def test_weighted_sum_of_small_rasters_is_known(tmp_path):
    a = np.array([[0, 100], [200, 400]], np.float32)  # linear 0→400 increasing: 0, .25, .5, 1
    b = np.array([[1, 1], [0, 0]], np.float32)  # already 0–1
    crit = [Criterion("a", _write(tmp_path / "a.tif", a), Transform("linear", {"low": 0, "high": 400}), 3),
            Criterion("b", _write(tmp_path / "b.tif", b), Transform("linear", {"low": 0, "high": 1}), 1)]
    reason = _write(tmp_path / "r.tif", np.array([[0, 0], [0, 1]], np.uint8))
    factor = _write(tmp_path / "f.tif", np.array([[1, 0.5], [1, 1]], np.float32))
    out = combine_rasters(crit, tmp_path / "s.tif", reason_path=reason, factor_path=factor, tile=1)
    with rasterio.open(out) as src:
        s = src.read(1)
    # 0.75·a + 0.25·b: [0.25, 0.1875+0.25=0.4375 × 0.5 penalty], [0.375, excluded]
    assert s[0, 0] == pytest.approx(0.25) and s[0, 1] == pytest.approx(0.21875)
    assert s[1, 0] == pytest.approx(0.375) and np.isnan(s[1, 1])


def test_product_and_minimum():
    a, b = np.array([0.25, 1.0], np.float32), np.array([1.0, 0.5], np.float32)
    assert combine_arrays([a, b], [1, 1], "weighted_product").tolist() == pytest.approx([0.5, np.sqrt(0.5)])
    assert combine_arrays([a, b], [1, 1], "minimum").tolist() == [0.25, 0.5]
    with pytest.raises(InputError, match="unknown combination"):
        combine_arrays([a], [1], "max")


ALL_TRANSFORMS = [Transform("linear", {"low": 100, "high": 900}),
                  Transform("linear", {"low": 100, "high": 900, "increasing": False}),
                  Transform("ms_small", {"mean": 400, "std": 150}), Transform("ms_large", {"mean": 400, "std": 150}),
                  Transform("gaussian", {"ideal": 500, "width": 120}), Transform("near", {"midpoint": 300, "spread": 60}),
                  Transform("far", {"midpoint": 300, "spread": 60}),
                  Transform("classes", {"breaks": [200, 400, 800], "values": [1, 0.7, 0.3, 0]})]


@pytest.mark.parametrize("transform", ALL_TRANSFORMS, ids=lambda t: t.kind)
def test_in_place_and_scaled_transforms_equal_the_plain_one(transform):
    """The raster pipeline transforms its window buffers in place and folds the weight in;
    both must give exactly what the plain transform gives."""
    x = np.random.default_rng(1).uniform(-50, 1200, 5000).astype(np.float32)
    x[::97] = np.nan
    plain = apply_transform(x, transform)
    buf = x.copy()
    assert apply_transform(buf, transform, out=buf) is buf
    np.testing.assert_array_equal(buf, plain)
    scaled = apply_transform(x, transform, scale=0.3)
    np.testing.assert_allclose(scaled, plain * np.float32(0.3), rtol=2e-6, atol=1e-7)
    assert np.isnan(scaled[::97]).all() and np.isfinite(scaled[1::97]).all()


def _grid_rasters(tmp_path, h, w, seed=0):
    """Three criteria (NaN patches), an exclusion raster and a penalty factor on one grid."""
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(0, 1000, (h, w)).astype(np.float32) for _ in range(3)]
    arrays[1][5:9, 3:40] = np.nan
    reason = np.zeros((h, w), np.uint8)
    reason[-10:, -7:] = 1
    factor = np.where(rng.random((h, w)) < 0.2, 0.5, 1).astype(np.float32)
    paths = [_write(tmp_path / f"c{k}.tif", a) for k, a in enumerate(arrays)]
    return arrays, paths, reason, _write(tmp_path / "r.tif", reason), factor, _write(tmp_path / "f.tif", factor)


@pytest.mark.parametrize("method", ["weighted_sum", "weighted_product", "minimum"])
def test_windowed_surface_equals_the_full_array_expression(tmp_path, method):
    """Many windows, edge windows and two threads give what one full-array expression gives."""
    arrays, paths, reason, reason_path, factor, factor_path = _grid_rasters(tmp_path, 150, 130)
    transforms = [ALL_TRANSFORMS[0], ALL_TRANSFORMS[5], ALL_TRANSFORMS[7]]
    weights = [5, 3, 2]
    crit = [Criterion(f"c{k}", p, t, w) for k, (p, t, w) in enumerate(zip(paths, transforms, weights, strict=True))]
    out = combine_rasters(crit, tmp_path / "s.tif", method=method, reason_path=reason_path, factor_path=factor_path,
                          tile=32, workers=2)
    expected = combine_arrays([apply_transform(a, t) for a, t in zip(arrays, transforms, strict=True)], weights,
                              method) * factor
    expected[reason > 0] = np.nan
    with rasterio.open(out) as src:
        np.testing.assert_allclose(src.read(1), expected, rtol=1e-6, atol=1e-6)
        assert src.overviews(1) == [2]  # 4x would leave fewer than 64 cells a side


def test_ms_small_uses_statistics_of_the_whole_raster(tmp_path):
    """Per-window statistics would score the same value differently in each window."""
    a = np.zeros((64, 64), np.float32)
    a[:, :32] = np.linspace(0, 100, 32 * 64).reshape(64, 32)
    a[:, 32:] = np.linspace(500, 1000, 32 * 64).reshape(64, 32)
    t = Transform("ms_small", {})
    out = combine_rasters([Criterion("a", _write(tmp_path / "a.tif", a), t, 1)], tmp_path / "s.tif", tile=32,
                          compress=None)
    with rasterio.open(out) as src:
        np.testing.assert_allclose(src.read(1), ms_small(a, mean=float(a.mean()), std=float(a.std())), rtol=1e-5)


@pytest.mark.parametrize("shape, compress", [((1024, 1040), "ZSTD"), ((1024, 1040), None), ((700, 650), "ZSTD")],
                         ids=["aligned", "aligned-uncompressed", "unaligned"])
def test_overviews_are_gdal_averages(tmp_path, shape, compress):
    """Overviews taken from each window as it is computed (aligned grids) and those GDAL builds
    (other grids) both equal GDAL's ``average`` overviews of the written surface, NoData skipped,
    in the compressed copy and in the file written directly."""
    h, w = shape
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 1000, (h, w)).astype(np.float32)
    a[rng.random((h, w)) < 0.3] = np.nan
    a[:100, :150] = np.nan
    out = combine_rasters([Criterion("a", _write(tmp_path / "a.tif", a), Transform("linear", {"low": 0, "high": 1000}), 1)],
                          tmp_path / "s.tif", tile=256, compress=compress)
    reference = tmp_path / "ref.tif"
    with rasterio.open(out) as src:
        profile = {**src.profile, "compress": None}
        full = src.read(1)
        levels = [src.read(1, out_shape=(-(-h // f), -(-w // f))) for f in src.overviews(1)]
        assert src.overviews(1) == ([2, 4, 8, 16] if shape == (1024, 1040) else [2, 4, 8])
        assert src.tags()["OVERVIEW_RESAMPLING"] == "average"
        if compress:
            assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"  # the compressed copy: overviews first
            assert src.profile["compress"] == "zstd"
        else:
            assert "compress" not in src.profile
    np.testing.assert_allclose(full, linear(a, 0, 1000), atol=1e-7)
    with rasterio.open(reference, "w", **profile) as dst:
        dst.write(full, 1)
        dst.build_overviews([2, 4, 8, 16][:len(levels)], rasterio.enums.Resampling.average)
    for i, level in enumerate(levels):
        with rasterio.open(reference, overview_level=i) as ref:
            expected = ref.read(1)
        assert level.shape == expected.shape
        np.testing.assert_allclose(level, expected, atol=1e-6)
        np.testing.assert_array_equal(np.isnan(level), np.isnan(expected))


def test_block_reads_give_the_surface_gdal_reads_give(tmp_path):
    """Criteria tiled like the ones build_surface writes are read block by block from the file;
    the same values stored in strips go through GDAL. Both surfaces are identical, edge windows,
    NoData, exclusions and penalties included."""
    h, w = 1100, 1300
    rng = np.random.default_rng(8)
    a = rng.uniform(0, 3000, (h, w)).astype(np.float32)
    a[rng.random((h, w)) < 0.05] = np.nan
    b = rng.uniform(0, 20, (h, w)).astype(np.float32)
    reason = (rng.random((h, w)) < 0.1).astype(np.uint8)
    factor = rng.uniform(0.5, 1, (h, w)).astype(np.float32)
    transforms = [Transform("near", {"midpoint": 500, "spread": 100}),
                  Transform("classes", {"breaks": [3, 8, 15], "values": [1, 0.7, 0.3, 0]})]
    surfaces = []
    for layout, options in [("tiled", {"tiled": True, "blockxsize": 512, "blockysize": 512}), ("striped", {})]:
        folder = tmp_path / layout
        folder.mkdir()
        paths = [_write(folder / f"{name}.tif", arr, **options)
                 for name, arr in [("a", a), ("b", b), ("reason", reason), ("factor", factor)]]
        crit = [Criterion(n, p, t, wt) for n, p, t, wt in zip("ab", paths[:2], transforms, [2, 1], strict=True)]
        out = combine_rasters(crit, folder / "s.tif", reason_path=paths[2], factor_path=paths[3], compress=None)
        with rasterio.open(out) as src:
            surfaces.append(src.read(1))
    expected = (2 * near(a, 500, 100) + classes(b, [3, 8, 15], [1, 0.7, 0.3, 0])) / 3 * factor
    expected[reason > 0] = np.nan
    np.testing.assert_array_equal(surfaces[0], surfaces[1])
    np.testing.assert_allclose(surfaces[0], expected, atol=1e-6)
    np.testing.assert_array_equal(np.isnan(surfaces[0]), np.isnan(expected))


# --- AHP --------------------------------------------------------------------------------

def test_saaty_house_example_weights_and_cr():
    r = ahp_weights(saaty_matrix(), HOUSE_NAMES, allow_inconsistent=True)
    assert np.round(r.weights, 3).tolist() == [0.173, 0.054, 0.188, 0.018, 0.031, 0.036, 0.167, 0.333]
    assert r.lambda_max == pytest.approx(9.669, abs=1e-3)
    assert r.ci == pytest.approx(0.238, abs=1e-3) and r.cr == pytest.approx(0.169, abs=1e-3)
    assert not r.consistent


def test_inconsistent_matrix_is_refused_naming_the_pair():
    with pytest.raises(InputError, match=r"CR = 0\.169 >= 0\.1.*neighborhood vs condition"):
        ahp_weights(saaty_matrix(), HOUSE_NAMES)


def test_consistent_matrix_has_exact_weights():
    r = ahp_weights([[1, 3, 9], [1 / 3, 1, 3], [1 / 9, 1 / 3, 1]])
    assert r.weights.tolist() == pytest.approx([9 / 13, 3 / 13, 1 / 13]) and r.cr == pytest.approx(0, abs=1e-9)


def test_bad_matrices():
    with pytest.raises(InputError, match="not reciprocal"):
        ahp_weights([[1, 2], [2, 1]])
    with pytest.raises(InputError, match="square"):
        ahp_weights([[1, 2, 3]])
    with pytest.raises(InputError, match="positive"):
        ahp_weights([[1, -2], [-0.5, 1]])


# --- parcels ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A straight-line world: origin square, services east of it, a subsidence zone north."""
    def box(x0, y0, x1, y1):
        return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)

    origin = gpd.GeoDataFrame({"name": ["O"], "units": [100]}, geometry=[box(0, 0, 200, 200)], crs=4547)
    services = gpd.GeoDataFrame({"name": ["s1", "s2"], "category": ["primary_school", "primary_school"]},
                                geometry=[shapely.Point(X0 + 700, Y0 + 100), shapely.Point(X0 + 700, Y0 + 900)],
                                crs=4547)
    constraints = gpd.GeoDataFrame({"name": ["塌陷"], "kind": ["subsidence"], "severity": ["exclude"],
                                    "buffer_m": [0.0]}, geometry=[box(300, 600, 1000, 1000)], crs=4547)
    parcels = gpd.GeoDataFrame({"id": [1, 2, 3], "name": ["good", "sinking", "tiny"], "max_far": [2.0, 2.0, 2.0]},
                               geometry=[box(600, 0, 800, 200), box(600, 700, 800, 900), box(400, 0, 430, 30)],
                               crs=4547)
    spec = SuitabilitySpec((
        CriterionSpec("origin", "origin", Transform("linear", {"low": 0, "high": 1000, "increasing": False}), 1),
        CriterionSpec("school", "service:primary_school", Transform("linear", {"low": 0, "high": 1000,
                                                                               "increasing": False}), 1),
    ), resolution=10, max_distance_m=1000)
    surface = build_surface(origin, tmp_path_factory.mktemp("surf"), services=services, constraints=constraints,
                            spec=spec)
    scored = score_parcels(parcels, surface, constraints, origin)
    return origin, surface, scored


def test_contributions_add_up_to_the_score(world):
    _, _, scored = world
    good = scored.set_index("name").loc["good"]
    assert good.c_origin + good.c_school == pytest.approx(good.score, abs=1e-6)
    # Hand check: cells of "good" span x 600–800 (origin 400–600 m away), school 0–~140 m.
    assert good.c_origin == pytest.approx(0.5 * (1 - 0.5), abs=0.01)  # mean distance 500 m
    assert 0.4 < good.c_school < 0.5


def test_parcel_on_subsidence_is_excluded_with_its_reason(world):
    _, _, scored = world
    sinking = scored.set_index("name").loc["sinking"]
    assert sinking.excluded_share == pytest.approx(1.0)
    assert "采煤塌陷区(subsidence) 100%" in sinking.excluded_by
    sel = select_sites(scored, SiteRules(units=10))
    assert "sinking" not in sel.candidates.name.tolist()
    assert "constraints" in sel.scored.set_index("name").loc["sinking", "failed_rules"]


def test_parcel_too_small_for_the_units_is_rejected(world):
    _, _, scored = world
    # 100 units × 90 m² ÷ FAR 2 = 4,500 m²: "good" (40,000 m²) holds them, "tiny" (900 m²) does not.
    sel = select_sites(scored, SiteRules(units=100))
    s = sel.scored.set_index("name")
    assert s.loc["tiny", "required_m2"] == pytest.approx(4500) and s.loc["tiny", "required_mu"] == pytest.approx(6.75)
    assert not s.loc["tiny", "passes"] and "capacity" in s.loc["tiny", "failed_rules"]
    assert sel.candidates.name.tolist() == ["good"]
    assert sel.removed == {"outside_surface": 0, "capacity": 1, "constraints": 1}


def test_nothing_qualifies_reports_removals(world):
    _, _, scored = world
    sel = select_sites(scored, SiteRules(units=100000, max_distance_m=10))
    assert sel.candidates.empty
    assert sel.removed["capacity"] == 3 and sel.removed["max_distance"] == 3


def test_binding_rule_is_named(world):
    _, _, scored = world
    # 850 units × 90 ÷ 2 = 38,250 m² of the 40,000 m² parcel: 96% → binding.
    sel = select_sites(scored, SiteRules(units=850))
    assert "capacity: needs 96% of the parcel" in sel.candidates.binding.iloc[0]


def test_weights_file_with_ahp(tmp_path):
    f = tmp_path / "w.yaml"
    f.write_text("method: weighted_sum\nahp:\n  names: [origin, bus_stop, hospital]\n"
                 "  matrix: [[1, 3, 9], [0.3333333333, 1, 3], [0.1111111111, 0.3333333333, 1]]\n"
                 "criteria:\n  market: 0\n", encoding="utf-8")
    spec = load_spec(f)
    w = spec.weights()
    assert "market" not in w and w["origin"] / w["bus_stop"] == pytest.approx(3, rel=1e-3)


# --- regions and sensitivity --------------------------------------------------------------

def test_regions_grow_on_the_best_cells():
    grid = Grid.from_bounds((X0, Y0, X0 + 500, Y0 + 500), 10, "EPSG:4547")
    surface = np.full((grid.height, grid.width), 0.2, np.float32)
    surface[10:20, 30:40] = 0.9  # a 100 m × 100 m block of excellent cells (rows from the north)
    surface[0:5, 0:5] = np.nan
    regions = grow_regions(surface, grid, required_m2=10000, top=2, connectivity=4)
    best = regions.iloc[0]
    assert best.score == pytest.approx(0.9) and best.area_m2 == pytest.approx(10000, abs=1)
    assert best.compactness == pytest.approx(np.pi / 4, abs=1e-3)  # a square: 4πA/P² = π/4
    assert len(regions) == 2 and regions.iloc[1].score < 0.9


def test_sensitivity_keeps_a_dominant_parcel_on_top():
    import pandas as pd

    cand = pd.DataFrame({"name": ["best", "mid", "low", "worst"],
                         "v_a": [0.9, 0.6, 0.5, 0.1], "v_b": [0.9, 0.5, 0.6, 0.1]})
    s = weight_sensitivity(cand, {"a": 0.5, "b": 0.5}).set_index("name")
    assert s.loc["best", "oat_top"] == 1 and s.loc["best", "mc_top"] == 1
    assert s.loc["worst", "mc_top"] == 0


# --- criterion rasters, window by window --------------------------------------------------

def _stitched(source, grid, tile, network=None):
    """A prepared criterion evaluated window by window and put back together."""
    out = np.full((grid.height, grid.width), -1, np.float32)
    for w in grid.windows(tile):
        sub = grid.window_grid(w)
        cells = network.snap(sub.centers()) if network is not None else None
        out[w.row_off:w.row_off + w.height, w.col_off:w.col_off + w.width] = source.values(sub, cells)
    return out


def _city():
    """Streets every 100 m over 1 km², a school and a clinic, a square origin area."""
    from gis.network import build_network

    lines = [shapely.LineString([(X0, Y0 + k * 100), (X0 + 1000, Y0 + k * 100)]) for k in range(11)]
    lines += [shapely.LineString([(X0 + k * 100, Y0), (X0 + k * 100, Y0 + 1000)]) for k in range(11)]
    roads = gpd.GeoDataFrame({"road_class": ["arterial"] * 11 + ["local"] * 11}, geometry=lines, crs=4547)
    pts = gpd.GeoDataFrame({"category": ["primary_school", "clinic"]},
                           geometry=[shapely.Point(X0 + 250, Y0 + 700), shapely.Point(X0 + 830, Y0 + 130)], crs=4547)
    area = gpd.GeoDataFrame({"name": ["O"]}, geometry=[shapely.box(X0 + 420, Y0 + 420, X0 + 580, Y0 + 580)], crs=4547)
    return roads, build_network(roads), pts, area


def test_grid_sides_are_multiples_of_16_and_window_grids_tile_it():
    grid = Grid.from_bounds((X0, Y0, X0 + 1003, Y0 + 497), 10, "EPSG:4547")
    assert (grid.width, grid.height) == (112, 64)
    subs = [grid.window_grid(w) for w in grid.windows(50)]
    assert sum(s.width * s.height for s in subs) == grid.width * grid.height
    np.testing.assert_array_equal(np.vstack([s.centers() for s in subs[:1]]), grid.centers(next(grid.windows(50))))


def test_straight_distances_have_worked_answers_in_every_window():
    from gis.suitability import criteria as crit

    roads, _, pts, area = _city()
    grid = Grid.from_bounds((X0, Y0, X0 + 1000, Y0 + 1000), 10, "EPSG:4547")
    xy = grid.centers()
    school = pts[pts.category == "primary_school"]
    got = _stitched(crit.PointDistance(school, grid.crs, None), grid, 37)
    expected = np.hypot(xy[:, 0] - (X0 + 250), xy[:, 1] - (Y0 + 700)).reshape(grid.height, grid.width)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    got = _stitched(crit.AreaDistance(area, grid.crs, None), grid, 37)
    dx = np.maximum(np.maximum(X0 + 420 - xy[:, 0], xy[:, 0] - (X0 + 580)), 0)
    dy = np.maximum(np.maximum(Y0 + 420 - xy[:, 1], xy[:, 1] - (Y0 + 580)), 0)
    np.testing.assert_allclose(got, np.hypot(dx, dy).reshape(got.shape), atol=1e-3)  # 0 inside
    main = roads[roads.road_class == "arterial"]  # east–west streets at y = 0, 100 … 1000
    got = _stitched(crit.LineDistance(main, grid.crs, grid.resolution), grid, 37)
    yy = (xy[:, 1] - Y0) % 100
    expected = np.minimum(yy, 100 - yy).reshape(got.shape)
    # The grid runs on past the streets (sides are multiples of 16 cells): check within them.
    inside = ((xy[:, 0] <= X0 + 1000) & (xy[:, 1] >= Y0) & (xy[:, 1] <= Y0 + 1000)).reshape(got.shape)
    assert np.abs(got - expected)[inside].max() <= grid.resolution / 4


def test_network_distance_windowed_equals_one_pass():
    from gis.suitability import criteria as crit

    _, net, pts, area = _city()
    grid = Grid.from_bounds((X0, Y0, X0 + 1000, Y0 + 1000), 10, "EPSG:4547")
    for source in (crit.PointDistance(pts, grid.crs, net), crit.AreaDistance(area, grid.crs, net)):
        whole = source.values(grid, net.snap(grid.centers()))
        np.testing.assert_array_equal(_stitched(source, grid, 29, net), whole)
    # Worked answer: the cell centred at (255, 705) is 5 m from the east–west street at y = 700,
    # on which the school stands 5 m to the west: 5 + 5 m.
    d = crit.PointDistance(pts[pts.category == "primary_school"], grid.crs, net).values(grid, None)
    row, col = int((grid.bounds[3] - (Y0 + 705)) // 10), 25
    assert d[row, col] == pytest.approx(10.0, abs=1e-6)


def test_slope_of_a_plane_in_every_window_and_at_the_edges(tmp_path):
    from gis.suitability import criteria as crit

    grid = Grid.from_bounds((X0, Y0, X0 + 600, Y0 + 400), 10, "EPSG:4547")
    expected = np.degrees(np.arctan(np.hypot(0.1, 0.05)))
    for margin, res in ((300, 30), (0, 10)):  # a DEM beyond the grid; one that ends at its edge
        x0, y1 = grid.bounds[0] - margin, grid.bounds[3] + margin
        w, h = round((grid.bounds[2] + margin - x0) / res), round((y1 - grid.bounds[1] + margin) / res)
        cx = x0 + res / 2 + res * np.arange(w)
        cy = y1 - res / 2 - res * np.arange(h)
        dem = (0.1 * (cx[None, :] - X0) + 0.05 * (cy[:, None] - Y0)).astype(np.float32)
        path = tmp_path / f"dem{margin}.tif"
        with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="float32", crs="EPSG:4547",
                           transform=from_origin(x0, y1, res, res), nodata=float("nan")) as dst:
            dst.write(dem, 1)
        with rasterio.open(path) as src:
            got = _stitched(crit.Slope(src), grid, 23)
        # Window edges use true neighbours; the grid's own edge, with no DEM beyond, one-sided ones.
        assert not np.isnan(got).any() and np.abs(got - expected).max() < 1e-3


def test_constraint_masks_windowed_equal_one_pass():
    from gis.suitability import criteria as crit

    grid = Grid.from_bounds((X0, Y0, X0 + 500, Y0 + 500), 10, "EPSG:4547")
    c = gpd.GeoDataFrame({"kind": ["subsidence", "flood", "farmland"], "severity": ["exclude", "exclude", "penalize"],
                          "buffer_m": [50.0, 0.0, 0.0]},
                         geometry=[shapely.Point(X0 + 100, Y0 + 100).buffer(30), shapely.box(X0 + 120, Y0, X0 + 300, Y0 + 200),
                                   shapely.box(X0 + 300, Y0 + 300, X0 + 500, Y0 + 500)], crs=4547)
    masks = crit.ConstraintMasks(c, grid.crs, 0.4)
    reason, factor = masks.at(grid)
    parts = {w: masks.at(grid.window_grid(w)) for w in grid.windows(21)}
    for w, (r, f) in parts.items():
        sl = np.s_[w.row_off:w.row_off + w.height, w.col_off:w.col_off + w.width]
        np.testing.assert_array_equal(r, reason[sl])
        np.testing.assert_array_equal(f, factor[sl])
    # The subsidence buffer (30 + 50 m) claims its cells before the flood box that overlaps it.
    xy = grid.centers().reshape(grid.height, grid.width, 2)
    d = np.hypot(xy[..., 0] - (X0 + 100), xy[..., 1] - (Y0 + 100))
    x, y = xy[..., 0] - X0, xy[..., 1] - Y0
    assert (reason[d < 75] == 1).all()
    assert (reason[(d > 85) & (x > 125) & (x < 295) & (y > 0) & (y < 195)] == 2).all()
    assert set(np.unique(factor)) == {np.float32(0.6), np.float32(1.0)}


def test_parcel_scores_do_not_depend_on_the_window_size(world, tmp_path):
    origin, surface, scored = world
    parcels = gpd.GeoDataFrame({"id": [1, 2, 3], "name": ["good", "sinking", "tiny"], "max_far": [2.0, 2.0, 2.0]},
                               geometry=scored.to_crs(4547).geometry.values, crs=4547)
    small = score_parcels(parcels, surface, None, origin, tile=17)
    cols = ["score", "score_min", "cells", "cells_total", "c_origin", "c_school"]
    pd.testing.assert_frame_equal(small[cols], scored[cols], rtol=1e-6)


def test_a_failed_combine_leaves_no_surface_and_keeps_the_old_one(tmp_path):
    """Bad input is refused before writing; a failure while writing leaves the previous file."""
    a = np.random.default_rng(3).uniform(0, 1000, (64, 64)).astype(np.float32)
    good = Criterion("a", _write(tmp_path / "a.tif", a), Transform("linear", {"low": 0, "high": 1000}), 1)
    out = tmp_path / "s.tif"
    combine_rasters([good], out, compress=None)
    before = out.read_bytes()
    with rasterio.open(tmp_path / "b.tif", "w", driver="GTiff", width=32, height=32, count=1, dtype="float32",
                       crs="EPSG:4547", transform=from_origin(X0, Y0, 20, 20)) as dst:
        dst.write(np.zeros((32, 32), np.float32), 1)
    other_grid = Criterion("b", str(tmp_path / "b.tif"), Transform("linear", {"low": 0, "high": 1}), 1)
    with pytest.raises(InputError, match="not on the grid"):
        combine_rasters([good, other_grid], out)
    bad = Criterion("c", good.path, Transform("gaussian", {"ideal": 0, "width": -1}), 1)  # fails in a worker
    with pytest.raises(InputError, match="width"):
        combine_rasters([good, bad], out, tile=16)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "b.tif", "s.tif"]


def test_ms_statistics_are_the_whole_rasters_for_surface_and_parcels(tmp_path):
    """The surface and the parcel scores share one mean/std: the whole criterion raster's."""
    origin = gpd.GeoDataFrame({"name": ["O"]}, geometry=[shapely.box(X0, Y0, X0 + 200, Y0 + 200)], crs=4547)
    spec = SuitabilitySpec((CriterionSpec("origin", "origin", Transform("ms_small", {}), 1),), resolution=10,
                           max_distance_m=800)
    surface = build_surface(origin, tmp_path, spec=spec)
    with rasterio.open(surface.criteria[0].path) as src:
        raw = src.read(1)
    params = surface.criteria[0].transform.params
    assert params["mean"] == pytest.approx(np.nanmean(raw), rel=1e-6)
    assert params["std"] == pytest.approx(np.nanstd(raw), rel=1e-6)
    parcel = gpd.GeoDataFrame({"id": [1]}, geometry=[shapely.box(X0 + 600, Y0, X0 + 800, Y0 + 200)], crs=4547)
    scored = score_parcels(parcel, surface, None, origin)
    with rasterio.open(surface.surface_path) as src:
        window = src.window(X0 + 600, Y0, X0 + 800, Y0 + 200)
        surface_mean = float(np.nanmean(src.read(1, window=window)))
    assert scored.score.iloc[0] == pytest.approx(surface_mean, rel=1e-5)


def test_recombined_surface_equals_a_fresh_build_with_the_same_spec(world, tmp_path):
    from dataclasses import replace

    from gis.suitability.surface import recombine

    origin, surface, _ = world
    services = gpd.GeoDataFrame({"name": ["s1", "s2"], "category": ["primary_school", "primary_school"]},
                                geometry=[shapely.Point(X0 + 700, Y0 + 100), shapely.Point(X0 + 700, Y0 + 900)],
                                crs=4547)
    constraints = gpd.GeoDataFrame({"name": ["塌陷"], "kind": ["subsidence"], "severity": ["exclude"],
                                    "buffer_m": [0.0]},
                                   geometry=[shapely.box(X0 + 300, Y0 + 600, X0 + 1000, Y0 + 1000)], crs=4547)
    reweighted = replace(surface.spec, method="weighted_product", criteria=(
        replace(surface.spec.criteria[0], weight=3),
        replace(surface.spec.criteria[1], weight=1, transform=Transform("near", {"midpoint": 300, "spread": 60}))))
    fast = recombine(surface, reweighted, tmp_path / "re")
    fresh = build_surface(origin, tmp_path / "fresh", services=services, constraints=constraints, spec=reweighted)
    with rasterio.open(fast.surface_path) as a, rasterio.open(fresh.surface_path) as b:
        assert a.transform == b.transform
        np.testing.assert_array_equal(a.read(1), b.read(1))
    with pytest.raises(InputError, match="same criteria"):
        recombine(surface, replace(reweighted, resolution=20), tmp_path / "other")
