"""PostgreSQL/PostGIS rows for the store: column types of a validated frame, COPY of rows
(geometry as hex EWKB in EPSG:4490), frames built from fetched rows with the dtypes the
GeoPackage backend's reads give (so both backends answer the same), the bookkeeping tables."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from psycopg import sql

META, AUDIT, RASTERS = "renewal_layers", "renewal_audit", "renewal_rasters"
#: Feature revisions: one sequence for the whole store, so an ETag is never reused, even after a
#: layer is replaced and its ids start again.
REVISIONS = "renewal_revision"
GEOM = "geom"
SRID = 4490
#: Kinds whose polygons are stored as MultiPolygons (as the GeoPackage backend promotes them).
MULTI_KINDS = ("parcels", "constraints", "renewal_areas", "districts")

BOOKKEEPING = [
    f"CREATE TABLE IF NOT EXISTS {META} (name text PRIMARY KEY, kind text NOT NULL, geometry_type text, "
    "feature_count bigint, source text, imported_at text, original_crs text, encoding text, synthetic boolean, "
    "notes text, version text, tile_edits text)",
    f"CREATE TABLE IF NOT EXISTS {AUDIT} (id bigserial PRIMARY KEY, at text, who text, action text, layer text, "
    "detail text)",
    f"CREATE TABLE IF NOT EXISTS {RASTERS} (name text PRIMARY KEY, tiff bytea NOT NULL)",
    f"CREATE SEQUENCE IF NOT EXISTS {REVISIONS}",
]


def add_missing_columns(cur) -> None:
    """Metadata columns newer than the database, added. Only when missing: ``ALTER TABLE … ADD
    COLUMN IF NOT EXISTS`` takes the table's exclusive lock even when the column is there, and
    held to the write's commit it kept every request from reading the catalog meanwhile (a
    reader waited out a 2 s write); it also needs the table's owner."""
    cur.execute(f"SELECT 1 FROM pg_attribute WHERE attrelid = '{META}'::regclass AND attname = 'tile_edits' "
                "AND NOT attisdropped")
    if cur.fetchone() is None:  # a database written before tile versions (layers.tile_edits)
        cur.execute(f"ALTER TABLE {META} ADD COLUMN IF NOT EXISTS tile_edits text")


def ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)


def column_type(series: pd.Series) -> str:
    """The SQL type a column of a validated frame is stored as."""
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "bigint"
    if pd.api.types.is_float_dtype(series):
        return "double precision"
    return "text"


def value_kind(pg_type: str) -> str:
    """How a filter value on a column of this type is read (layers.backends.frames.filter_value)."""
    if pg_type == "bool":
        return "bool"
    if pg_type in ("int2", "int4", "int8", "float4", "float8", "numeric"):
        return "number"
    return "text"


def as_multi(geoms: np.ndarray) -> np.ndarray:
    """Single polygons (lines, points) as one-part multi-geometries; others as they are."""
    out = np.array(geoms, dtype=object)
    kinds = shapely.get_type_id(out)
    for single, make in ((3, shapely.MultiPolygon), (1, shapely.MultiLineString), (0, shapely.MultiPoint)):
        for i in np.flatnonzero(kinds == single):
            out[i] = make([out[i]])
    return out


def hex_ewkb(geoms: np.ndarray) -> np.ndarray:
    return shapely.to_wkb(shapely.set_srid(np.asarray(geoms, dtype=object), SRID), hex=True, include_srid=True)


def plain(value):
    """A cell as COPY/psycopg takes it: None for missing, Python scalars for numpy ones."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def copy_rows(cur, table: str, columns: list[str], rows) -> None:
    """COPY rows (tuples in ``columns`` order) into ``table``: the fast way in."""
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(ident(table), sql.SQL(", ").join(map(ident, columns)))
    with cur.copy(stmt) as copy:
        for row in rows:
            copy.write_row(row)


def frame_rows(frame: pd.DataFrame, columns: list[str], geometry=None):
    """Rows of ``frame[columns]`` (and the geometry as hex EWKB, last) for COPY or INSERT."""
    values = frame[columns].astype(object).to_numpy() if columns else np.empty((len(frame), 0), dtype=object)
    geoms = hex_ewkb(geometry) if geometry is not None else None
    for i, record in enumerate(values):
        row = [plain(v) for v in record]
        if geoms is not None:
            row.append(geoms[i])
        yield tuple(row)


def to_frame(rows: list[tuple], names: list[str], types: list[str], *, geometry: bool) -> pd.DataFrame:
    """Fetched rows as a frame with the dtypes a GeoPackage read gives: integers as int64
    (float64 when some are missing), text as str, the geometry (last column, WKB) decoded."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    data = {}
    for name, kind, values in zip(names[: len(names) - geometry], types, columns, strict=False):
        data[name] = _series(values, kind)
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(rows)))
    if not geometry:
        return frame
    wkb = np.array(columns[-1] if rows else [], dtype=object)
    return gpd.GeoDataFrame(frame, geometry=shapely.from_wkb(wkb), crs=SRID)


def _series(values: tuple, kind: str) -> pd.Series:
    if kind in ("int2", "int4", "int8"):
        if any(v is None for v in values):
            return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
        return pd.Series(values, dtype="int64")
    if kind in ("float4", "float8", "numeric"):
        return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
    if kind == "bool":
        return pd.Series(values, dtype="bool" if not any(v is None for v in values) else "object")
    if values and all(v is None for v in values):
        return pd.Series(values, dtype=object)  # as GDAL reads a column with no value at all
    return pd.Series(values, dtype="str")


def audit(cur, who: str, action: str, layer: str, detail: dict, at: str) -> None:
    cur.execute(f"INSERT INTO {AUDIT} (at, who, action, layer, detail) VALUES (%s, %s, %s, %s, %s)",
                (at, who, action, layer, json.dumps(detail, ensure_ascii=False)))
