"""The facilities around one point (a planner's click on the map), by walking and straight
distance."""

from __future__ import annotations

__all__ = ["facilities_near"]

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import CHINA_BOUNDS, metric_crs
from gis.errors import InputError
from gis.network import WalkNetwork
from gis.network_pairs import pairs_within


def facilities_near(lon: float, lat: float, services: gpd.GeoDataFrame, *, radius_m: float = 1000.0,
                    network: WalkNetwork | None = None, limit: int = 100) -> pd.DataFrame:
    """Facilities within ``radius_m`` of a point (CGCS2000 lon/lat), nearest first.

    Both distances are given: walking (NaN when not within the radius on foot, or without a
    network) and straight; a facility is listed when either is within the radius, ordered by
    walking distance where known.
    """
    x0, y0, x1, y1 = CHINA_BOUNDS
    if not (np.isfinite(lon) and np.isfinite(lat)) or not (x0 <= lon <= x1 and y0 <= lat <= y1):
        hint = " (lon and lat swapped?)" if x0 <= lat <= x1 and y0 <= lon <= y1 else ""
        raise InputError(f"({lon}, {lat}) is outside China{hint}; give CGCS2000/WGS84 lon and lat")
    if not 0 < radius_m <= 20000:
        raise InputError(f"radius_m must be in (0, 20000] metres, got {radius_m}")
    columns = ["id", "name", "category", "straight_m", "network_m", "lon", "lat"]
    if len(services) == 0:
        return pd.DataFrame(columns=columns)
    # Walking is never shorter than the straight line: a lon/lat box that surely holds the
    # radius selects the candidates; the exact metric filter follows.
    dlat = radius_m / 110_000.0
    dlon = dlat / max(np.cos(np.radians(lat)), 0.1)
    near = services.iloc[services.sindex.query(shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat))]
    point = gpd.GeoSeries([shapely.Point(lon, lat)], crs=4490)
    crs = network.crs if network is not None else metric_crs(point)
    p_xy = shapely.get_coordinates(point.to_crs(crs).values)
    s_xy = shapely.get_coordinates(near.to_crs(crs).geometry.values)
    straight = np.hypot(*(s_xy - p_xy).T) if len(near) else np.zeros(0)
    keep = straight <= radius_m
    near, s_xy, straight = near[keep], s_xy[keep], straight[keep]
    walking = np.full(len(near), np.nan)
    if network is not None and len(near):
        _, fi, d = pairs_within(network, p_xy, s_xy, radius_m)
        walking[fi] = d
    order = np.argsort(np.where(np.isnan(walking), straight, walking), kind="stable")[:limit]
    geoms = near.geometry.values[order]
    return pd.DataFrame({
        "id": near["id"].to_numpy()[order] if "id" in near else near.index.to_numpy()[order],
        "name": near["name"].to_numpy()[order], "category": near["category"].to_numpy()[order],
        "straight_m": np.round(straight[order], 1), "network_m": np.round(walking[order], 1),
        "lon": np.round(shapely.get_x(geoms), 7), "lat": np.round(shapely.get_y(geoms), 7)})
