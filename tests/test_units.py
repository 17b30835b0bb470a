import pytest

from gis.units import M2_PER_MU, m2_to_hectare, m2_to_mu, mu_to_m2
from layers.validate import validate_layer


def test_mu_definition():
    assert M2_PER_MU * 15 == pytest.approx(10000.0)
    assert m2_to_mu(10000.0) == pytest.approx(15.0)
    assert mu_to_m2(500) == pytest.approx(333333.333, abs=1e-3)
    assert m2_to_hectare(10000.0) == 1.0


def test_square_of_100m_is_15_mu(gk_square):
    # The square is drawn on the GK plane, stored in degrees, and measured back on the plane.
    out = validate_layer(gk_square, "renewal_areas").frame
    assert out.crs.to_epsg() == 4490
    assert out.area_m2.iloc[0] == pytest.approx(10000.0, abs=0.01)
    assert out.area_mu.iloc[0] == pytest.approx(15.0, abs=1e-4)
