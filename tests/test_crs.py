import numpy as np
import prcoords
import pytest
from pyproj import Transformer

from gis.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    gk_epsg,
    gk_zone,
    parse_crs,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from gis.errors import CRSError


@pytest.mark.parametrize(
    "lon, zone, plain, prefixed",
    [(113.2, 38, 4547, 4526), (116.0, 39, 4548, 4527), (114.0, 38, 4547, 4526),
     (115.4999, 38, 4547, 4526), (115.5, 39, 4548, 4527), (75.0, 25, 4534, 4513), (135.0, 45, 4554, 4533)],
)
def test_gk_zone_and_epsg(lon, zone, plain, prefixed):
    assert gk_zone(lon) == zone
    assert gk_epsg(lon) == plain
    assert gk_epsg(lon, prefixed=True) == prefixed


def test_gk_epsg_codes_name_the_right_central_meridian():
    from pyproj import CRS

    assert "114" in CRS.from_epsg(gk_epsg(113.2)).to_wkt()
    assert "39500000" in CRS.from_epsg(gk_epsg(116.0, prefixed=True)).to_wkt()


@pytest.mark.parametrize("lon", [35.2, 10.0, 140.0, float("nan")])
def test_gk_zone_outside_china_is_refused(lon):
    with pytest.raises(CRSError, match="Gauss–Krüger|finite"):
        gk_zone(lon)


def _metres(lon1, lat1, lon2, lat2):
    tr = Transformer.from_crs(4490, 4547, always_xy=True)
    x1, y1 = tr.transform(lon1, lat1)
    x2, y2 = tr.transform(lon2, lat2)
    return np.hypot(np.asarray(x1) - x2, np.asarray(y1) - y2)


@pytest.fixture
def china_points():
    rng = np.random.default_rng(7)
    return rng.uniform(100, 125, 2000), rng.uniform(20, 45, 2000)


def test_gcj02_forward_matches_prcoords(china_points):
    lon, lat = china_points
    ours = np.column_stack(wgs84_to_gcj02(lon, lat))
    ref = np.array([[c.lon, c.lat] for c in (prcoords.wgs_gcj(prcoords.Coords(b, a)) for a, b in zip(lon, lat, strict=True))])
    assert _metres(ours[:, 0], ours[:, 1], ref[:, 0], ref[:, 1]).max() < 0.001


def test_bd09_forward_matches_prcoords(china_points):
    lon, lat = china_points
    ours = np.column_stack(wgs84_to_bd09(lon, lat))
    ref = np.array([[c.lon, c.lat] for c in (prcoords.wgs_bd(prcoords.Coords(b, a)) for a, b in zip(lon, lat, strict=True))])
    assert _metres(ours[:, 0], ours[:, 1], ref[:, 0], ref[:, 1]).max() < 0.001


@pytest.mark.parametrize("forward, inverse", [(wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84),
                                              (gcj02_to_bd09, bd09_to_gcj02)])
def test_round_trips_under_one_centimetre(china_points, forward, inverse):
    lon, lat = china_points
    back = inverse(*forward(lon, lat))
    assert _metres(lon, lat, back[0], back[1]).max() < 0.01


def test_gcj02_offset_is_hundreds_of_metres_in_jiaozuo():
    lon, lat = wgs84_to_gcj02(113.17, 35.24)
    assert 100 < _metres(113.17, 35.24, lon, lat) < 1000


def test_outside_china_is_identity():
    lon, lat = wgs84_to_gcj02(np.array([2.35, -74.0]), np.array([48.85, 40.7]))
    np.testing.assert_array_equal(lon, [2.35, -74.0])
    np.testing.assert_array_equal(lat, [48.85, 40.7])


def test_scalar_and_shape_checks():
    lon, lat = wgs84_to_gcj02(113.0, 35.0)
    assert np.ndim(lon) == 0
    with pytest.raises(ValueError, match="same shape"):
        wgs84_to_gcj02([1.0, 2.0], [1.0])


@pytest.mark.parametrize("spec, name", [("cgcs2000", "EPSG:4490"), ("wgs84", "EPSG:4326"), (4547, "EPSG:4547"),
                                        ("EPSG:4526", "EPSG:4526"), ("gcj02", "GCJ-02"), ("BD-09", "BD-09"),
                                        ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", "EPSG:4326")])
def test_parse_crs(spec, name):
    assert parse_crs(spec).name == name


@pytest.mark.parametrize("spec", ["EPSG:999999", "mars-grid", ""])
def test_parse_crs_unknown(spec):
    with pytest.raises(CRSError, match="CRS"):
        parse_crs(spec)
