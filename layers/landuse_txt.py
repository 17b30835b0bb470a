"""The boundary-coordinate file of land-use approval (界址点坐标, "报部格式").

Layout::

    [属性描述]
    格式版本号=1.01版本
    数据产生单位=…
    数据产生日期=2026-11-22
    坐标系=2000国家大地坐标系
    几度分带=3
    投影类型=高斯克吕格
    计量单位=米
    带号=38
    精度=0.001
    转换参数=0,0,0,0,0,0,0
    [地块坐标]
    界址点数,地块面积(公顷),地块编号,地块名称,面,图幅号,地块用途,地类编码,@
    J1,1,X,Y
    …

X is the northing and Y the easting with the zone number prefixed (CGCS2000 3-degree
Gauss–Krüger, EPSG:4513–4533), both to 3 decimals. Points are numbered from the north-west
corner clockwise, each ring is closed by repeating its first point (counted in 界址点数), and
holes (and further parts) are further ring numbers (圈号).

The header is Chinese, so the file needs an encoding that holds Chinese (GBK, the usual,
GB18030 or UTF-8); every name and use is checked to fit before the file is written, and the
file is written to a temporary name and moved into place.
"""

from __future__ import annotations

__all__ = ["write_landuse_txt", "read_landuse_txt", "HEADER_KEYS"]

import os
import re
import tempfile
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis.crs import CGCS2000, gk_epsg, gk_zone_of_epsg
from gis.errors import InputError, Problem, ValidationError
from gis.units import M2_PER_HECTARE
from layers.writers import check_encodable, lookup_encoding

HEADER_KEYS = ["格式版本号", "数据产生单位", "数据产生日期", "坐标系", "几度分带", "投影类型", "计量单位", "带号", "精度",
               "转换参数"]


def _rings_nw_clockwise(poly: shapely.Polygon) -> list[np.ndarray]:
    """Exterior clockwise then holes counter-clockwise (map view), each starting at the
    vertex nearest the north-west corner of its bounds, without the closing repeat."""
    out = []
    for k, ring in enumerate([poly.exterior, *poly.interiors]):
        coords = np.asarray(ring.coords)[:-1]
        ccw = shapely.is_ccw(ring)
        if (k == 0 and ccw) or (k > 0 and not ccw):
            coords = coords[::-1]
        minx, maxy = coords[:, 0].min(), coords[:, 1].max()
        start = int(np.argmin(np.hypot(coords[:, 0] - minx, coords[:, 1] - maxy)))
        out.append(np.roll(coords, -start, axis=0))
    return out


def write_landuse_txt(frame: gpd.GeoDataFrame, path, *, unit: str = "renewal-gis", produced: date | None = None,
                      encoding: str = "GBK", name_field: str = "name", code_field: str | None = None,
                      use_field: str | None = "current_use", landclass_field: str | None = None) -> Path:
    """Write polygons (any CRS) as a 报部格式 boundary file in their 3-degree GK zone.

    Raises
    ------
    InputError
        For an unknown encoding, one that cannot hold the Chinese header (``ascii``) or a
        name, code or use (each named by feature and field; no file is created then), or
        input that is not polygons.
    """
    lookup_encoding(encoding)
    if not isinstance(frame, gpd.GeoDataFrame) or len(frame) == 0:
        raise InputError("the boundary file needs at least one polygon")
    if not shapely.get_type_id(frame.geometry.values).tolist() or \
            not set(shapely.get_type_id(frame.geometry.values).tolist()) <= {3, 6}:
        raise InputError("the boundary file holds polygons only")
    geo = frame.to_crs(CGCS2000)
    lon = (geo.total_bounds[0] + geo.total_bounds[2]) / 2
    epsg = gk_epsg(lon, prefixed=True)
    zone, _ = gk_zone_of_epsg(epsg)
    gk = geo.to_crs(epsg)
    lines = ["[属性描述]", "格式版本号=1.01版本", f"数据产生单位={unit}",
             f"数据产生日期={(produced or date.today()).isoformat()}", "坐标系=2000国家大地坐标系", "几度分带=3",
             "投影类型=高斯克吕格", "计量单位=米", f"带号={zone}", "精度=0.001", "转换参数=0,0,0,0,0,0,0", "[地块坐标]"]
    _check_text(frame, lines, encoding, name_field, code_field, use_field, landclass_field)
    for i, row in enumerate(gk.itertuples(index=False)):
        geom = row.geometry
        parts = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
        points, ring_no, number = [], 0, 0
        for part in parts:
            for ring in _rings_nw_clockwise(part):
                ring_no += 1
                first = number + 1
                for x, y in ring:
                    number += 1
                    points.append(f"J{number},{ring_no},{y:.3f},{x:.3f}")
                points.append(f"J{first},{ring_no},{ring[0][1]:.3f},{ring[0][0]:.3f}")
        get = row._asdict().get
        code = get(code_field) if code_field else None
        area_ha = geom.area / M2_PER_HECTARE
        fields = [str(len(points)), f"{area_ha:.4f}", str(code if code is not None else i + 1),
                  _clean(get(name_field) or ""), "面", "", _clean(get(use_field) or "") if use_field else "",
                  _clean(get(landclass_field) or "") if landclass_field else "", "@"]
        lines.append(",".join(fields))
        lines.extend(points)
    data = ("\r\n".join(lines) + "\r\n").encode(encoding, errors="strict")  # checked above
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    os.remove(tmp)  # reopened below with the usual permissions, as layers.writers does
    try:
        Path(tmp).write_bytes(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _check_text(frame, header: list[str], encoding: str, *fields) -> None:
    try:
        "\r\n".join(header).encode(encoding)
    except UnicodeEncodeError as ex:
        raise InputError(f"the 报部格式 header is Chinese text ({ex.object[ex.start:ex.end]!r}) that {encoding} cannot "
                         "hold; use GBK (the usual), GB18030 or UTF-8") from None
    # The values as written: commas become full-width, newlines spaces.
    cleaned = pd.DataFrame({f: frame[f].map(_clean, na_action="ignore") for f in fields
                            if f and f in frame.columns}, index=frame.index)
    ids = frame["id"].to_numpy() if "id" in frame.columns else None
    check_encodable(cleaned, encoding, ids=ids)


def _clean(value) -> str:
    return str(value).replace(",", "，").replace("\n", " ").strip()


def read_landuse_txt(path, encoding: str | None = None) -> gpd.GeoDataFrame:
    """Read a 报部格式 boundary file into polygons (EPSG:4490) with the header fields."""
    text = _decode(path, encoding)
    header, parcels, problems = _parse_sections(text)
    if "带号" not in header:
        raise ValidationError(f"{Path(path).name}: no [属性描述] 带号; is this a 报部格式 file?")
    if problems:
        raise ValidationError(f"{Path(path).name}: unreadable lines; nothing was imported", problems)
    if not parcels:
        raise ValidationError(f"{Path(path).name}: no parcels under [地块坐标]")
    zone = int(header["带号"])
    epsg = 4513 + zone - 25
    crs = CRS.from_epsg(epsg)
    records = [_parcel_record(parcel, problems) for parcel in parcels]
    if problems:
        raise ValidationError(f"{Path(path).name}: inconsistent parcels; nothing was imported", problems)
    return gpd.GeoDataFrame(records, geometry="geometry", crs=crs).to_crs(CGCS2000)


def _decode(path, encoding: str | None) -> str:
    raw = Path(path).read_bytes()
    text = None
    for enc in ([encoding] if encoding else ["utf-8-sig", "GB18030"]):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
        except LookupError as ex:
            raise InputError(f"unknown encoding {encoding!r}") from ex
    if text is None:
        raise InputError(f"{Path(path).name}: cannot decode; pass the right encoding (GBK or UTF-8)")
    return text


def _parse_sections(text: str) -> tuple[dict[str, str], list[dict], list[Problem]]:
    """The [属性描述] header fields, the raw parcels of [地块坐标] and the unreadable lines."""
    header, parcels, current, problems = {}, [], None, []
    section = None
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[属性描述]":
            key, _, value = line.partition("=")
            header[key.strip()] = value.strip()
        elif section == "[地块坐标]":
            cells = line.split(",")
            if cells[-1] == "@":
                current = {"count": cells[0], "area_ha": cells[1], "code": cells[2], "name": cells[3],
                           "use": cells[6] if len(cells) > 6 else "", "landclass": cells[7] if len(cells) > 7 else "",
                           "points": [], "line": n}
                parcels.append(current)
            elif re.fullmatch(r"J\d+", cells[0]) and len(cells) >= 4 and current is not None:
                try:
                    current["points"].append((int(cells[1]), float(cells[2]), float(cells[3])))
                except ValueError:
                    problems.append(Problem(n, "coordinates", f"not numbers: {line!r}"))
            else:
                problems.append(Problem(n, None, f"unrecognised line {line!r}"))
    return header, parcels, problems


def _parcel_record(parcel: dict, problems: list[Problem]) -> dict:
    """One parcel as a record with its (multi)polygon; a wrong 界址点数 is added to ``problems``."""
    rings: dict[int, list] = {}
    for ring_no, x, y in parcel["points"]:
        rings.setdefault(ring_no, []).append((y, x))  # easting, northing
    if int(parcel["count"]) != len(parcel["points"]):
        problems.append(Problem(parcel["line"], "界址点数",
                                f"says {parcel['count']} points, the file lists {len(parcel['points'])}"))
    polys: list[tuple[shapely.LinearRing, list]] = []
    for ring_no in sorted(rings):
        ring = shapely.LinearRing(rings[ring_no])
        host = next((k for k, (ext, _) in enumerate(polys) if shapely.Polygon(ext).contains(ring)), None)
        if host is None:
            polys.append((ring, []))
        else:
            polys[host][1].append(ring)
    geom = shapely.MultiPolygon([shapely.Polygon(e, h) for e, h in polys]) if len(polys) > 1 else \
        shapely.Polygon(polys[0][0], polys[0][1])
    return {"name": parcel["name"], "code": parcel["code"], "current_use": parcel["use"] or None,
            "landclass": parcel["landclass"] or None, "area_ha": float(parcel["area_ha"]), "geometry": geom}
