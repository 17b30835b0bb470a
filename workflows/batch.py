"""The services report for every renewal area, in independent partitions (one per city),
serially or on a Dask cluster — with the same rows as one serial call.

A partition reads its areas, and the roads and services within ``margin_m`` of them, from
the store; it builds its own walking network on that extent. Why the answers are exact:
every path of length ≤ L from an area stays within L of it, and a facility at walking
distance ≤ L snaps to a segment within L of that path; so with a margin of 2 × ``SAFE_M``,
every distance ≤ ``SAFE_M`` is found and measured as on the whole network, and so are the
counts within the life circles (≤ 1000 m). A row whose nearest facility lies farther than
``SAFE_M`` (or is unreachable) is not proven there — unless the area lies deeper inside: an
answer is proven up to the area's distance to the edge of what was read, when the facilities
that near snap to roads that were read (:func:`_proven_reach`) —; its area is *unsettled*
and measured again reading twice as far, then on the whole store, so the batch always
equals the serial report.
"""

from __future__ import annotations

__all__ = ["SAFE_M", "services_partition", "services_batch", "partition_areas", "batch_partitions", "lonlat_box", "store_plane"]

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.spatial import cKDTree

from gis.crs import CGCS2000, gk_epsg
from gis.errors import InputError
from gis.network import build_network
from gis.services import REPORT_COLUMNS, nearest_services
from gis.standards import Standard, default_standards
from layers.store import LayerStore, open_store
from workflows.cluster import run_partitions, store_location
from workflows.inputs import analysis_inputs

log = logging.getLogger(__name__)

SAFE_M = 3000.0  # distances up to this are proven per partition; the margin read is twice it


def partition_areas(areas: gpd.GeoDataFrame, districts: gpd.GeoDataFrame | None = None) -> dict[str, list[int]]:
    """Area ids per city (the ``city`` of the area's county in ``districts``), else per county:
    the partitions of a province's batch, in the areas' order. A city is one task because its
    counties share one street network: per county, each task would build most of it again."""
    county = areas["county"].fillna("(无县区)").astype(str)
    key = county
    if districts is not None and "city" in districts.columns:
        city = dict(zip(districts["name"].astype(str), districts["city"], strict=False))
        key = county.map(lambda c: city.get(c) if isinstance(city.get(c), str) and city.get(c) else c)
    return {name: areas["id"][key == name].astype(int).tolist() for name in dict.fromkeys(key)}


def lonlat_box(frame_gk: gpd.GeoDataFrame, crs: CRS, margin_m: float) -> tuple[float, float, float, float]:
    """A CGCS2000 lon/lat box holding everything within ``margin_m`` of the frame: the metric
    box's outline, densified every 500 m so its curved image is enclosed, plus a little slack."""
    minx, miny, maxx, maxy = frame_gk.total_bounds
    outline = shapely.segmentize(shapely.box(minx - margin_m, miny - margin_m, maxx + margin_m, maxy + margin_m), 500)
    w, s, e, n = gpd.GeoSeries([outline], crs=crs).to_crs(CGCS2000).total_bounds
    return w - 1e-3, s - 1e-3, e + 1e-3, n + 1e-3


def services_partition(location: str, area_ids: list[int], crs_wkt: str, standards: dict[str, Standard],
                       safe_m: float = SAFE_M) -> tuple[pd.DataFrame, list[int]]:
    """The services report of some areas on the roads and services within ``2 × safe_m`` of
    them (a task: it opens the store itself), and the ids of the areas whose answer is not
    proven there. An area deep inside the partition is proven farther than ``safe_m``: up to
    half its distance to the edge of what was read."""
    store = open_store(location)
    areas, _ = store.query(store.find_kind("renewal_areas"), ids=area_ids)
    crs = CRS.from_wkt(crs_wkt)
    areas_gk = areas.to_crs(crs)
    box = lonlat_box(areas_gk, crs, 2 * safe_m)
    services, _ = store.query(store.find_kind("services"), bbox=box)
    network = None
    if store.has_kind("roads"):
        roads, _ = store.query(store.find_kind("roads"), bbox=box)
        network = build_network(roads, crs=crs) if len(roads) else None
    if network is None or not len(services):
        return pd.DataFrame(columns=REPORT_COLUMNS), list(area_ids)
    report = nearest_services(areas, services, network=network, standards=standards)
    reach = _proven_reach(areas_gk, services.to_crs(crs), network, areas_gk.total_bounds, 2 * safe_m)
    reach = pd.Series(reach, index=areas["id"].to_numpy()).reindex(report.origin_id.to_numpy()).to_numpy()
    nearest = report.network_m.where(report.basis == "network", report.straight_m).to_numpy()
    proven = np.isfinite(nearest) & (nearest <= reach) & (report.straight_m.to_numpy() <= reach)
    unsettled = report.origin_id[~proven].unique().tolist()
    return report[~report.origin_id.isin(unsettled)], [int(i) for i in unsettled]


def _proven_reach(areas_gk: gpd.GeoDataFrame, services_gk: gpd.GeoDataFrame, network, bounds, margin: float
                  ) -> np.ndarray:
    """Per area, the distance up to which its answers on the partition's network are those of
    the whole network: its distance to the edge of the box read (every walk that long stays
    inside, on roads that were read), but not as far as a facility whose snap cannot be
    trusted (its nearest segment read is farther than the box's edge: a nearer one may lie
    outside)."""
    x0, y0, x1, y1 = np.asarray(bounds) + np.array([-1, -1, 1, 1]) * margin  # inside the lon/lat box read
    b = areas_gk.bounds
    reach = np.minimum.reduce([b.minx - x0, b.miny - y0, x1 - b.maxx, y1 - b.maxy]).astype(float)
    xy = shapely.get_coordinates(services_gk.geometry.values)
    edge = np.minimum.reduce([xy[:, 0] - x0, xy[:, 1] - y0, x1 - xy[:, 0], y1 - xy[:, 1]])
    doubtful = xy[network.snap(xy).offset > edge]
    if len(doubtful):
        centre = np.column_stack([(b.minx + b.maxx) / 2, (b.miny + b.maxy) / 2])
        half_diagonal = np.hypot(b.maxx - b.minx, b.maxy - b.miny) / 2
        nearest, _ = cKDTree(doubtful).query(centre)
        reach = np.minimum(reach, nearest - np.asarray(half_diagonal))
    return reach


def services_batch(store: LayerStore, *, standards: dict[str, Standard] | None = None, client=None,
                   location: str | None = None) -> pd.DataFrame:
    """The services report of every renewal area, partitioned by city: on the Dask
    ``client`` when given (tasks open the store at ``location``), else one partition after
    the other in this process. Areas not proven in their partition go to a second round
    reading twice as far, then to one call on the whole store. Rows in the order of one
    serial :func:`nearest_services` call."""
    inputs_areas = store.read_cached(store.find_kind("renewal_areas"))
    standards = standards or default_standards()
    crs = store_plane(store)
    location = location or store_location(store)
    frames, todo = [], inputs_areas
    for safe_m in (SAFE_M, 2 * SAFE_M):
        parts = batch_partitions(store, todo, crs, standards, location, safe_m)
        log.info("services batch: %d areas in %d partitions, read %g km around", len(todo), len(parts),
                 2 * safe_m / 1000)
        unsettled = []
        for _, (frame, open_ids) in _run(client, parts, "services" if safe_m == SAFE_M else "services-wide"):
            frames.append(frame)
            unsettled += open_ids
        todo = inputs_areas[inputs_areas["id"].isin(unsettled)]
        if not len(todo):
            break
    if len(todo):
        log.warning("%d area(s) have a nearest facility beyond %g m or none reachable: measured again on "
                    "the whole store", len(todo), 4 * SAFE_M)
        inputs = analysis_inputs(store)
        rest = inputs.areas[inputs.areas["id"].isin(todo["id"])]
        frames.append(nearest_services(rest, inputs.services, network=inputs.network, standards=standards))
    return _in_serial_order(frames, inputs_areas)


def _run(client, parts: dict, desc: str):
    if client is None:
        return ((name, services_partition(*args)) for name, args in parts.items())
    return run_partitions(client, services_partition, parts, desc=desc)


def batch_partitions(store: LayerStore, areas: gpd.GeoDataFrame, crs: CRS, standards, location: str,
                     safe_m: float = SAFE_M) -> dict:
    """The arguments of each partition's task: where the store is and which areas, never layers."""
    districts = store.read_cached(store.find_kind("districts")) if store.has_kind("districts") else None
    return {name: (location, ids, crs.to_wkt(), standards, safe_m)
            for name, ids in partition_areas(areas, districts).items()}


def store_plane(store: LayerStore) -> CRS:
    """The Gauss–Krüger plane every analysis of this store measures on: the zone of the roads
    layer's centre (as :func:`gis.network.build_network` picks it), else of the areas'; from
    the layer's extent in the store's index, without reading the layer. (An R-tree keeps
    float32 boxes rounded outward: the zone could only differ from the whole layer's if its
    centre lay within a metre of a zone's edge.)"""
    for kind in ("roads", "renewal_areas"):
        if store.has_kind(kind):
            bounds = store.bounds(store.find_kind(kind))
            if bounds is not None:
                return CRS.from_epsg(gk_epsg((bounds[0] + bounds[2]) / 2.0))
    raise InputError("the store has neither roads nor renewal areas to measure on")


def _in_serial_order(frames: list[pd.DataFrame], areas: gpd.GeoDataFrame) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    report = pd.concat([f.astype({c: object for c in f.columns if isinstance(f[c].dtype, pd.CategoricalDtype)})
                        for f in frames], ignore_index=True)
    position = pd.Series(np.arange(len(areas)), index=areas["id"].to_numpy())
    order = np.argsort(position.reindex(report.origin_id.to_numpy()).to_numpy(), kind="stable")
    return report.iloc[order].reset_index(drop=True)[REPORT_COLUMNS]
