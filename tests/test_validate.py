import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.crs import wgs84_to_gcj02
from gis.errors import CRSError, InputError, ValidationError
from layers.validate import validate_layer


def test_valid_areas_pass_and_chinese_labels_map_to_codes(areas_4490):
    v = validate_layer(areas_4490, "renewal_areas")
    assert v.frame.kind.tolist() == ["shantytown", "urban_village", "old_compound"]
    assert v.frame.status.tolist() == ["planned"] * 3  # schema default
    assert v.frame.households.tolist() == [100, 200, 300]
    assert (v.frame.area_mu > 0).all()


def test_chinese_column_headers_are_accepted(areas_4490):
    frame = areas_4490.rename(columns={"name": "名称", "county": "县市区", "kind": "改造类型", "households": "户数"})
    v = validate_layer(frame, "renewal_areas")
    assert v.frame.name.tolist() == ["甲片区", "乙片区", "丙片区"]


def test_empty_input():
    empty = gpd.GeoDataFrame({"name": []}, geometry=[], crs=4490)
    with pytest.raises(ValidationError, match="no features"):
        validate_layer(empty, "services")


def test_missing_crs(areas_4490):
    with pytest.raises(CRSError, match="no CRS.*--crs"):
        validate_layer(areas_4490.set_crs(None, allow_override=True), "renewal_areas")


def test_swapped_lat_lon_names_the_rows():
    pts = gpd.GeoDataFrame({"name": ["a", "b"], "category": ["park", "park"]},
                           geometry=[shapely.Point(113.2, 35.2), shapely.Point(35.21, 113.21)], crs=4490)
    with pytest.raises(ValidationError, match=r"row 2, field 'geometry': longitude and latitude look swapped"):
        validate_layer(pts, "services")


def test_projected_coordinates_declared_geographic():
    pts = gpd.GeoDataFrame({"name": ["a"], "category": ["park"]}, geometry=[shapely.Point(430000, 3900000)], crs=4490)
    with pytest.raises(ValidationError, match="not degrees.*--crs 4547"):
        validate_layer(pts, "services")


def test_projected_input_is_converted():
    pts = gpd.GeoDataFrame({"name": ["a"], "category": ["park"]}, geometry=[shapely.Point(430000, 3900000)], crs=4547)
    out = validate_layer(pts, "services").frame
    assert out.crs.to_epsg() == 4490
    assert 113 < out.geometry.x.iloc[0] < 114


def test_gcj02_input_is_shifted_back():
    lon, lat = wgs84_to_gcj02(113.2, 35.2)
    pts = gpd.GeoDataFrame({"name": ["a"], "category": ["park"]}, geometry=[shapely.Point(lon, lat)], crs=4326)
    out = validate_layer(pts, "services", crs="gcj02")
    assert out.source_crs == "GCJ-02"
    assert out.frame.geometry.x.iloc[0] == pytest.approx(113.2, abs=1e-8)
    assert out.frame.geometry.y.iloc[0] == pytest.approx(35.2, abs=1e-8)


def test_unknown_category_lists_the_allowed_values():
    pts = gpd.GeoDataFrame({"name": ["a", "b"], "category": ["幼儿园", "casino"]},
                           geometry=[shapely.Point(113.2, 35.2)] * 2, crs=4490)
    with pytest.raises(ValidationError, match=r"row 2, field 'category': unknown value 'casino'; allowed: kindergarten \(幼儿园\)"):
        validate_layer(pts, "services")


def test_missing_required_column_and_empty_values(areas_4490):
    frame = areas_4490.drop(columns="county")
    frame.loc[1, "name"] = None
    with pytest.raises(ValidationError) as info:
        validate_layer(frame, "renewal_areas")
    text = str(info.value)
    assert "field 'county': required column missing" in text
    assert "row 2, field 'name': empty value in a required field" in text


def test_not_a_number_and_out_of_range(areas_4490):
    frame = areas_4490.copy()
    frame["households"] = ["100", "many", "-5"]
    with pytest.raises(ValidationError) as info:
        validate_layer(frame, "renewal_areas")
    assert "row 2, field 'households': not a number: 'many'" in str(info.value)
    assert "row 3, field 'households': -5 is out of range" in str(info.value)


def test_wrong_geometry_type():
    frame = gpd.GeoDataFrame({"name": ["a"], "county": ["x"], "kind": ["shantytown"]},
                             geometry=[shapely.Point(113.2, 35.2)], crs=4490)
    with pytest.raises(ValidationError, match="row 1, field 'geometry': is a Point, but renewal_areas needs Polygon"):
        validate_layer(frame, "renewal_areas")


def test_missing_geometry():
    frame = gpd.GeoDataFrame({"name": ["a", "b"], "category": ["park", "park"]},
                             geometry=[shapely.Point(113.2, 35.2), None], crs=4490)
    with pytest.raises(ValidationError, match="row 2, field 'geometry': empty or missing geometry"):
        validate_layer(frame, "services")


def test_invalid_polygon_is_repaired_and_reported(areas_4490):
    bowtie = shapely.Polygon([(113.2, 35.2), (113.21, 35.21), (113.21, 35.2), (113.2, 35.21), (113.2, 35.2)])
    frame = areas_4490.copy()
    frame.loc[0, "geometry"] = bowtie
    v = validate_layer(frame, "renewal_areas")
    assert len(v.repaired) == 1 and v.repaired[0].row == 1
    assert "Self-intersection" in v.repaired[0].message
    geom = v.frame.geometry.iloc[0]
    assert geom.is_valid and geom.geom_type in ("Polygon", "MultiPolygon")
    # The bow-tie repaired is two triangles of a quarter of the square each.
    square = validate_layer(areas_4490.assign(geometry=[shapely.box(113.2, 35.2, 113.21, 35.21)] * 3), "renewal_areas")
    assert v.frame.area_m2.iloc[0] == pytest.approx(square.frame.area_m2.iloc[0] / 2, rel=1e-3)


def test_supplied_area_that_differs_by_more_than_5_percent_is_reported(gk_square):
    frame = pd.concat([gk_square, gk_square.assign(geometry=gk_square.translate(500))], ignore_index=True)
    frame["area_mu"] = [15.5, 17.0]  # 3.3% and 13.3% off the true 15 mu
    v = validate_layer(gpd.GeoDataFrame(frame, crs=4547), "renewal_areas")
    assert [n.row for n in v.notices] == [2]
    assert "differs from the computed 15.00" in v.notices[0].message
    assert v.frame.area_mu.tolist() == pytest.approx([15.0, 15.0], abs=1e-4)


def test_not_a_frame():
    with pytest.raises(InputError, match="should be a GeoDataFrame"):
        validate_layer([1, 2], "services")


def test_unknown_kind(areas_4490):
    with pytest.raises(LookupError, match="unknown layer kind 'stadiums'"):
        validate_layer(areas_4490, "stadiums")


def test_many_rows_are_validated_vectorized():
    rng = np.random.default_rng(1)
    n = 20000
    pts = gpd.GeoDataFrame({"name": [f"p{i}" for i in range(n)], "category": rng.choice(["park", "公交站"], n)},
                           geometry=gpd.points_from_xy(rng.uniform(113, 113.5, n), rng.uniform(35, 35.3, n)), crs=4490)
    out = validate_layer(pts, "services").frame
    assert set(out.category) == {"park", "bus_stop"}
