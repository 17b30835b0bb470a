"""Hand-off formats beside the PDF: DXF for CAD offices, KML/KMZ for field survey apps.

DXF (GDAL's DXF driver, AutoCAD 2004 DXF)
    Drawn in metres on a Gauss–Krüger plane: ``4547`` (zone 38 without prefix), ``4526``
    (zone number in front of the easting, 38 xxx xxx.xxx) or any other projected CRS; with no
    CRS the data's own 3-degree zone without prefix (EPSG:4547 for Jiaozuo). Geographic
    CRSs (cgcs2000, wgs84, gcj02, bd09) are refused: degrees are useless in CAD.
    Each kind's geometries go on one CAD layer named with the kind's Chinese label
    (``renewal_areas`` → ``更新改造片区``), as Chinese land and planning offices name their
    layers, and the names on a layer of their own beside it (``更新改造片区注记``), so that
    labels can be switched off or plotted apart, as in CASS/地籍 drawings. Polygons are
    closed LWPOLYLINEs (not hatches: a solid fill hides everything under it), holes and
    further parts closed polylines of their own; lines LWPOLYLINEs; points POINTs.
    Names are MTEXT (GDAL writes point features with an OGR ``LABEL`` style as MTEXT) in a
    SimSun (宋体) text style: at the centre of each polygon's largest inscribed circle
    (inside the polygon), sized to fit it; beside each point; once per road name, along
    its longest segment. Coordinates are rounded to the millimetre.
    Encoding: GDAL declares code page ANSI_1252 but writes layer names as UTF-8 bytes,
    which GDAL reads back as mojibake (as would AutoCAD, reading by the declared code page);
    so the file is re-encoded as code page 936 (GBK) and declared ``$DWGCODEPAGE ANSI_936``,
    the code page of Chinese AutoCAD's own pre-2007 DXF, which GDAL (3.6 and 3.12) reads
    back intact. MTEXT holds GDAL's ``\\U+XXXX`` escapes, which read the same in any code page.

KML / KMZ (GDAL's KML driver)
    Longitude/latitude in WGS84 (CGCS2000 relabelled, as for GeoJSON), 7 decimals (≈ 1 cm);
    ``gcj02`` shifts to GCJ-02 for apps that expect it (奥维互动地图 on an Amap base).
    Projected CRSs and BD-09 are refused. One placemark per feature: ``<name>`` the
    feature's name, ``<description>`` its attributes as ``标签：值`` lines with Chinese
    labels and vocabulary labels (plain text rather than an HTML table, so an app that
    shows the description as text shows no markup), the same attributes with their field
    names and stored values as ``ExtendedData`` for GIS readers, and an outline style (no
    fill, so the imagery shows) for lines and polygons. The folder is named with the kind's Chinese label. A KMZ is the
    same document zipped as ``doc.kml``. (GDAL 3.12's LIBKML driver crashed the process on a
    frame of mixed geometries with styles, so the KML driver it is.)

Both are written by :func:`layers.writers.write_layer` (temporary file, moved into place).
"""

from __future__ import annotations

__all__ = ["HANDOFF_FORMATS", "handoff_crs", "write_handoff", "cad_layer_name", "describe"]

import math
import os
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gis.crs import CGCS2000, CRSSpec, gk_epsg, gk_zone_of_epsg, metric_crs, parse_crs
from gis.errors import CRSError, InputError
from layers.schemas import SCHEMAS, label_zh, value_label_zh

HANDOFF_FORMATS = {"dxf": ".dxf", "kml": ".kml", "kmz": ".kmz"}

_KML_NS = "http://www.opengis.net/kml/2.2"
_FONT = "SimSun"  # 宋体: on every Chinese Windows; AutoCAD reads the face name from the style's XDATA
_CAD_FORBIDDEN = re.compile(r'[<>/\\":;?*|=`,\x00-\x1f]')
#: Outline colours of lines and polygons in KML, by kind (PEN colours, #RRGGBB).
_KML_COLOURS = {"renewal_areas": "#E53935", "parcels": "#FB8C00", "districts": "#8E24AA", "constraints": "#6D4C41",
                "population": "#1E88E5", "roads": "#757575"}
_POINT_TEXT_M = 3.0
_LINE_TEXT_M = 4.0
_MIN_TEXT_M, _MAX_TEXT_M = 1.0, 25.0


def handoff_crs(fmt: str, crs, frame) -> CRSSpec:
    """The CRS a hand-off format is written in, or an InputError saying what to pass.

    DXF: a projected CRS in metres; without ``crs`` the data's 3-degree GK zone (no prefix).
    KML/KMZ: WGS84/CGCS2000 (default) or GCJ-02.
    """
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"{fmt.upper()} needs geometries; export tables as csv")
    if fmt == "dxf":
        if crs is None:
            if frame.geometry.isna().all() or frame.geometry.is_empty.all():
                raise InputError("DXF is drawn in metres: pass --crs 4547 (a Gauss–Krüger zone; 4526 with the zone "
                                 "prefix), as the data has no geometry to choose its zone from")
            try:
                return parse_crs(metric_crs(frame))
            except CRSError as ex:
                raise InputError(f"DXF is drawn in metres and no Gauss–Krüger zone fits the data ({ex}); "
                                 "pass --crs with a projected CRS") from None
        spec = parse_crs(crs)
        unit = spec.crs.axis_info[0].unit_name if spec.crs.axis_info else ""
        if spec.offset or not spec.crs.is_projected or unit not in ("metre", "meter"):
            units = "degrees" if spec.offset or spec.crs.is_geographic else (unit or "its units")
            raise InputError(f"DXF is drawn in metres, not in {spec.name} {units}: CAD offices measure in metres. "
                             f"Pass --crs {_zone_hint(frame)}, or leave --crs out for the data's own zone")
        return spec
    if fmt in ("kml", "kmz"):
        spec = parse_crs(CGCS2000 if crs is None else crs)
        if spec.offset == "gcj02" or (spec.offset is None and spec.crs.to_epsg() in (CGCS2000, 4326)):
            return spec
        raise InputError(f"KML/KMZ holds longitude/latitude in WGS84, not {spec.name}: leave --crs out "
                         "(or pass wgs84/cgcs2000), or pass gcj02 for apps on an Amap/Tencent base map")
    raise InputError(f"{fmt!r} is not a hand-off format; use one of {', '.join(HANDOFF_FORMATS)}")


def _zone_hint(frame) -> str:
    """The GK CRSs that fit ``frame``, for a message."""
    try:
        zone, _ = gk_zone_of_epsg(metric_crs(frame).to_epsg())
    except (CRSError, TypeError, ValueError):
        return "4547 (a Gauss–Krüger zone, e.g. 38 with CM 114°E; 4526 with the zone prefix)"
    return (f"{gk_epsg(3 * zone)} (the data's Gauss–Krüger zone {zone}, CM {3 * zone}°E) or "
            f"{gk_epsg(3 * zone, prefixed=True)} (the same with {zone} in front of the easting)")


def write_handoff(out: gpd.GeoDataFrame, tmp: str, fmt: str, *, kind: str | None, layer_name: str) -> None:
    """Write ``out`` (already in the CRS of :func:`handoff_crs`) to ``tmp`` as DXF, KML or KMZ."""
    if not isinstance(out, gpd.GeoDataFrame):
        raise InputError(f"{fmt.upper()} needs geometries; export tables as csv")
    if fmt == "dxf":
        _write_dxf(out, tmp, kind, layer_name)
    elif fmt == "kml":
        _write_kml(out, tmp, kind, layer_name)
    elif fmt == "kmz":
        workdir = tempfile.mkdtemp(prefix="kmz-", dir=os.path.dirname(tmp) or None)
        try:
            doc = os.path.join(workdir, "doc.kml")
            _write_kml(out, doc, kind, layer_name)
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.write(doc, "doc.kml")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    else:
        raise InputError(f"{fmt!r} is not a hand-off format; use one of {', '.join(HANDOFF_FORMATS)}")


# --- DXF ----------------------------------------------------------------------------------


def cad_layer_name(kind: str | None, layer_name: str) -> str:
    """The CAD layer of a kind: its Chinese label (any other layer: its name, made CAD-safe).

    Examples
    --------
    >>> cad_layer_name("renewal_areas", "renewal_areas"), cad_layer_name(None, "my:layer")
    ('更新改造片区', 'my_layer')
    """
    schema = SCHEMAS.get(kind) if kind else None
    name = schema.label_zh if schema is not None else str(layer_name)
    name = _CAD_FORBIDDEN.sub("_", name).strip() or "renewal"
    return "".join(c if _fits_gbk(c) else "_" for c in name)[:255]


def _fits_gbk(c: str) -> bool:
    try:
        c.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def _label_style(text: str, height: float, anchor: int, angle: float = 0.0) -> str:
    # MTEXT braces group formatting and GDAL does not escape them: shown as full-width braces.
    text = text.replace("{", "｛").replace("}", "｝").replace("\\", "\\\\").replace('"', '\\"')
    style = f'LABEL(f:"{_FONT}",t:"{text}",s:{height:g}g,p:{anchor}'
    return style + (f",a:{angle:.2f})" if angle else ")")


def _text_units(text: str) -> float:
    """Width of ``text`` in text heights: CJK glyphs are square, Latin ones narrower."""
    return sum(1.0 if ord(c) >= 0x2E80 else 0.6 for c in text) or 1.0


def _polygon_labels(geoms, names) -> list[tuple[shapely.Point, str]]:
    circles = shapely.maximum_inscribed_circle(geoms)
    labels = []
    for geom, circle, name in zip(geoms, circles, names, strict=True):
        centre = shapely.get_point(circle, 0)
        if not shapely.contains(geom, centre):  # degenerate slivers: any point inside will do
            centre = shapely.point_on_surface(geom)
        radius = shapely.length(circle)
        height = min(1.8 * radius / _text_units(name), radius)
        height = round(min(max(height, _MIN_TEXT_M), _MAX_TEXT_M), 1)
        labels.append((centre, _label_style(name, height, 5)))
    return labels


def _point_labels(geoms, names) -> list[tuple[shapely.Point, str]]:
    labels = []
    for geom, name in zip(geoms, names, strict=True):
        point = shapely.get_point(geom, 0) if shapely.get_type_id(geom) == 4 else geom
        at = shapely.Point(round(point.x + 0.6 * _POINT_TEXT_M, 3), round(point.y, 3))
        labels.append((at, _label_style(name, _POINT_TEXT_M, 4)))  # middle left, beside the point
    return labels


def _line_labels(geoms, names) -> list[tuple[shapely.Point, str]]:
    """One label per name, at the middle of its longest line, along it, reading left to right."""
    longest: dict[str, shapely.Geometry] = {}
    for geom, name in zip(geoms, names, strict=True):
        if name not in longest or shapely.length(geom) > shapely.length(longest[name]):
            longest[name] = geom
    labels = []
    for name, geom in longest.items():
        line = max(getattr(geom, "geoms", [geom]), key=lambda g: g.length)
        half = line.length / 2
        at = line.interpolate(half)
        a, b = line.interpolate(max(half - 0.5, 0.0)), line.interpolate(min(half + 0.5, line.length))
        angle = math.degrees(math.atan2(b.y - a.y, b.x - a.x)) if a.distance(b) > 0 else 0.0
        if angle > 90:
            angle -= 180
        elif angle <= -90:
            angle += 180
        labels.append((shapely.Point(round(at.x, 3), round(at.y, 3)), _label_style(name, _LINE_TEXT_M, 11, angle)))
    return labels


def _dxf_labels(geoms, names) -> list[tuple[shapely.Point, str]]:
    """Label points and OGR LABEL styles of the named features (any mix of geometry types)."""
    names = np.array([n.strip() if isinstance(n, str) else "" for n in names], dtype=object)
    named = names != ""
    types = shapely.get_type_id(geoms)
    polygons, lines, points = np.isin(types, (3, 6)), np.isin(types, (1, 2, 5)), np.isin(types, (0, 4))
    return (_polygon_labels(geoms[named & polygons], names[named & polygons])
            + _line_labels(geoms[named & lines], names[named & lines])
            + _point_labels(geoms[named & points], names[named & points]))


def _write_dxf(out: gpd.GeoDataFrame, tmp: str, kind: str | None, layer_name: str) -> None:
    layer = cad_layer_name(kind, layer_name)
    geoms = np.asarray(out.geometry.values)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms = shapely.transform(geoms[keep], lambda c: np.round(c, 3))  # millimetres
    names = out["name"].to_numpy(dtype=object)[keep] if "name" in out.columns else np.full(len(geoms), None)
    labels = _dxf_labels(geoms, names)
    drawing = gpd.GeoDataFrame(
        {"Layer": [layer] * len(geoms) + [layer + "注记"] * len(labels),
         "OGR_STYLE": [None] * len(geoms) + [style for _, style in labels]},
        geometry=list(geoms) + [point for point, _ in labels], crs=out.crs)
    # Polygons as closed polylines, not hatches. A process-wide GDAL option, always this value here.
    pyogrio.set_gdal_config_options({"DXF_WRITE_HATCH": "FALSE"})
    workdir = tempfile.mkdtemp(prefix="dxf-", dir=os.path.dirname(tmp) or None)
    try:
        raw = os.path.join(workdir, "gdal.dxf")
        pyogrio.write_dataframe(drawing, raw, driver="DXF")
        with open(raw, "rb") as fh:
            data = fh.read()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    with open(tmp, "wb") as fh:
        fh.write(_as_code_page_936(data))


def _as_code_page_936(data: bytes) -> bytes:
    """GDAL's DXF (UTF-8 layer names under ``$DWGCODEPAGE ANSI_1252``) as code page 936."""
    text, n = re.subn(r"(\$DWGCODEPAGE\r?\n\s*3\r?\n)[^\r\n]*", r"\g<1>ANSI_936", data.decode("utf-8"), count=1)
    if n != 1:
        raise RuntimeError("GDAL's DXF has no $DWGCODEPAGE in its header; cannot declare code page 936")
    return text.encode("gbk")


# --- KML ----------------------------------------------------------------------------------


def _format_value(value) -> str | None:
    try:
        if value is None or pd.isna(value):
            return None
    except (TypeError, ValueError):  # not a scalar
        pass
    if isinstance(value, (bool, np.bool_)):
        return "是" if value else "否"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        text = f"{round(float(value), 2):.2f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    text = str(value).strip()
    return text or None


def _described_fields(frame: pd.DataFrame, kind: str | None) -> list[str]:
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    schema = SCHEMAS.get(kind) if kind else None
    if schema is not None:
        return [f for f in schema.names if f in frame.columns and f != "name"]
    return [c for c in frame.columns if c not in (geometry, "name", "id")]


def describe(row, kind: str | None, fields: list[str]) -> str:
    """A feature's attributes as ``标签：值`` lines (Chinese labels and vocabulary labels).

    Examples
    --------
    >>> describe({"county": "中站区", "kind": "old_factory", "households": 3200, "approximate": True,
    ...           "investment": float("nan")}, "renewal_areas",
    ...          ["county", "kind", "households", "investment", "approximate"])
    '县市区：中站区\\n改造类型：老厂区\\n户数：3200\\n几何为示意：是'
    """
    schema = SCHEMAS.get(kind) if kind else None
    choices = {f.name: f.choices for f in schema.fields if f.choices} if schema is not None else {}
    lines = []
    for field in fields:
        value = row[field]
        if field in choices and isinstance(value, str):
            value = value_label_zh(choices[field], value)
        text = _format_value(value)
        if text is not None:
            lines.append(f"{label_zh(kind or '', field)}：{text}")
    return "\n".join(lines)


def _kml_column(values: pd.Series) -> pd.Series:
    """ExtendedData values: booleans 1/0 and integers as KML ``int`` (GDAL's KML driver
    declares 64-bit integers as strings), other numbers as they are, anything else text."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_integer_dtype(values):
        ints = values.astype("Int64")
        if ints.isna().all() or ints.abs().max() < 2**31:
            return ints.astype("Int32")
        return ints.astype("Float64")
    if pd.api.types.is_numeric_dtype(values):
        return values
    return values.map(lambda v: v if isinstance(v, str) else _format_value(v))


def _write_kml(out: gpd.GeoDataFrame, path: str, kind: str | None, layer_name: str) -> None:
    schema = SCHEMAS.get(kind) if kind else None
    folder = schema.label_zh if schema is not None else str(layer_name)
    keep = ~(out.geometry.isna() | out.geometry.is_empty)
    out = out[keep.to_numpy()]
    fields = _described_fields(out, kind)
    geoms = shapely.transform(np.asarray(out.geometry.values), lambda c: np.round(c, 7))
    types = shapely.get_type_id(geoms)
    colour = _KML_COLOURS.get(kind or "", "#E53935")
    names = out["name"] if "name" in out.columns else pd.Series([None] * len(out), index=out.index)
    doc = pd.DataFrame({
        "Name": [n.strip() if isinstance(n, str) and n.strip() else None for n in names],
        "Description": [describe(r, kind, fields) or None for r in out[fields].to_dict("records")],
    })
    for f in fields:
        doc[f] = _kml_column(out[f]).to_numpy()
    doc["OGR_STYLE"] = np.where(types == 0, None, f"PEN(c:{colour},w:2px)")
    frame = gpd.GeoDataFrame(doc, geometry=list(geoms), crs=4326)  # CGCS2000 (or GCJ-02) as WGS84
    raw = path + ".gdal.kml"
    try:
        pyogrio.write_dataframe(frame, raw, driver="KML", layer=folder,
                                dataset_options={"NameField": "Name", "DescriptionField": "Description"})
        _drop_style_field(raw, path)
    finally:
        if os.path.exists(raw):
            os.remove(raw)


def _drop_style_field(src: str, dst: str) -> None:
    """Remove the OGR_STYLE field GDAL's KML driver also writes as ExtendedData (the style it
    made of it stays on each placemark)."""
    ET.register_namespace("", _KML_NS)
    tree = ET.parse(src)
    ns = {"k": _KML_NS}
    for parent in tree.getroot().iterfind(".//k:Schema", ns):
        for child in parent.findall("k:SimpleField[@name='OGR_STYLE']", ns):
            parent.remove(child)
    for parent in tree.getroot().iterfind(".//k:SchemaData", ns):
        for child in parent.findall("k:SimpleData[@name='OGR_STYLE']", ns):
            parent.remove(child)
    tree.write(dst, encoding="utf-8", xml_declaration=True)
