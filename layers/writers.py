"""Write layers for other tools and land bureaus.

- GeoJSON in CGCS2000/WGS84 follows RFC 7946 (lon/lat, counter-clockwise exteriors, no
  ``crs`` member, 7 decimals ≈ 1 cm); in any other CRS it is plain GeoJSON with a ``crs``.
- GeoPackage, zipped Shapefile (UTF-8 with ``.cpg``, or GBK on request; field names cut to
  10 characters by the schema's ``shp_name``) and CSV (points as x/y columns, other
  geometries as WKT; UTF-8 with BOM so Excel shows Chinese).
- ``labels="zh"`` writes Chinese column headers and vocabulary labels, as offices expect.
- Hand-off formats (``layers/cad_kml.py``): DXF for CAD offices (Gauss–Krüger metres, a CAD
  layer per kind, names as text; code page 936) and KML/KMZ for field apps (WGS84 or GCJ-02,
  names and attributes with Chinese labels). They are always labelled in Chinese (``labels``
  applies to the tabular formats).

Every write goes to a temporary file first and is moved into place, so a failure never
leaves half a file behind. Before that, the encoding is looked up (``codecs.lookup``) and
every header and text value is checked to be writable in it, so "ascii" with a Chinese name
is refused up front, naming the feature and field, and nothing at all is written.
GeoJSON, GeoPackage and KML are always UTF-8, DXF code page 936 (the ``encoding`` argument
is checked, then not used).
"""

from __future__ import annotations

__all__ = ["FORMATS", "write_layer", "format_for_path", "localize_columns", "lookup_encoding",
           "check_encodable"]

import codecs
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gis.crs import CGCS2000, CRSSpec, parse_crs
from gis.errors import InputError
from layers.cad_kml import HANDOFF_FORMATS, handoff_crs, write_handoff
from layers.gpkg_sql import GPKG_VERSION
from layers.schemas import SCHEMAS, label_zh, shp_field_name, value_label_zh

FORMATS = {"geojson": ".geojson", "gpkg": ".gpkg", "shp": ".zip", "csv": ".csv", **HANDOFF_FORMATS}
_SUFFIX_FORMAT = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".zip": "shp",
                  ".shp": "shp", ".csv": "csv", ".dxf": "dxf", ".kml": "kml", ".kmz": "kmz"}
# Python's codec name → the name GDAL's iconv takes for a .dbf (and writes to the .cpg).
# Other Python codecs make GDAL fail ("latin-1", "utf_8", "euc_jp") or write garbage (UTF-16).
_SHP_ENCODINGS = {"utf-8": "UTF-8", "gbk": "GBK", "gb18030": "GB18030", "gb2312": "GB2312", "big5": "BIG5",
                  "ascii": "ASCII", "iso8859-1": "ISO-8859-1", "cp1252": "CP1252"}
_REMEDY = "use UTF-8 or GBK/GB18030"
_MAX_LISTED = 50


def lookup_encoding(encoding: str) -> str:
    """Python's canonical name of a text encoding (``"GBK"`` → ``"gbk"``).

    Raises
    ------
    InputError
        When Python does not know ``encoding`` as a text encoding.

    Examples
    --------
    >>> lookup_encoding("UTF8")
    'utf-8'
    """
    try:
        name = codecs.lookup(encoding).name
        "".encode(encoding)  # refuses codecs that are not text encodings (base64, rot13)
    except (LookupError, TypeError, ValueError, UnicodeError):
        raise InputError(f"unknown encoding {encoding!r}; use UTF-8 or GBK") from None
    return name


def _cannot(value: str, encoding: str) -> tuple[str, str]:
    """What is wrong with ``value`` in ``encoding``, and what to do about it."""
    shown = value if len(value) <= 40 else value[:39] + "…"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return (f"{shown!r} is not valid Unicode text (a lone surrogate) and cannot be written in any encoding",
                "correct the value in the layer")
    return f"{shown!r} cannot be written in {encoding}", _REMEDY


def _joined(values) -> str:
    try:
        return "\n".join(values)
    except TypeError:  # NaN, numbers, dates: written as ASCII digits, nothing to check
        return "\n".join(v for v in values if isinstance(v, str))


def check_encodable(frame: pd.DataFrame, encoding: str, *, ids=None) -> None:
    """Raise if a column header or text value of ``frame`` cannot be written in ``encoding``.

    One ``encode`` of each text column's values joined; only a column that fails is looked
    at value by value, to name the features (1-based, with their ``id`` if the frame has one).

    Raises
    ------
    InputError
        Naming every header and value that does not fit, one a line; the first line names
        the first of them, e.g. ``feature 3 (id 12), field 'name': '西大井片区' cannot be
        written in ascii; use UTF-8 or GBK/GB18030``. An InputError (HTTP 400), not a
        ValidationError (422): the stored features are fine, the encoding asked for is not.
    """
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    names = [c for c in frame.columns if c != geometry]
    if ids is None and "id" in frame.columns:
        ids = frame["id"].to_numpy()
    problems: list[str] = []
    for c in names:
        if isinstance(c, str):
            try:
                c.encode(encoding)
            except UnicodeEncodeError:
                what, remedy = _cannot(c, encoding)
                problems.append(f"column header {what}; {remedy}, or English headers (labels='en')")
    for c in names:
        col = frame[c]
        if not (col.dtype == object or isinstance(col.dtype, pd.StringDtype)):
            continue
        values = col.to_numpy(dtype=object)
        try:
            _joined(values).encode(encoding)
            continue
        except UnicodeEncodeError:
            pass
        bad = {}
        for v in {v for v in values if isinstance(v, str)}:
            try:
                v.encode(encoding)
            except UnicodeEncodeError:
                bad[v] = _cannot(v, encoding)
        rows = np.flatnonzero(np.fromiter((isinstance(v, str) and v in bad for v in values), bool, len(values)))
        for i in rows[:_MAX_LISTED]:
            what, remedy = bad[values[i]]
            fid = f" (id {ids[i]})" if ids is not None else ""
            problems.append(f"feature {i + 1}{fid}, field '{c}': {what}; {remedy}")
        if len(rows) > _MAX_LISTED:
            problems.append(f"field '{c}': {len(rows) - _MAX_LISTED} more values that {encoding} cannot hold")
    if problems:
        if len(problems) == 1:
            raise InputError(f"{problems[0]}. Nothing was written")
        listed = "\n".join(f"  - {p}" for p in problems[1:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise InputError(f"{problems[0]}. Nothing was written; {len(problems)} problems in all:\n"
                         f"  - {problems[0]}\n{listed}{more}")


def format_for_path(path, fmt: str | None = None) -> str:
    if fmt:
        fmt = fmt.lower()
        if fmt not in FORMATS and fmt != "txt":
            raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}, txt")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX_FORMAT:
        raise InputError(f"cannot tell the format from {Path(path).name!r}; pass --format ({', '.join(FORMATS)})")
    return _SUFFIX_FORMAT[suffix]


def localize_columns(frame: pd.DataFrame, kind: str | None) -> pd.DataFrame:
    """Chinese headers and vocabulary labels for a layer of ``kind``."""
    frame = frame.copy()
    schema = SCHEMAS.get(kind) if kind else None
    if schema is not None:
        for f in schema.fields:
            if f.choices and f.name in frame.columns:
                frame[f.name] = frame[f.name].map(lambda v, c=f.choices: value_label_zh(c, v) if isinstance(v, str) else v)
    geom = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    renames = {c: label_zh(kind or "", c) for c in frame.columns if c != geom}
    return frame.rename(columns=renames)


def write_layer(
    frame: gpd.GeoDataFrame | pd.DataFrame,
    path,
    *,
    fmt: str | None = None,
    crs=None,
    encoding: str | None = None,
    kind: str | None = None,
    labels: str = "en",
    layer_name: str | None = None,
    gpkg_version: str = GPKG_VERSION,
) -> Path:
    """Write ``frame`` (EPSG:4490) to ``path`` in ``fmt`` and ``crs``.

    Parameters
    ----------
    crs : optional
        Target CRS: EPSG code or alias (``cgcs2000`` default, ``4547``, ``gcj02``...). DXF
        takes a projected CRS (default: the data's GK zone, e.g. 4547; ``4526`` with the zone
        prefix), KML/KMZ WGS84/CGCS2000 (default) or ``gcj02``.
    encoding : optional
        Shapefile/CSV encoding; ``GBK`` for older office software. Default UTF-8 (with a
        BOM for CSV). GeoJSON and GeoPackage are always UTF-8.
    labels : {"en", "zh"}
        Column headers as English field names (default) or Chinese labels.
    gpkg_version : {"1.2", "1.3", "1.4"}
        The GeoPackage version a ``gpkg`` file declares (1.2 unless asked: read by QGIS 3.22
        LTR / GDAL 3.6 without a warning).

    Returns
    -------
    Path
        The written file (``.zip`` for Shapefiles).

    Raises
    ------
    InputError
        For an unknown format, encoding or ``labels``, a CRS the format cannot hold (DXF in
        degrees, KML in metres), or when a header or value cannot be written in ``encoding``
        (each named by feature and field); no file is created then.
    """
    fmt = format_for_path(path, fmt)
    path = Path(path)
    codec = _check_options(fmt, encoding, labels, gpkg_version)
    out, spec = _prepared_frame(frame, fmt, crs, kind, labels)
    _check_writable(out, frame, fmt, codec, encoding)
    if fmt == "shp" and path.suffix.lower() == ".shp":
        path = path.with_suffix(".zip")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _free_temp_name(path)
    try:
        _write_format(out, tmp, fmt, path, spec, kind=kind, layer_name=layer_name, codec=codec,
                      encoding=encoding, labels=labels, gpkg_version=gpkg_version)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _check_options(fmt: str, encoding: str | None, labels: str, gpkg_version: str) -> str | None:
    """Refuse a bad ``gpkg_version``, ``labels`` or ``encoding``; the codec name of ``encoding``, if given."""
    if gpkg_version not in ("1.2", "1.3", "1.4"):
        raise InputError(f"gpkg_version must be 1.2, 1.3 or 1.4, got {gpkg_version!r}")
    if labels not in ("en", "zh"):
        raise InputError(f"labels must be 'en' or 'zh', got {labels!r}")
    codec = lookup_encoding(encoding) if encoding is not None else None
    if fmt == "shp" and codec is not None and codec not in _SHP_ENCODINGS:
        raise InputError(f"a Shapefile cannot be written in {encoding!r}; use UTF-8 or GBK (or one of "
                         f"{', '.join(sorted(set(_SHP_ENCODINGS.values())))})")
    return codec


def _prepared_frame(frame: gpd.GeoDataFrame | pd.DataFrame, fmt: str, crs, kind: str | None,
                    labels: str) -> tuple[gpd.GeoDataFrame | pd.DataFrame, CRSSpec]:
    """``frame`` in the target CRS, with the headers ``labels`` asks for, and that CRS."""
    if fmt in HANDOFF_FORMATS:  # DXF in metres (default: the data's GK zone), KML in lon/lat
        spec = handoff_crs(fmt, crs, frame)
    else:
        spec = parse_crs(crs if crs is not None else CGCS2000)
    out = frame
    if isinstance(frame, gpd.GeoDataFrame):
        geoms = spec.from_cgcs2000(frame.to_crs(CGCS2000).geometry.values)
        out = gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name), geometry=list(geoms), crs=spec.crs)
    if labels == "zh" and fmt not in HANDOFF_FORMATS:
        out = localize_columns(out, kind)
    return out, spec


def _check_writable(out: pd.DataFrame, frame: pd.DataFrame, fmt: str, codec: str | None,
                    encoding: str | None) -> None:
    ids = frame["id"].to_numpy() if "id" in frame.columns else None  # before labels="zh" renames it
    if fmt in ("shp", "csv") and codec is not None:
        check_encodable(out, encoding, ids=ids)
    else:  # UTF-8 holds everything but lone surrogates
        check_encodable(out, "utf-8", ids=ids)


def _free_temp_name(path: Path) -> str:
    """A name no file has, next to ``path`` so ``os.replace`` can move it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    os.remove(tmp)
    return tmp


def _write_format(out, tmp: str, fmt: str, path: Path, spec: CRSSpec, *, kind: str | None, layer_name: str | None,
                  codec: str | None, encoding: str | None, labels: str, gpkg_version: str) -> None:
    if fmt == "geojson":
        _write_geojson(out, tmp, spec)
    elif fmt == "gpkg":
        pyogrio.write_dataframe(out, tmp, layer=layer_name or kind or path.stem, driver="GPKG",
                                dataset_options={"VERSION": gpkg_version})
    elif fmt == "shp":
        _write_zipped_shp(out, tmp, kind, _SHP_ENCODINGS[codec] if codec else "UTF-8", path.stem, labels)
    elif fmt == "csv":
        _write_csv(out, tmp, encoding)
    elif fmt in HANDOFF_FORMATS:
        write_handoff(out, tmp, fmt, kind=kind, layer_name=layer_name or kind or path.stem)
    else:
        raise InputError(f"format {fmt!r} is written by layers.landuse_txt, not write_layer")


def _write_geojson(out, tmp: str, spec) -> None:
    if not isinstance(out, gpd.GeoDataFrame):
        raise InputError("GeoJSON needs geometries; export tables as csv")
    epsg = spec.crs.to_epsg()
    if spec.offset is None and epsg in (CGCS2000, 4326):
        # CGCS2000 and WGS84 agree to < 1 m; RFC 7946 names WGS84, so relabel, not transform.
        out = out.set_crs(4326, allow_override=True)
        pyogrio.write_dataframe(out, tmp, driver="GeoJSON", layer_options={
            "RFC7946": "YES", "COORDINATE_PRECISION": "7", "WRITE_NAME": "NO"})
    else:
        precision = "7" if spec.crs.is_geographic else "3"
        pyogrio.write_dataframe(out, tmp, driver="GeoJSON", layer_options={
            "COORDINATE_PRECISION": precision, "WRITE_NAME": "NO"})


def _write_zipped_shp(out, tmp: str, kind, encoding: str, stem: str, labels: str) -> None:
    if not isinstance(out, gpd.GeoDataFrame):
        raise InputError("Shapefile needs geometries; export tables as csv")
    schema = SCHEMAS.get(kind) if kind else None
    if schema is not None and labels == "en":
        out = out.rename(columns={f.name: shp_field_name(f) for f in schema.fields})
    long = [c for c in out.columns if c != "geometry" and len(str(c).encode(encoding, "replace")) > 10]
    if long:
        out = out.rename(columns={c: _short(c, encoding) for c in long})
    workdir = tempfile.mkdtemp(prefix="shp-")
    try:
        shp = os.path.join(workdir, f"{stem}.shp")
        pyogrio.write_dataframe(out, shp, driver="ESRI Shapefile", encoding=encoding)
        cpg = os.path.join(workdir, f"{stem}.cpg")
        with open(cpg, "w", encoding="ascii") as fh:  # GDAL writes it for UTF-8; make it explicit
            fh.write(encoding.upper())
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(os.listdir(workdir)):
                zf.write(os.path.join(workdir, name), name)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _short(name: str, encoding: str) -> str:
    raw = str(name).encode(encoding, "replace")[:10]
    return raw.decode(encoding, "ignore")


def _write_csv(out, tmp: str, encoding: str | None) -> None:
    enc = encoding or "utf-8-sig"
    if isinstance(out, gpd.GeoDataFrame):
        geoms = out.geometry.values
        table = pd.DataFrame(out.drop(columns="geometry"))
        if len(out) and (shapely.get_type_id(geoms) == 0).all():
            projected = not out.crs.is_geographic
            decimals = 3 if projected else 7
            table["x" if projected else "lon"] = shapely.get_x(geoms).round(decimals)
            table["y" if projected else "lat"] = shapely.get_y(geoms).round(decimals)
        else:
            table["wkt"] = shapely.to_wkt(geoms, rounding_precision=7 if out.crs.is_geographic else 3)
        out = table
    out.to_csv(tmp, index=False, encoding=enc)
