"""Batches on a Dask cluster (a LocalCluster of two worker processes) give the serial answers:
the same services report rows, the same suitability rasters; failures are clear and fast."""

import pickle
import subprocess
import sys
import time

import numpy as np
import pytest
import rasterio

from gis.services import nearest_services
from layers.sample import build_province_store
from workflows.batch import batch_partitions, services_batch, store_plane
from workflows.cluster import ClusterError, PartitionError, dask_client, run_partitions
from workflows.inputs import analysis_inputs
from workflows.regions import SurfaceTarget, target_surface
from workflows.sites import area_surface


@pytest.fixture(scope="module")
def cluster():
    with dask_client("local", workers=2) as client:
        yield client


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    return build_province_store(tmp_path_factory.mktemp("province") / "province.gpkg", 3, seed=5, size="small")


def _serial_csv(store) -> str:
    inputs = analysis_inputs(store)
    return nearest_services(inputs.areas, inputs.services, network=inputs.network,
                            standards=inputs.standards).to_csv(index=False)


def test_services_batch_equals_the_serial_report(sample_store, province, cluster):
    for store in (sample_store, province):
        serial = _serial_csv(store)
        assert services_batch(store).to_csv(index=False) == serial  # partitions in this process
        assert services_batch(store, client=cluster).to_csv(index=False) == serial
    assert serial.count("\n") - 1 == 16 * 18  # 18 areas × 16 categories in the province


def test_province_partitions_settle_on_their_own(province, caplog):
    # Every city has every category near its areas: no area needs the whole store again.
    with caplog.at_level("WARNING", logger="workflows.batch"):
        services_batch(province)
    assert "measured again" not in caplog.text


def test_tasks_carry_the_store_location_not_layers(province):
    areas = province.read_cached(province.find_kind("renewal_areas"))
    parts = batch_partitions(province, areas, store_plane(province), analysis_inputs(province).standards,
                             str(province.path))
    assert list(parts) == ["合成01市", "合成02市", "合成03市"]  # one task per city: its counties share streets
    assert all(len(pickle.dumps(args)) < 20_000 for args in parts.values())


def _same_raster(a: str, b: str, overviews: bool | None = True) -> None:
    with rasterio.open(a) as x, rasterio.open(b) as y:
        assert x.transform == y.transform and x.crs == y.crs and x.shape == y.shape
        assert np.isnan(x.nodata) and np.isnan(y.nodata)
        assert x.overviews(1) == y.overviews(1) and overviews in (None, bool(x.overviews(1)))
        np.testing.assert_array_equal(x.read(1), y.read(1))  # NaN where NaN, else bit for bit
        levels = len(x.overviews(1))
    for level in range(levels):
        with rasterio.open(a, overview_level=level) as x, rasterio.open(b, overview_level=level) as y:
            np.testing.assert_array_equal(x.read(1), y.read(1))


def test_area_surface_on_the_cluster_equals_the_serial_build(sample_store, cluster, tmp_path):
    # The same windows as the serial build: a window resamples the DEM from its own origin, so
    # other window sizes round slopes differently in the 5th digit.
    _, serial = area_surface(sample_store, "西大井片区", out_dir=tmp_path / "serial", max_distance=1500, tile=256)
    spec = serial.spec
    _, spread = target_surface(sample_store, SurfaceTarget("area", "西大井片区"), tmp_path / "dask", spec=spec,
                               client=cluster, tile=256, windows_per_task=2)
    _same_raster(serial.surface_path, spread.surface_path)
    assert spread.criteria == []  # combined on the workers: one band travelled, not seven


def test_a_surface_needing_whole_raster_statistics_ships_criteria(sample_store, cluster, tmp_path):
    from dataclasses import replace

    from gis.suitability.model import default_spec
    from gis.suitability.transforms import Transform
    from workflows.regions import combines_by_window

    base = default_spec(max_distance_m=1200)
    spec = replace(base, criteria=tuple(replace(c, transform=Transform("ms_small", {})) if c.name == "market" else c
                                        for c in base.criteria))
    assert combines_by_window(base) and not combines_by_window(spec)
    _, serial = area_surface(sample_store, "西大井片区", out_dir=tmp_path / "serial", spec=spec, tile=256)
    _, spread = target_surface(sample_store, SurfaceTarget("area", "西大井片区"), tmp_path / "dask", spec=serial.spec,
                               client=cluster, tile=256)
    _same_raster(serial.surface_path, spread.surface_path)
    for a, b in zip(serial.criteria, spread.criteria, strict=True):
        _same_raster(a.path, b.path, overviews=False)


def test_region_and_box_surfaces_on_the_cluster(province, cluster, tmp_path):
    district = province.read_cached(province.find_kind("districts")).iloc[1]
    target = SurfaceTarget("region", district["name"])
    _, serial = target_surface(province, target, tmp_path / "serial", tile=256)
    _, spread = target_surface(province, target, tmp_path / "dask", client=cluster, tile=256)
    _same_raster(serial.surface_path, spread.surface_path)
    assert "origin" not in [c.name for c in serial.criteria]
    with rasterio.open(serial.surface_path) as src, rasterio.open(serial.reason_path) as reason:
        values, codes = src.read(1), reason.read(1)
    assert np.isfinite(values).mean() > 0.5  # the district's cells are scored…
    assert (codes == 9).any() and np.isnan(values[codes == 9]).all()  # …its bounding box's others are not
    w, s, e, n = district.geometry.bounds
    box = SurfaceTarget("bbox", (w, s, (w + e) / 2, (s + n) / 2))
    _same_raster(target_surface(province, box, tmp_path / "b1", tile=128)[1].surface_path,
                 target_surface(province, box, tmp_path / "b2", tile=128, client=cluster)[1].surface_path, None)


def test_an_unreachable_scheduler_fails_fast_and_says_so():
    start = time.perf_counter()
    with pytest.raises(ClusterError, match=r"tcp://127\.0\.0\.1:9.*dask scheduler"), \
            dask_client("tcp://127.0.0.1:9", timeout_s=3):
        pass
    assert time.perf_counter() - start < 15


def _fails_on(name: str) -> str:
    if name == "合成02市东区":
        raise ValueError("no roads here")
    return name


def test_a_failed_task_names_its_partition(cluster):
    parts = {n: (n,) for n in ("合成01市西区", "合成02市东区", "合成03市北区")}
    with pytest.raises(PartitionError, match=r"partition '合成02市东区' failed: ValueError: no roads here"):
        list(run_partitions(cluster, _fails_on, parts, desc="test"))


def test_cli_services_all_on_a_local_cluster(province, tmp_path):
    def run(*extra):
        return subprocess.run([sys.executable, "-m", "renewal_cli.main", "--store", str(province.path), "services",
                               "--all", "-o", str(tmp_path / f"{len(extra)}.csv"), *extra],
                              capture_output=True, text=True, timeout=300)

    serial, spread = run(), run("--dask", "local", "--dask-workers", "2")
    assert serial.returncode == 0 and spread.returncode == 0, spread.stderr
    assert (tmp_path / "0.csv").read_bytes() == (tmp_path / "4.csv").read_bytes()
    assert "wrote 288 rows (18 areas)" in spread.stdout
    bad = run("--dask", "local", "--with-planned")
    assert bad.returncode != 0 and "--dask works with --all -o" in bad.stderr


def test_workers_read_a_postgis_store_by_its_url(postgis_sample, cluster):
    assert postgis_sample.location.startswith("postgresql://")
    serial = _serial_csv(postgis_sample)
    assert services_batch(postgis_sample, client=cluster).to_csv(index=False) == serial


def test_a_city_region_covers_all_its_districts(province, tmp_path):
    districts = province.read_cached(province.find_kind("districts"))
    city = districts[districts.city == "合成02市"].to_crs(4547)
    _, surface = target_surface(province, SurfaceTarget("region", "合成02市"), tmp_path, tile=256)
    w, s, e, n = surface.grid.bounds
    x0, y0, x1, y1 = city.total_bounds
    res = surface.grid.resolution
    assert w <= x0 < w + res and n - res < y1 <= n and e >= x1 and s <= y0


def test_cli_refuses_a_bad_worker_count(province, tmp_path):
    done = subprocess.run([sys.executable, "-m", "renewal_cli.main", "--store", str(province.path), "suitability",
                           "--region", "合成01市", "-o", str(tmp_path / "x.tif"), "--dask", "local",
                           "--dask-workers", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--dask-workers: expects a number of worker processes from 1 to 256" in done.stderr
    assert not (tmp_path / "x.tif").exists()
