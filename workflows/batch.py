"""The services report for every renewal area, in independent partitions (one per county),
serially or on a Dask cluster — with the same rows as one serial call.

A partition reads its areas, and the roads and services within ``margin_m`` of them, from
the store; it builds its own walking network on that extent. Why the answers are exact:
every path of length ≤ L from an area stays within L of it, and a facility at walking
distance ≤ L snaps to a segment within L of that path; so with a margin of 2 × ``SAFE_M``,
every distance ≤ ``SAFE_M`` is found and measured as on the whole network, and so are the
counts within the life circles (≤ 1000 m). A row whose nearest facility lies farther than
``SAFE_M`` (or is unreachable) is not proven: its area is *unsettled* and measured again on
the whole store, so the batch always equals the serial report.
"""

from __future__ import annotations

__all__ = ["SAFE_M", "services_partition", "services_batch", "partition_areas", "batch_partitions", "lonlat_box"]

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis.crs import CGCS2000, metric_crs
from gis.network import build_network
from gis.services import REPORT_COLUMNS, nearest_services
from gis.standards import Standard, default_standards
from layers.store import LayerStore, open_store
from workflows.inputs import analysis_inputs

log = logging.getLogger(__name__)

SAFE_M = 3000.0  # distances up to this are proven per partition; the margin read is twice it


def partition_areas(areas: gpd.GeoDataFrame) -> dict[str, list[int]]:
    """Area ids per county (the partition of a province's batch), in the areas' order."""
    county = areas["county"].fillna("(无县区)").astype(str)
    return {name: areas["id"][county == name].astype(int).tolist() for name in dict.fromkeys(county)}


def lonlat_box(frame_gk: gpd.GeoDataFrame, crs: CRS, margin_m: float) -> tuple[float, float, float, float]:
    """A CGCS2000 lon/lat box holding everything within ``margin_m`` of the frame: the metric
    box's outline, densified every 500 m so its curved image is enclosed, plus a little slack."""
    minx, miny, maxx, maxy = frame_gk.total_bounds
    outline = shapely.segmentize(shapely.box(minx - margin_m, miny - margin_m, maxx + margin_m, maxy + margin_m), 500)
    w, s, e, n = gpd.GeoSeries([outline], crs=crs).to_crs(CGCS2000).total_bounds
    return w - 1e-3, s - 1e-3, e + 1e-3, n + 1e-3


def services_partition(location: str, area_ids: list[int], crs_wkt: str, standards: dict[str, Standard],
                       safe_m: float = SAFE_M) -> tuple[pd.DataFrame, list[int]]:
    """The services report of some areas on the roads and services around them (a task: it
    opens the store itself), and the ids of the areas whose answer is not proven there."""
    store = open_store(location)
    areas, _ = store.query(store.find_kind("renewal_areas"), ids=area_ids)
    crs = CRS.from_wkt(crs_wkt)
    box = lonlat_box(areas.to_crs(crs), crs, 2 * safe_m)
    services, _ = store.query(store.find_kind("services"), bbox=box)
    network = None
    if store.has_kind("roads"):
        roads, _ = store.query(store.find_kind("roads"), bbox=box)
        network = build_network(roads, crs=crs) if len(roads) else None
    if network is None or not len(services):
        return pd.DataFrame(columns=REPORT_COLUMNS), list(area_ids)
    report = nearest_services(areas, services, network=network, standards=standards)
    nearest = report.network_m.where(report.basis == "network", report.straight_m)
    proven = nearest.notna() & (nearest <= safe_m) & (report.straight_m <= safe_m)
    unsettled = report.origin_id[~proven].unique().tolist()
    return report[~report.origin_id.isin(unsettled)], [int(i) for i in unsettled]


def services_batch(store: LayerStore, *, standards: dict[str, Standard] | None = None, client=None,
                   location: str | None = None) -> pd.DataFrame:
    """The services report of every renewal area, partitioned by county: on the Dask
    ``client`` when given (tasks open the store at ``location``), else one partition after
    the other in this process. Rows in the order of one serial :func:`nearest_services` call."""
    from workflows.cluster import run_partitions, store_location

    inputs_areas = store.read_cached(store.find_kind("renewal_areas"))
    standards = standards or default_standards()
    crs = metric_crs(inputs_areas)
    if store.has_kind("roads"):
        crs = _roads_crs(store, crs)
    parts = batch_partitions(store, inputs_areas, crs, standards, location or store_location(store))
    log.info("services batch: %d areas in %d partitions", len(inputs_areas), len(parts))
    if client is not None:
        results = run_partitions(client, services_partition, parts, desc="services")
    else:
        results = ((name, services_partition(*args)) for name, args in parts.items())
    frames, unsettled = [], []
    for _, (frame, open_ids) in results:
        frames.append(frame)
        unsettled += open_ids
    if unsettled:
        log.warning("%d area(s) have a nearest facility beyond %g m or none reachable: measured again on "
                    "the whole store", len(unsettled), SAFE_M)
        inputs = analysis_inputs(store)
        rest = inputs.areas[inputs.areas["id"].isin(unsettled)]
        frames.append(nearest_services(rest, inputs.services, network=inputs.network, standards=standards))
    return _in_serial_order(frames, inputs_areas)


def batch_partitions(store: LayerStore, areas: gpd.GeoDataFrame, crs: CRS, standards, location: str) -> dict:
    """The arguments of each partition's task: where the store is and which areas, never layers."""
    return {name: (location, ids, crs.to_wkt(), standards) for name, ids in partition_areas(areas).items()}


def _roads_crs(store: LayerStore, fallback: CRS) -> CRS:
    """The metric CRS the serial analyses use: the Gauss–Krüger zone of the roads layer."""
    roads = store.read_cached(store.find_kind("roads"))
    return metric_crs(roads) if len(roads) else fallback


def _in_serial_order(frames: list[pd.DataFrame], areas: gpd.GeoDataFrame) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    report = pd.concat([f.astype({c: object for c in f.columns if isinstance(f[c].dtype, pd.CategoricalDtype)})
                        for f in frames], ignore_index=True)
    position = pd.Series(np.arange(len(areas)), index=areas["id"].to_numpy())
    order = np.argsort(position.reindex(report.origin_id.to_numpy()).to_numpy(), kind="stable")
    return report.iloc[order].reset_index(drop=True)[REPORT_COLUMNS]
