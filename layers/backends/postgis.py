"""The office store: PostgreSQL with PostGIS (``postgresql://user:pass@host:port/db``).

One table per layer (``fid`` bigserial key; vector layers a ``geom`` column in EPSG:4490
with a GiST index, so desktop GIS reads them as they are), the metadata (``renewal_layers``),
the audit (``renewal_audit``) and rasters (``renewal_rasters``) as tables beside them.

Every write is one transaction that first takes the store's advisory lock, so whole-layer
writes, edits and the CLI serialize exactly as the GeoPackage's lock file makes them; a
failed write rolls back and leaves the database as it was. Each feature carries a revision
(``_rev``, from one store-wide sequence) that every change replaces: its ETag. Layer
versions live in ``renewal_layers`` and are read per request, so every server process sees
another's edit at once.

Rasters (the DEM) are stored as a tiled, compressed GeoTIFF in a ``bytea`` row rather than
as PostGIS raster: the file is what rasterio, the tiler and the suitability build read
window by window, a bytea row is written and replaced in the same transaction as its
metadata, and it needs neither raster2pgsql nor GDAL's PostGISRaster driver on the
clients. Readers copy it to a local file once per version (as the GeoPackage backend does).
"""

from __future__ import annotations

__all__ = ["PostGISStore"]

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import rasterio
import shapely
from psycopg import sql
from psycopg_pool import ConnectionPool

from gis.errors import ConflictError, InputError, NotFoundError, PreconditionError
from layers.backends import postgis_sql as q
from layers.backends.base import LayerInfo, LayerStore, check_layer_name, check_write_items
from layers.backends.frames import filter_value, unknown_property
from layers.backends.postgis_cql import cql2_where
from layers.backends.postgis_layers import (
    after_edit,
    feature_rows,
    now,
    record,
    stored_boxes,
    stored_columns,
    write_layer,
)
from layers.backends.postgis_pool import pool_for
from layers.cache import FolderCache, VersionedCache
from layers.cql2 import check_cql2
from layers.validate import ValidatedLayer

log = logging.getLogger(__name__)

_RASTERS: FolderCache[str] = FolderCache("renewal-pgraster-", size=4)
#: A layer's property columns for its tiles, per store, layer and version: one catalog round trip less a tile.
_TILE_COLUMNS: VersionedCache[list[str]] = VersionedCache(64)
_LOCK_KEY = 7_310_202_611  # the store's advisory lock (any constant shared by every client)


def _check_name(name: str) -> None:
    check_layer_name(name)


def redact(url: str) -> str:
    """The URL without its password (for logs and cache keys)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class PostGISStore(LayerStore):
    """Layers in a PostgreSQL/PostGIS database."""

    def __init__(self, url: str):
        self.location = url
        self.uri = redact(url)

    # --- connections -----------------------------------------------------------------------

    def _pool(self) -> ConnectionPool:
        return pool_for(self.location, self.uri)

    @contextlib.contextmanager
    def _read(self) -> Iterator:
        with self._pool().connection() as con, con.cursor() as cur:
            yield cur

    @contextlib.contextmanager
    def _write(self) -> Iterator:
        """One transaction under the store's advisory lock; rolled back on any error."""
        with self._pool().connection() as con, con.transaction(), con.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            for stmt in q.BOOKKEEPING:
                cur.execute(stmt)
            q.add_missing_columns(cur)
            yield cur

    # --- reading -----------------------------------------------------------------------------

    def layers(self) -> list[LayerInfo]:
        return self._one_catalog_read(self._read_layers)

    def _read_layers(self) -> list[LayerInfo]:
        with self._read() as cur:
            try:
                # tile_edits as JSON: a database written before tile versions has no such column yet.
                cur.execute(f"SELECT name, kind, geometry_type, feature_count, source, imported_at, original_crs, "
                            f"encoding, synthetic, notes, version, to_jsonb(m) ->> 'tile_edits' FROM {q.META} m "
                            "ORDER BY name")
            except psycopg.errors.UndefinedTable:  # a database no layer was written to yet
                return []
            rows = cur.fetchall()
        return [LayerInfo(*r[:8], bool(r[8]), r[9] or "", r[10] or "", r[11] or "") for r in rows]

    def info(self, name: str) -> LayerInfo:
        layers = self.layers()
        for i in layers:
            if i.name == name:
                return i
        if not layers:
            raise NotFoundError("the store is empty; build the sample with `renewal sample` or import a layer")
        raise NotFoundError(f"no layer {name!r} in the store; stored layers: {', '.join(i.name for i in layers)}")

    def bounds(self, name: str):
        self.vector_info(name)
        with self._read() as cur:
            cur.execute(sql.SQL("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                                "(SELECT ST_Extent({}) AS e FROM {}) AS x").format(sql.Identifier(q.GEOM),
                                                                                sql.Identifier(name)))
            row = cur.fetchone()
        return None if row is None or row[0] is None else tuple(float(v) for v in row)

    def read(self, name: str, *, bbox=None, columns=None):
        info = self.info(name)
        if info.geometry_type == "raster":
            raise InputError(f"layer {name!r} is a raster; read it with read_raster")
        with self._read() as cur:
            stored = stored_columns(cur, name)
            if columns is not None:
                stored = [(n, t) for n, t in stored if n in set(columns)]
            where, params = [], []
            if info.is_vector and bbox is not None:
                # Features that meet the box, as GDAL's spatial filter reads a GeoPackage (not their boxes).
                where.append(sql.SQL("ST_Intersects({}, ST_MakeEnvelope(%s, %s, %s, %s, 4490))").format(
                    sql.Identifier(q.GEOM)))
                params += [float(v) for v in bbox]
            return self._select(cur, name, stored, where, params, vector=info.is_vector)

    def _select(self, cur, name: str, stored, where: list, params: list, *, vector: bool, limit=None, offset=0):
        """Rows of ``name`` matching ``where`` in id order, as a frame like a GeoPackage read."""
        names = [n for n, _ in stored]
        fields = [sql.Identifier(n) for n in names]
        if vector:
            fields = [sql.SQL("fid"), *fields, sql.SQL("ST_AsBinary({})").format(sql.Identifier(q.GEOM))]
        clause = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL("")
        page = sql.SQL(" LIMIT %s OFFSET %s") if limit is not None else sql.SQL("")
        cur.execute(sql.SQL("SELECT {} FROM {}{} ORDER BY fid{}").format(
            sql.SQL(", ").join(fields), sql.Identifier(name), clause, page),
            [*params, *([int(limit), int(offset)] if limit is not None else [])])
        rows = cur.fetchall()
        types = [t for _, t in stored]
        if vector:
            return q.to_frame(rows, ["id", *names, "geometry"], ["int8", *types], geometry=True)
        return q.to_frame(rows, names, types, geometry=False)

    def query(self, name: str, *, bbox=None, filters=None, ids=None, limit=None, offset=0, cql=None):
        """The query pushed down to SQL (GiST for the box), with the in-memory backend's rules."""
        info = self.vector_info(name)
        with self._read() as cur:
            stored = stored_columns(cur, name)
            kinds = {"id": "number", **{n: q.value_kind(t) for n, t in stored}}
            where, params = [], []
            if cql is not None:
                check_cql2(cql, kinds)
                clause, values = cql2_where(cql, q.GEOM)
                where.append(clause)
                params += values
            if bbox is not None:
                where.append(sql.SQL("ST_Intersects({}, ST_MakeEnvelope(%s, %s, %s, %s, 4490))").format(
                    sql.Identifier(q.GEOM)))
                params += [float(v) for v in bbox]
            if ids is not None:
                where.append(sql.SQL("fid = ANY(%s)"))
                params.append([int(i) for i in ids if 0 <= int(i) < 2**63])
            for key, value in (filters or {}).items():
                if key not in kinds:
                    raise unknown_property(key, kinds)
                where.append(sql.SQL("{} = %s").format(sql.Identifier("fid" if key == "id" else key)))
                params.append(filter_value(key, value, kinds[key]))
            clause = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL("")
            cur.execute(sql.SQL("SELECT COUNT(*) FROM {}{}").format(sql.Identifier(name), clause), params)
            matched = int(cur.fetchone()[0])
            page = self._select(cur, name, stored, where, params, vector=info.is_vector,
                                limit=limit if limit is not None else matched, offset=offset)
        return page, matched

    def _encode_tile(self, name: str, z: int, x: int, y: int) -> bytes:
        """ST_AsMVT in the database: the GiST index finds the tile's features, PostGIS clips,
        quantizes and encodes them; the same ids and properties as the GeoPackage's tiles."""
        from layers.mvt import BUFFER, EXTENT

        key = (self.uri, name, self.info(name).version)  # a new version for any change of columns
        with self._read() as cur:
            names = _TILE_COLUMNS.get(key, lambda: [n for n, _ in stored_columns(cur, name)])
            props = [sql.Identifier(n) for n in names]
            geom = sql.Identifier(q.GEOM)
            stmt = sql.SQL(
                "WITH env AS (SELECT ST_TileEnvelope(%s, %s, %s) AS box), "
                "mvt AS (SELECT ST_AsMVTGeom(ST_Transform(t.{geom}, 3857), env.box, %s, %s, true) AS mvtgeom, "
                "t.fid{props} FROM {table} t, env "
                "WHERE t.{geom} && ST_Transform(ST_TileEnvelope(%s, %s, %s, margin => %s), 4490)) "
                "SELECT ST_AsMVT(mvt.*, %s, %s, 'mvtgeom', 'fid') FROM mvt WHERE mvtgeom IS NOT NULL").format(
                geom=geom, props=sql.SQL("").join(sql.SQL(", t.") + p for p in props), table=sql.Identifier(name))
            cur.execute(stmt, (z, x, y, EXTENT, BUFFER, z, x, y, BUFFER / EXTENT, name, EXTENT))
            row = cur.fetchone()
        return bytes(row[0]) if row and row[0] else b""

    def read_raster(self, name: str):
        info = self.info(name)
        if info.geometry_type != "raster":
            raise InputError(f"layer {name!r} is a {info.kind} layer, not a raster")
        return rasterio.open(_RASTERS.get((self.uri, name, info.version), lambda folder: self._raster_copy(name, folder)))

    def _raster_copy(self, name: str, folder: str) -> str:
        with self._read() as cur:
            cur.execute(f"SELECT tiff FROM {q.RASTERS} WHERE name = %s", (name,))
            row = cur.fetchone()
        if row is None:
            raise NotFoundError(f"raster {name!r} has no data in the store")
        path = os.path.join(folder, f"{name}.tif")
        with open(path, "wb") as f:
            f.write(row[0])
        return path

    def audit_log(self, limit: int = 100) -> list[dict]:
        with self._read() as cur:
            cur.execute("SELECT to_regclass(%s)", (q.AUDIT,))
            if cur.fetchone()[0] is None:
                return []
            cur.execute(f"SELECT at, who, action, layer, detail FROM {q.AUDIT} ORDER BY id DESC LIMIT %s", (int(limit),))
            rows = cur.fetchall()
        return [dict(zip(("at", "who", "action", "layer", "detail"), r, strict=True)) for r in rows]

    def feature_etag(self, name: str, fid: int) -> str:
        self.vector_info(name)
        with self._read() as cur:
            return self._etag(cur, name, fid)

    def _etag(self, cur, name: str, fid: int, *, lock: bool = False) -> str:
        if not 0 <= int(fid) < 2**63:
            raise NotFoundError(f"no feature {fid} in {name!r}")
        cur.execute(sql.SQL("SELECT _rev FROM {} WHERE fid = %s" + (" FOR UPDATE" if lock else "")).format(
            sql.Identifier(name)), (int(fid),))
        row = cur.fetchone()
        if row is None:
            raise NotFoundError(f"no feature {fid} in {name!r}")
        # The revision alone would be a guessable counter; the hash ties it to this store and layer.
        return hashlib.blake2b(f"{self.uri}|{name}|{fid}|{row[0]}".encode(), digest_size=10).hexdigest()

    def recover(self) -> None:
        """Nothing to do: a killed write was rolled back by the server."""

    # --- whole-layer writes -------------------------------------------------------------------

    def write_many(self, items, *, who="cli"):
        """Write several layers in one transaction (all or nothing)."""
        check_write_items(items)
        with self._write() as cur:
            cur.execute(f"SELECT name, kind, geometry_type FROM {q.META}")
            existing = {r[0]: r for r in cur.fetchall()}
            for name, layer, meta in items:
                write_layer(cur, name, layer, meta, existing.get(name), who)
        log.info("wrote %s", ", ".join(n for n, _, _ in items))

    def write_raster(self, name: str, array: np.ndarray, *, transform, crs, nodata: float,
                     source: str = "", synthetic: bool = False, who: str = "cli") -> None:
        _check_name(name)
        h, w = array.shape
        with tempfile.TemporaryDirectory(prefix="renewal-raster-") as folder:
            path = os.path.join(folder, f"{name}.tif")
            with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="float32", crs=crs,
                               transform=transform, nodata=nodata, tiled=True, blockxsize=256, blockysize=256,
                               compress="deflate") as dst:
                dst.write(array.astype("float32"), 1)
            with open(path, "rb") as f:
                tiff = f.read()
        with self._write() as cur:
            cur.execute(f"SELECT 1 FROM {q.META} WHERE name = %s", (name,))
            if cur.fetchone():
                raise ConflictError(f"raster {name!r} exists; delete it first")
            cur.execute(f"INSERT INTO {q.RASTERS} (name, tiff) VALUES (%s, %s)", (name, tiff))
            record(cur, LayerInfo(name, "dem", "raster", int(array.size), source, now(), str(crs), None,
                                        synthetic, f"{w}x{h} cells, nodata={nodata}"), who, f"write raster {w}x{h}",
                         "replace")

    def delete(self, name, *, who="cli"):
        info = self.info(name)
        with self._write() as cur:
            if info.geometry_type == "raster":
                cur.execute(f"DELETE FROM {q.RASTERS} WHERE name = %s", (name,))
            else:
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
            cur.execute(f"DELETE FROM {q.META} WHERE name = %s", (name,))
            q.audit(cur, who, "delete_layer", name, {}, now())

    # --- feature edits -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _edit(self, name: str, layer: ValidatedLayer | None) -> Iterator:
        info = self.vector_info(name)
        if layer is not None and layer.kind != info.kind:
            raise InputError(f"{name!r} holds {info.kind} features; these were validated as {layer.kind}")
        with self._write() as cur:
            # Checked again under the lock: the layer may have been replaced or deleted since.
            cur.execute(f"SELECT kind, geometry_type FROM {q.META} WHERE name = %s", (name,))
            row = cur.fetchone()
            if row is None:
                raise NotFoundError(f"no layer {name!r} in the store")
            if row[1] not in ("polygon", "point", "line") or (layer is not None and row[0] != layer.kind):
                raise InputError(f"{name!r} is now a {row[0]} layer; read it again before editing")
            yield cur, info

    def insert_features(self, name: str, layer: ValidatedLayer, *, who: str) -> list[int]:
        with self._edit(name, layer) as (cur, _):
            columns, rows = feature_rows(cur, name, layer)
            stmt = sql.SQL("INSERT INTO {} ({}) VALUES ({}, ST_GeomFromEWKB(decode(%s, 'hex'))) RETURNING fid").format(
                sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, [*columns, q.GEOM])),
                sql.SQL(", ").join(sql.Placeholder() * len(columns)) if columns else sql.SQL(""))
            if not columns:
                stmt = sql.SQL("INSERT INTO {} ({}) VALUES (ST_GeomFromEWKB(decode(%s, 'hex'))) RETURNING fid").format(
                    sql.Identifier(name), sql.Identifier(q.GEOM))
            ids = []
            for row in rows:
                cur.execute(stmt, row)
                ids.append(int(cur.fetchone()[0]))
            after_edit(cur, name, who, "create", ids, shapely.bounds(layer.frame.geometry.values))
        log.info("%s: created features %s", name, ids)
        return ids

    def _check(self, cur, name: str, fid: int, if_match: str | None) -> None:
        etag = self._etag(cur, name, fid, lock=True)
        if if_match is not None and if_match.strip() not in ("*", etag, f'"{etag}"', f'W/"{etag}"'):
            raise PreconditionError(f"feature {fid} of {name!r} changed since you read it (ETag now \"{etag}\"); "
                                    "read it again and re-apply your change")

    def update_feature(self, name: str, fid: int, layer: ValidatedLayer, *, who: str,
                       if_match: str | None = None) -> str:
        if len(layer.frame) != 1:
            raise InputError(f"a replacement is exactly one feature, got {len(layer.frame)}")
        with self._edit(name, layer) as (cur, _):
            self._check(cur, name, fid, if_match)
            columns, rows = feature_rows(cur, name, layer)
            sets = [sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns]
            sets.append(sql.SQL("{} = ST_GeomFromEWKB(decode(%s, 'hex'))").format(sql.Identifier(q.GEOM)))
            sets.append(sql.SQL("_rev = nextval('{}')").format(sql.SQL(q.REVISIONS)))
            boxes = np.vstack([stored_boxes(cur, name, [fid]), shapely.bounds(layer.frame.geometry.values)])
            cur.execute(sql.SQL("UPDATE {} SET {} WHERE fid = %s").format(sql.Identifier(name), sql.SQL(", ").join(sets)),
                        (*rows[0], int(fid)))
            after_edit(cur, name, who, "replace", [int(fid)], boxes)
            etag = self._etag(cur, name, fid)
        log.info("%s: replaced feature %d", name, fid)
        return etag

    def delete_features(self, name: str, fids: list[int], *, who: str, if_match: str | None = None) -> None:
        fids = list(dict.fromkeys(int(f) for f in fids))  # a repeated id is one feature (and one off the count)
        with self._edit(name, None) as (cur, _):
            for fid in fids:
                self._check(cur, name, fid, if_match if len(fids) == 1 else None)
            boxes = stored_boxes(cur, name, fids)
            cur.execute(sql.SQL("DELETE FROM {} WHERE fid = ANY(%s)").format(sql.Identifier(name)),
                        ([int(f) for f in fids],))
            after_edit(cur, name, who, "delete", [int(f) for f in fids], boxes)
        log.info("%s: deleted features %s", name, fids)
