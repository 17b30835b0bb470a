"""Read planners' files: GeoJSON, GeoPackage, Shapefile (plain or zipped), CSV points.

Shapefiles from Chinese offices are often GBK without a ``.cpg``: a ``.cpg`` is honoured;
otherwise UTF-8 is tried and GB18030 (a superset of GBK) used when UTF-8 cannot decode.
An explicit ``encoding`` always wins.

Error messages name the file by its base name only: they reach HTTP clients, and an upload's
temporary folder is nobody's business (GDAL's own messages are scrubbed of it too).
"""

from __future__ import annotations

__all__ = ["RawLayer", "read_layer_file", "LON_COLUMNS", "LAT_COLUMNS"]

import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from gis.errors import InputError, Problem, ValidationError

log = logging.getLogger(__name__)

LON_COLUMNS = ("lon", "lng", "long", "longitude", "经度", "x")
LAT_COLUMNS = ("lat", "latitude", "纬度", "y")
_VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb", ".csv", ".xlsx", ".txt"}
_FALLBACK_ENCODING = "GB18030"


@dataclass
class RawLayer:
    """What a file held, before validation."""

    frame: gpd.GeoDataFrame | pd.DataFrame
    encoding: str | None
    driver: str


def read_layer_file(path, *, layer: str | None = None, encoding: str | None = None) -> RawLayer:
    """Read a vector file into a GeoDataFrame (or a DataFrame for attribute tables).

    Parameters
    ----------
    path : str or Path
        ``.geojson``/``.json``, ``.gpkg``, ``.shp``, ``.zip`` (a zipped Shapefile), ``.csv``
        (points from lon/lat columns, assumed CGCS2000 degrees unless ``crs`` says otherwise
        at import, or an attribute table).
    layer : str, optional
        The layer to read from a multi-layer file (GeoPackage).
    encoding : str, optional
        Text encoding; wins over ``.cpg`` and detection.

    Raises
    ------
    InputError
        When the path is not a file (a folder, ``.`` or ``..``), does not exist, or cannot be
        read as the format its suffix says.
    ValidationError
        When the file is empty, or some of its geometries cannot be read (every one is listed
        with its row).
    """
    path = Path(path)
    display = path.name or str(path)  # "." has no name
    if not path.exists():
        raise InputError(f"{display}: no such file")
    if not path.is_file():
        what = "a folder" if path.is_dir() else "a device, pipe or socket"
        raise InputError(f"{display} is not a file ({what}); pass the .shp, .gpkg, .geojson, .zip, .csv or "
                         ".txt file itself")
    if path.stat().st_size == 0:
        raise ValidationError(f"{path.name} is empty (0 bytes); nothing to import")
    suffix = path.suffix.lower()
    if suffix not in _VECTOR_SUFFIXES:
        raise InputError(
            f"{path.name}: unsupported format {suffix!r}; use GeoJSON, GeoPackage, Shapefile "
            "(.shp or zipped), CSV with lon/lat columns or a 报部格式 .txt"
        )
    if suffix == ".csv":
        return _read_csv(path, encoding)
    if suffix == ".xlsx":
        return _read_xlsx(path)
    if suffix == ".txt":
        from layers.landuse_txt import read_landuse_txt

        return RawLayer(read_landuse_txt(path, encoding=encoding), encoding or "detected", "landuse_txt")
    if suffix == ".zip":
        source, cpg, dbf = _zipped_shapefile(path)
        return _read_ogr(source, path, layer, encoding or cpg, dbf_known=cpg is not None or dbf)
    if suffix == ".shp":
        cpg_path = path.with_suffix(".cpg")
        has_cpg = cpg_path.exists() and cpg_path.read_text(errors="replace").strip() != ""
        return _read_ogr(str(path), path, layer, encoding, dbf_known=has_cpg)
    return _read_ogr(str(path), path, layer, encoding or "UTF-8", dbf_known=True)


def _zipped_shapefile(path: Path) -> tuple[str, str | None, bool]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            shps = [n for n in names if n.lower().endswith(".shp")]
            if len(shps) != 1:
                raise InputError(f"{path.name}: expected exactly one .shp inside the zip, found {len(shps)}")
            stem = shps[0][:-4]
            cpg = next((n for n in names if n.lower() == f"{stem}.cpg".lower()), None)
            cpg_text = zf.read(cpg).decode("ascii", "replace").strip() if cpg else None
    except zipfile.BadZipFile as ex:
        raise InputError(f"{path.name} is not a readable zip file: {ex}") from ex
    return f"/vsizip/{path}/{shps[0]}", cpg_text or None, False


def _scrub(text: str, source: str, path: Path) -> str:
    """GDAL's message with the file's folder left out (it may be a server's temp folder)."""
    text = text.replace(source, path.name)
    for folder in {str(path.parent), str(path.parent.resolve())}:
        if folder not in ("", ".", os.sep):
            text = text.replace(folder + os.sep, "")
    return text


def _read_geometry_checked(source: str, path: Path, encoding, kwargs) -> gpd.GeoDataFrame:
    try:
        with np.errstate(invalid="ignore"):  # NaN coordinates are reported by validation, row by row
            return pyogrio.read_dataframe(source, encoding=encoding, **kwargs)
    except shapely.errors.GEOSException as ex:
        # GEOS refuses the whole file for one ring of 3 points; find and name every such row.
        _, _, wkb, _ = pyogrio.raw.read(source, encoding=encoding, columns=[], **kwargs)
        parsed = shapely.from_wkb(wkb, on_invalid="ignore")
        bad = np.flatnonzero(shapely.is_missing(parsed) & np.array([w is not None for w in wkb], bool))
        problems = []
        for i in bad[:50]:
            try:
                shapely.from_wkb(wkb[i])
                reason = "unreadable"
            except shapely.errors.GEOSException as row_ex:
                reason = str(row_ex).strip().removeprefix("IllegalArgumentException: ")
            problems.append(Problem(int(i) + 1, "geometry", f"cannot be read ({reason}): a polygon ring needs at "
                                    "least 4 points and must end where it starts; a line needs at least 2 points"))
        if len(bad) > 50:
            problems.append(Problem(None, "geometry", f"{len(bad) - 50} more geometries that cannot be read"))
        if not problems:
            raise InputError(f"{path.name}: a geometry cannot be read ({_scrub(str(ex), source, path)})") from ex
        raise ValidationError(f"{path.name}: {len(bad)} geometr{'y' if len(bad) == 1 else 'ies'} cannot be read; "
                              "nothing was written. Fix these and import again:", problems) from ex


def _read_ogr(source: str, path: Path, layer, encoding, *, dbf_known: bool) -> RawLayer:
    display = path.name
    kwargs = {"layer": layer} if layer else {}
    try:
        if encoding or dbf_known:
            frame = _read_geometry_checked(source, path, encoding, kwargs)
            used = encoding or "cpg"
        else:
            try:
                frame = _read_geometry_checked(source, path, "UTF-8", kwargs)
                used = "UTF-8"
            except UnicodeDecodeError:
                log.info("%s is not UTF-8 and has no .cpg; reading it as %s", display, _FALLBACK_ENCODING)
                frame = _read_geometry_checked(source, path, _FALLBACK_ENCODING, kwargs)
                used = _FALLBACK_ENCODING
    except UnicodeDecodeError as ex:
        raise InputError(
            f"{display}: text is not {encoding}; pass the right --encoding (e.g. GBK or UTF-8)"
        ) from ex
    except LookupError as ex:
        raise InputError(f"unknown encoding {encoding!r}; use e.g. UTF-8, GBK or GB18030") from ex
    except (DataSourceError, DataLayerError) as ex:
        raise InputError(f"{display} cannot be read as a vector file: {_scrub(str(ex), source, path)}") from ex
    if len(frame) == 0:
        raise ValidationError(f"{display} holds no features; nothing to import")
    return RawLayer(frame, used, "OGR")


def _find_column(columns, candidates) -> str | None:
    lower = {str(c).strip().lower(): c for c in columns}
    for cand in candidates:
        if cand in lower:
            return lower[cand]
    return None


def _read_csv(path: Path, encoding: str | None) -> RawLayer:
    encodings = [encoding] if encoding else ["utf-8-sig", _FALLBACK_ENCODING]
    frame, used, last = None, None, None
    for enc in encodings:
        try:
            frame = pd.read_csv(path, encoding=enc, dtype=str, keep_default_na=False, na_values=[""])
            used = enc
            break
        except UnicodeDecodeError as ex:
            last = ex
        except LookupError as ex:
            raise InputError(f"unknown encoding {encoding!r}; use e.g. UTF-8 or GBK") from ex
        except pd.errors.EmptyDataError as ex:
            raise ValidationError(f"{path.name} has no rows; nothing to import") from ex
        except pd.errors.ParserError as ex:
            raise InputError(f"{path.name} is not a well-formed CSV: {ex}") from ex
    if frame is None:
        raise InputError(f"{path.name}: text is not {encoding}; pass the right --encoding (GBK, UTF-8)") from last
    return _table_layer(path, frame, used, "CSV")


def _read_xlsx(path: Path) -> RawLayer:
    try:
        frame = pd.read_excel(path, dtype=str, engine="openpyxl", keep_default_na=False, na_values=[""])
    except (ValueError, OSError, KeyError) as ex:  # openpyxl's "not a zip file", bad sheets
        raise InputError(f"{path.name} is not a readable .xlsx workbook ({ex})") from ex
    return _table_layer(path, frame, "xlsx", "xlsx")


def _table_layer(path: Path, frame: pd.DataFrame, used: str, driver: str) -> RawLayer:
    """A table (CSV, xlsx) as a layer: WKT or lon/lat columns become geometry; else attributes."""
    if len(frame) == 0:
        raise ValidationError(f"{path.name} has a header but no rows; nothing to import")
    frame.columns = [str(c).strip() for c in frame.columns]
    wkt_col = _find_column(frame.columns, ("wkt", "geometry", "geom"))
    if wkt_col is not None:
        return RawLayer(_wkt_frame(path, frame, wkt_col), used, driver)
    lon_col = _find_column(frame.columns, LON_COLUMNS)
    lat_col = _find_column(frame.columns, LAT_COLUMNS)
    if lon_col is None or lat_col is None:
        return RawLayer(frame, used, driver)  # an attribute table (e.g. targets)
    lon = pd.to_numeric(frame[lon_col], errors="coerce")
    lat = pd.to_numeric(frame[lat_col], errors="coerce")
    problems = [
        Problem(int(i) + 1, col, f"not a number: {frame[col].iloc[i]!r}")
        for col, values in ((lon_col, lon), (lat_col, lat))
        for i in np.flatnonzero(values.isna().to_numpy())[:50]
    ]
    if problems:
        raise ValidationError(f"{path.name}: coordinates missing or not numbers; nothing was written", problems)
    frame = frame.drop(columns=[lon_col, lat_col])
    # A CSV does not say which datum its degrees are in; CGCS2000 (≈ WGS84 to < 1 m) is
    # assumed and the import's --crs overrides it (gcj02 for points copied from Amap).
    log.info("%s: lon/lat columns %r/%r read as CGCS2000 degrees unless --crs says otherwise",
             path.name, lon_col, lat_col)
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs=4490)
    return RawLayer(gdf, used, driver)


def _wkt_frame(path: Path, frame: pd.DataFrame, column: str) -> gpd.GeoDataFrame:
    import shapely

    texts = frame[column].fillna("")
    geoms = []
    problems = []
    for i, text in enumerate(texts):
        try:
            geoms.append(shapely.from_wkt(text) if text else None)
        except shapely.errors.GEOSException:
            geoms.append(None)
            problems.append(Problem(i + 1, column, f"not WKT: {text[:40]!r}"))
    if problems:
        raise ValidationError(f"{path.name}: geometries are not readable WKT; nothing was written", problems)
    return gpd.GeoDataFrame(frame.drop(columns=[column]), geometry=geoms, crs=4490)


#: A population raster larger than this many populated cells is refused (clip it first).
MAX_POPULATION_CELLS = 2_000_000


def read_population_raster(path) -> gpd.GeoDataFrame:
    """A raster of persons per cell (e.g. a WorldPop 100 m GeoTIFF, any CRS) as one square
    polygon per populated cell with its ``population``, in the raster's CRS."""
    import rasterio

    path = Path(path)
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise InputError(f"{path.name} has no CRS; a population raster must say where its cells are")
            if src.width * src.height > 25 * MAX_POPULATION_CELLS:  # refuse before reading it all
                raise InputError(f"{path.name} has {src.width * src.height:,} cells; clip it to the city first "
                                 "(e.g. gdal_translate -projwin W N E S)")
            band = src.read(1, masked=True)
            transform, crs = src.transform, src.crs
    except rasterio.errors.RasterioIOError as ex:
        raise InputError(f"{path.name} is not a readable raster ({_scrub(str(ex), str(path), path)})") from ex
    values = band.filled(0).astype("float64")
    rows, cols = np.nonzero(np.isfinite(values) & (values > 0))
    if len(rows) == 0:
        raise ValidationError(f"{path.name} has no populated cells; nothing to import")
    if len(rows) > MAX_POPULATION_CELLS:
        raise InputError(f"{path.name} has {len(rows):,} populated cells; clip it to the city first "
                         "(e.g. gdal_translate -projwin W N E S)")
    t = transform
    x0, y0 = t.c + cols * t.a + rows * t.b, t.f + cols * t.d + rows * t.e
    x1, y1 = x0 + t.a + t.b, y0 + t.d + t.e
    cells = shapely.box(np.minimum(x0, x1), np.minimum(y0, y1), np.maximum(x0, x1), np.maximum(y0, y1))
    return gpd.GeoDataFrame({"population": values[rows, cols]}, geometry=cells, crs=crs)
