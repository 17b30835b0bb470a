"""`renewal copy SRC DST`: a whole store moves between backends and back unchanged (#16)."""

import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal

from gis.errors import ConflictError
from layers.store import open_store
from renewal_cli.main import main


def test_copy_to_postgis_and_back_keeps_every_layer(sample_store, new_database, tmp_path, capsys):
    url = new_database("copy")
    assert main(["copy", str(sample_store.path), url]) == 0
    assert "copied" in capsys.readouterr().out
    back = tmp_path / "back.gpkg"
    assert main(["copy", url, str(back)]) == 0
    pg, again = open_store(url), open_store(back)
    for store in (pg, again):
        got = {i.name: i for i in store.layers()}
        for info in sample_store.layers():
            copied = got[info.name]
            assert (copied.kind, copied.geometry_type, copied.feature_count, copied.source, copied.synthetic,
                    copied.original_crs) == (info.kind, info.geometry_type, info.feature_count, info.source,
                                             info.synthetic, info.original_crs)
    for info in sample_store.layers():
        if info.geometry_type == "raster":
            with sample_store.read_raster(info.name) as a, again.read_raster(info.name) as b:
                assert np.array_equal(a.read(1), b.read(1)) and a.transform == b.transform and a.crs == b.crs
            continue
        a, b = sample_store.read(info.name), again.read(info.name)
        if info.is_vector:
            assert_geodataframe_equal(a, b, check_less_precise=True)  # ids kept: features keep their links
        else:
            pd.testing.assert_frame_equal(a, b)


def test_copy_refuses_a_destination_with_layers(sample_store, tmp_path):
    from layers.copy import copy_store

    dst = open_store(tmp_path / "dst.gpkg")
    copy_store(sample_store, dst)
    with pytest.raises(ConflictError, match="empty store"):
        copy_store(sample_store, dst)
