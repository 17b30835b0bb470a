import pandas as pd
import pytest

from gis.errors import InputError
from gis.targets import check_targets


def test_mismatched_total_is_reported_with_the_difference():
    t = pd.DataFrame({"city": ["A"] * 3, "region": ["x", "y", "合计"], "year": ["2023"] * 3,
                      "metric": ["units"] * 3, "value": [1, 2, 4]})
    (check,) = check_targets(t)
    assert not check.ok and check.expected == 4 and check.actual == 3
    assert "difference +1" in check.message


def test_span_year_against_its_years():
    t = pd.DataFrame({"city": ["A"] * 3, "region": ["x"] * 3, "year": ["2023", "2024", "2023-2024"],
                      "metric": ["units"] * 3, "value": [10, 5, 16]})
    (check,) = check_targets(t)
    assert check.kind == "span" and not check.ok and check.actual == 15


def test_unmatched_regions_are_kept_and_explained():
    t = pd.DataFrame({"city": ["焦作市"] * 2, "region": ["解放区", "示范区"], "year": ["2023"] * 2,
                      "metric": ["units"] * 2, "value": [1, 2]})
    districts = pd.DataFrame({"city": ["焦作市"], "name": ["解放区"]})
    (check,) = check_targets(t, districts)
    assert check.region == "示范区" and "development zone" in check.message


def test_missing_columns():
    with pytest.raises(InputError, match="lacks columns"):
        check_targets(pd.DataFrame({"city": ["A"]}))
