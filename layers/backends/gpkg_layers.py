"""Whole-layer writes into a GeoPackage copy (the copy-on-write half of the store): layers
through GDAL, tables through SQLite, the metadata row and the audit."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from gis.errors import InputError
from layers import gpkg_sql as sql
from layers.backends.base import LayerInfo
from layers.schemas import schema_for
from layers.validate import ValidatedLayer


def write_layer(tmp: Path, name: str, layer: ValidatedLayer, meta: dict, existing: LayerInfo | None,
                 who: str) -> None:
    mode = meta.get("mode", "replace")
    if mode == "append" and existing is not None and existing.kind != layer.kind:
        raise InputError(f"cannot append {layer.kind} features to {name!r}, a {existing.kind} layer")
    append = mode == "append" and existing is not None
    frame = layer.frame
    if schema_for(layer.kind).geometry is None:
        _write_table(tmp, name, frame, append)
        geometry_type = None
    else:
        if "id" in frame.columns:
            # Whole-layer writes that keep ids hand GDAL a 'fid' column; imports get fresh ones.
            frame = frame.rename(columns={"id": "fid"}) if meta.get("keep_ids") and not append \
                else frame.drop(columns="id")
        if append:
            _align_for_append(tmp, name, frame)
        pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG", append=append,
                                promote_to_multi=layer.kind in ("parcels", "constraints", "renewal_areas", "districts"),
                                layer_options={"SPATIAL_INDEX": "YES"},
                                dataset_options={"VERSION": sql.GPKG_VERSION})
        geometry_type = schema_for(layer.kind).geometry
    notes = meta.get("notes") or "; ".join(str(p) for p in (layer.repaired + layer.notices)[:50])
    record(tmp, LayerInfo(
        name=name, kind=layer.kind, geometry_type=geometry_type, feature_count=_count(tmp, name),
        source=meta.get("source", ""), imported_at=sql.now(), original_crs=layer.source_crs,
        encoding=meta.get("encoding"), synthetic=bool(meta.get("synthetic")), notes=notes,
    ), who, f"{mode} {len(frame)} features", mode)


def init_empty(path: Path) -> None:
    # An empty GeoPackage: a throw-away layer makes GDAL create the gpkg_* tables.
    gdf = gpd.GeoDataFrame({"x": [0]}, geometry=[shapely.Point(0, 0)], crs=4490)
    pyogrio.write_dataframe(gdf, path, layer="renewal_init", driver="GPKG",
                            dataset_options={"VERSION": sql.GPKG_VERSION})
    with contextlib.closing(sqlite3.connect(path)) as con:
        sql.drop_layer(con, "renewal_init")
        con.commit()


def _write_table(path: Path, name: str, frame: pd.DataFrame, append: bool) -> None:
    if not path.exists():
        init_empty(path)
    with contextlib.closing(sqlite3.connect(path)) as con:
        if not append:
            sql.drop_layer(con, name)
        frame.to_sql(name, con, if_exists="append" if append else "replace", index=False)
        # Register it as a GeoPackage attributes table so GDAL clients see it too.
        con.execute("DELETE FROM gpkg_contents WHERE table_name = ?", (name,))
        con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, last_change) "
                    "VALUES (?, 'attributes', ?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))", (name, name))
        con.commit()


def _align_for_append(path: Path, name: str, frame: gpd.GeoDataFrame) -> None:
    existing = pyogrio.read_info(path, layer=name)["fields"].tolist()
    extra = [c for c in frame.columns if c not in existing and c != frame.geometry.name]
    if extra:
        raise InputError(f"cannot append: columns {extra} are not in the stored layer {name!r}; "
                         "import with --mode replace or drop those columns")


def _count(path: Path, name: str) -> int:
    with contextlib.closing(sqlite3.connect(path)) as con:
        return int(con.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0])


def record(path: Path, info: LayerInfo, who: str, detail: str, action: str) -> None:
    with contextlib.closing(sqlite3.connect(path)) as con:
        sql.ensure_meta(con)
        con.execute(f"INSERT OR REPLACE INTO {sql.META} (name, kind, geometry_type, feature_count, source, "
                    "imported_at, original_crs, encoding, synthetic, notes, version) VALUES (?,?,?,?,?,?,?,?,?,?,?)", (
                        info.name, info.kind, info.geometry_type, info.feature_count, info.source,
                        info.imported_at, info.original_crs, info.encoding, int(info.synthetic), info.notes,
                        sql.new_version()))
        sql.audit(con, who, action, info.name, {"detail": detail, "source": info.source})
        con.commit()
