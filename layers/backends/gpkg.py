"""The embedded default store: one GeoPackage file (SQLite) holding every layer, its
metadata (``renewal_layers``) and an audit trail (``renewal_audit``).

Two kinds of write, both under one exclusive lock file (``<store>.lock``) so that every
read-modify-write of the server's processes and the CLI is serialized:

- **Whole layers** (imports, the sample, rasters) copy the store to a temporary file beside
  it, write there and move it over the original with ``os.replace`` (atomic on POSIX): a
  failure at any step leaves the original byte-for-byte as it was.
- **Feature edits** change only the rows concerned inside one SQLite transaction (rollback
  journal): milliseconds on a 200k-feature layer instead of a copy of the store. A killed
  edit is rolled back from the journal by the next connection.

Readers never take the lock: they see the file as the last committed write left it, and
wait (SQLite busy timeout) for the few milliseconds an edit commits.

A process holds three copies of SQLite (Python's, pyogrio's and rasterio's); the gate of
:mod:`layers.backends.gpkg_access` keeps them from dropping each other's locks, and the DEM
is read by rasterio once per version into a GeoTIFF in a temporary folder, so a surface
build does not hold the store open through GDAL for seconds.
"""

from __future__ import annotations

__all__ = ["GeoPackageStore"]

import contextlib
import fcntl
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio

from gis.errors import ConflictError, InputError, NotFoundError
from layers import gpkg_sql as sql
from layers.backends.base import LayerInfo, LayerStore, check_layer_name, check_write_items
from layers.backends.frames import query_frame
from layers.backends.gpkg_access import GATE, change_key, hot_journal
from layers.backends.gpkg_edits import (
    Rows,
    after_edit,
    check_kind,
    check_precondition,
    row_etag,
    stored_boxes,
)
from layers.backends.gpkg_layers import init_empty, record, write_layer
from layers.backends.gpkg_tiles import kept_connection, rtree_page
from layers.cache import FolderCache
from layers.validate import ValidatedLayer

log = logging.getLogger(__name__)

# GDAL reads the GeoPackage through its own SQLite connection: let it wait for an edit's
# commit as our own connections do, instead of failing with "database is locked".
_READ_OPTIONS = {"PRELUDE_STATEMENTS": f"PRAGMA busy_timeout = {int(sql.BUSY_TIMEOUT_S * 1000)}"}
_LAYER_LISTS: dict[str, tuple] = {}
_HOLDING = threading.local()  # whether this thread holds a store's write lock
_RASTERS: FolderCache[str] = FolderCache("renewal-raster-", size=4)  # a GeoTIFF copy per raster version
_BIG_LAYER = 100_000  # features: above this, boxes are answered from the R-tree, not from memory


def _check_name(name: str) -> None:
    check_layer_name(name)


def _nodata(notes: str) -> float | None:
    found = re.search(r"nodata=([-+0-9.eE]+|nan|inf)", notes or "")
    return float(found.group(1)) if found else None


class GeoPackageStore(LayerStore):
    """The embedded default: one GeoPackage file (SQLite) holding every layer."""

    def __init__(self, path):
        self.path = Path(path)
        self.uri = str(self.path.resolve())
        self.location = str(self.path)

    # --- reading -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _sqlite(self, *, readonly: bool = True) -> Iterator[sqlite3.Connection]:
        """A ``sqlite3`` connection to the store, held through the library gate."""
        if not self.path.exists():
            raise NotFoundError("the store is empty; build the sample with `renewal sample` or import a layer")
        for attempt in (1, 2):
            with GATE("sqlite3"), contextlib.closing(sql.connect(self.path, readonly=readonly)) as con:
                try:
                    con.execute("SELECT 1 FROM sqlite_master LIMIT 1")
                except sqlite3.OperationalError as ex:
                    # A hot journal left by a killed edit: a read-only connection cannot roll it back.
                    if attempt == 2 or not hot_journal(ex):
                        raise
                else:
                    yield con
                    return
            self.recover()

    def layers(self) -> list[LayerInfo]:
        """Every layer's metadata; re-read only when the file changed (every request asks)."""
        if not self.path.exists():
            return []
        key = change_key(self.path)
        cached = _LAYER_LISTS.get(self.uri)
        if cached is not None and cached[0] == key:
            return list(cached[1])
        with self._sqlite() as con:
            if not sql.has_table(con, sql.META):
                return []
            columns = sql.table_columns(con, sql.META)
            version = "version" if "version" in columns else "imported_at"
            tile_edits = "tile_edits" if "tile_edits" in columns else "''"
            rows = con.execute(f"SELECT name, kind, geometry_type, feature_count, source, imported_at, "
                               f"original_crs, encoding, synthetic, notes, {version}, {tile_edits} FROM {sql.META} "
                               "ORDER BY name").fetchall()
        infos = [LayerInfo(*r[:8], bool(r[8]), r[9] or "", r[10] or "", r[11] or "") for r in rows]
        if change_key(self.path) == key:  # no commit (or rollback) while we read
            _LAYER_LISTS[self.uri] = (key, infos)
        return list(infos)

    def info(self, name: str) -> LayerInfo:
        if not self.path.exists():
            raise NotFoundError("the store is empty; build the sample with `renewal sample` or import a layer")
        layers = self.layers()
        for i in layers:
            if i.name == name:
                return i
        known = ", ".join(i.name for i in layers) or "none"
        raise NotFoundError(f"no layer {name!r} in the store; stored layers: {known}")

    def bounds(self, name: str):
        """From the layer's R-tree (kept exact by its triggers on every edit), not its rows."""
        self.vector_info(name)
        with self._sqlite() as con:
            geom_col = sql.geometry_column(con, name)[0]
            rtree = f"rtree_{name}_{geom_col}"
            if not sql.has_table(con, rtree):
                return super().bounds(name)
            row = con.execute(f'SELECT min(minx), min(miny), max(maxx), max(maxy) FROM "{rtree}"').fetchone()
        return None if row[0] is None else tuple(float(v) for v in row)

    def read(self, name: str, *, bbox=None, columns=None):
        info = self.info(name)
        if info.geometry_type == "raster":
            raise InputError(f"layer {name!r} is a raster; read it with read_raster")
        if info.geometry_type is None:
            with self._sqlite() as con:
                frame = pd.read_sql_query(f'SELECT * FROM "{name}"', con)
            frame = frame.drop(columns=[c for c in ("fid",) if c in frame.columns])
            return frame[[c for c in frame.columns if c in set(columns)]] if columns is not None else frame
        frame = self._gdal_read(name, bbox, columns)
        frame.index.name = "id"
        return frame.reset_index()

    def query(self, name: str, *, bbox=None, filters=None, ids=None, limit=None, offset=0, cql=None):
        """Small layers: pages cut from the cached whole layer (sub-millisecond once read). A
        box on a big layer reads only its candidates through the GeoPackage's R-tree: holding a
        1M-feature layer in every server process took 2 GB, and re-reading it after each edit 10 s."""
        if bbox is not None and self.info(name).feature_count > _BIG_LAYER:
            frame = self.read(name, bbox=bbox).sort_values("id", ignore_index=True)  # R-tree order → id order
            return query_frame(frame, bbox=bbox, filters=filters, ids=ids, limit=limit, offset=offset, cql=cql)
        return super().query(name, bbox=bbox, filters=filters, ids=ids, limit=limit, offset=offset, cql=cql)

    def _encode_tile(self, name: str, z: int, x: int, y: int) -> bytes:
        """A big layer's tile from its features read through the R-tree with sqlite3
        (``gpkg_tiles``: ~3 ms where GDAL took 18–32 ms); small layers from memory."""
        from layers.mvt import ENCODING, encode_features, tile_bounds_lonlat

        info = self.info(name)
        if info.feature_count > _BIG_LAYER:
            box, key = tile_bounds_lonlat(z, x, y), ((self.uri, name, info.version) if info.version else ())
            with ENCODING:
                try:
                    with kept_connection(self.path) as con:
                        page = rtree_page(con, name, box, key)
                except sqlite3.OperationalError:  # e.g. a hot journal: the store's own path recovers it
                    with self._sqlite() as con:
                        page = rtree_page(con, name, box, key)
                if page is not None:
                    return encode_features(page.geoms, page.ids, page.columns, name, z, x, y)
        return super()._encode_tile(name, z, x, y)

    def _gdal_read(self, name: str, bbox, columns) -> gpd.GeoDataFrame:
        for attempt in (1, 2):
            try:
                with GATE("pyogrio"):
                    return pyogrio.read_dataframe(self.path, layer=name, bbox=bbox, columns=columns,
                                                  fid_as_index=True, **_READ_OPTIONS)
            except pyogrio.errors.DataSourceError as ex:
                if attempt == 2 or not hot_journal(ex):
                    raise
            self.recover()
        raise AssertionError("unreachable")

    def read_raster(self, name: str):
        """The raster, opened from a GeoTIFF copy made once per layer version (see the module
        docstring: rasterio's SQLite must not hold the store open while others use it)."""
        info = self.info(name)
        if info.kind != "dem" and info.geometry_type != "raster":
            raise InputError(f"layer {name!r} is a {info.kind} layer, not a raster")
        return rasterio.open(_RASTERS.get((self.uri, name, info.version),
                                          lambda folder: self._raster_copy(name, folder, _nodata(info.notes))))

    def _raster_copy(self, name: str, folder: str, nodata: float | None) -> str:
        path = os.path.join(folder, f"{name}.tif")
        with GATE("rasterio"), rasterio.open(f"GPKG:{self.path}:{name}") as src:
            # GDAL keeps no nodata for a Float32 GeoPackage raster: the value written is in our metadata.
            profile = {**src.profile, "driver": "GTiff", "tiled": True, "blockxsize": 256, "blockysize": 256,
                       "compress": "deflate", "nodata": nodata if nodata is not None else src.nodata}
            with rasterio.open(path, "w", **profile) as dst:
                dst.write(src.read())
        return path

    def audit_log(self, limit: int = 100) -> list[dict]:
        if not self.path.exists():
            return []
        with self._sqlite() as con:
            if not sql.has_table(con, sql.AUDIT):
                return []
            rows = con.execute(f"SELECT at, who, action, layer, detail FROM {sql.AUDIT} ORDER BY rowid DESC "
                               "LIMIT ?", (int(limit),)).fetchall()
        return [dict(zip(("at", "who", "action", "layer", "detail"), r, strict=True)) for r in rows]

    def feature_etag(self, name: str, fid: int) -> str:
        self.vector_info(name)
        with self._sqlite() as con:
            return row_etag(con, name, fid)

    # --- the lock, recovery --------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The store's exclusive write lock, with what a killed writer left cleaned up."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            _HOLDING.lock = True
            try:
                self._clean_leftovers()
                yield
            finally:
                _HOLDING.lock = False

    def _clean_leftovers(self) -> None:
        # Called with the lock held: no write is under way, so any temporary copy (and its
        # journal) is the leftover of a killed write. The store's own journal is not ours to
        # delete: SQLite rolls a killed edit back from it on the next connection.
        stale = list(self.path.parent.glob(f".{self.path.name}.*.tmp.gpkg*"))
        for leftover in stale:
            leftover.unlink(missing_ok=True)
        if stale:
            log.warning("removed %d leftovers of an interrupted write", len(stale))
        if self.path.exists() and self.path.with_name(self.path.name + "-journal").exists():
            with GATE("sqlite3"), contextlib.closing(sql.connect(self.path)) as con:
                con.execute("SELECT 1 FROM sqlite_master LIMIT 1")  # rolls a hot journal back
            log.warning("rolled back an interrupted edit")

    def recover(self) -> None:
        """Remove a killed write's leftovers and roll back its journal (under the lock)."""
        if not self.path.exists():
            return
        if getattr(_HOLDING, "lock", False):  # this thread holds the lock: it was cleaned on taking it
            raise RuntimeError("recover() called with the store's lock held")
        with self._locked():
            pass

    # --- whole-layer writes (copy-on-write) ----------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Path]:
        """Yield a private copy of the store; replace the store with it only on success."""
        with self._locked():
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp.gpkg")
            os.close(fd)
            tmp_path = Path(tmp)
            try:
                if self.path.exists():
                    with GATE("file"):  # closing the copy's descriptor drops the process's locks
                        shutil.copyfile(self.path, tmp_path)
                else:
                    tmp_path.unlink()
                yield tmp_path
                os.chmod(tmp_path, 0o644)  # mkstemp makes 0600; a store is shared
                os.replace(tmp_path, self.path)
            finally:
                for leftover in (tmp_path, tmp_path.with_name(tmp_path.name + "-journal")):
                    leftover.unlink(missing_ok=True)

    def write_many(self, items, *, who="cli"):
        """Write several layers in one transaction (all or nothing)."""
        check_write_items(items)
        with self._transaction() as tmp:
            existing = {i.name: i for i in self.layers()}  # read under the lock
            for name, _, _ in items:
                if existing.get(name) is not None and existing[name].geometry_type == "raster":
                    raise ConflictError(f"{name!r} is a raster; delete it before writing a layer of that name")
            for name, layer, meta in items:
                write_layer(tmp, name, layer, meta, existing.get(name), who)
        log.info("wrote %s", ", ".join(n for n, _, _ in items))

    def write_raster(self, name: str, array: np.ndarray, *, transform, crs, nodata: float,
                     source: str = "", synthetic: bool = False, who: str = "cli") -> None:
        _check_name(name)
        with self._transaction() as tmp:
            if name in {i.name for i in self.layers()}:
                raise ConflictError(f"raster {name!r} exists; delete it first (GeoPackage tiles cannot be "
                                    "replaced in place)")
            if not tmp.exists():
                init_empty(tmp)
            h, w = array.shape
            with rasterio.open(tmp, "w", driver="GPKG", width=w, height=h, count=1, dtype="float32",
                               crs=crs, transform=transform, nodata=nodata, RASTER_TABLE=name,
                               APPEND_SUBDATASET="YES") as dst:
                dst.write(array.astype("float32"), 1)
            record(tmp, LayerInfo(name, "dem", "raster", int(array.size), source, sql.now(), str(crs), None,
                                   synthetic, f"{w}x{h} cells, nodata={nodata}"), who, f"write raster {w}x{h}",
                    "replace")

    def delete(self, name, *, who="cli"):
        self.info(name)
        with self._transaction() as tmp:
            with contextlib.closing(sqlite3.connect(tmp)) as con:
                sql.drop_layer(con, name)
                con.execute(f"DELETE FROM {sql.META} WHERE name = ?", (name,))
                sql.audit(con, who, "delete_layer", name, {})
                con.commit()

    # --- feature edits (in place, one SQLite transaction) ----------------------------------

    @contextlib.contextmanager
    def _edit(self, name: str, kind: str | None = None) -> Iterator[sqlite3.Connection]:
        with self._locked(), self._sqlite(readonly=False) as con, sql.transaction(con):
            # Checked again under the lock: the layer may have been replaced or deleted since.
            row = con.execute(f"SELECT kind, geometry_type FROM {sql.META} WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFoundError(f"no layer {name!r} in the store")
            if row[1] not in ("polygon", "point", "line") or (kind is not None and row[0] != kind):
                raise InputError(f"{name!r} is now a {row[0]} layer; read it again before editing")
            yield con

    def insert_features(self, name: str, layer: ValidatedLayer, *, who: str) -> list[int]:
        info = self.vector_info(name)
        check_kind(info, layer)
        with self._edit(name, layer.kind) as con:
            rows = Rows(con, name, layer.frame)
            ids = [con.execute(rows.insert_sql, values).lastrowid for values in rows.values()]
            after_edit(con, name, who, "create", ids, layer.frame, np.empty((0, 4)))
        log.info("%s: created features %s", name, ids)
        return ids

    def update_feature(self, name: str, fid: int, layer: ValidatedLayer, *, who: str,
                       if_match: str | None = None) -> str:
        info = self.vector_info(name)
        check_kind(info, layer)
        if len(layer.frame) != 1:
            raise InputError(f"a replacement is exactly one feature, got {len(layer.frame)}")
        with self._edit(name, layer.kind) as con:
            check_precondition(con, name, fid, if_match)
            rows = Rows(con, name, layer.frame)
            before = stored_boxes(con, name, [int(fid)])
            con.execute(rows.update_sql, [*next(iter(rows.values())), int(fid)])
            after_edit(con, name, who, "replace", [int(fid)], layer.frame, before)
            etag = row_etag(con, name, fid)
        log.info("%s: replaced feature %d", name, fid)
        return etag

    def delete_features(self, name: str, fids: list[int], *, who: str, if_match: str | None = None) -> None:
        fids = list(dict.fromkeys(int(f) for f in fids))  # a repeated id is one feature (and one off the count)
        self.vector_info(name)
        with self._edit(name) as con:
            for fid in fids:
                check_precondition(con, name, fid, if_match if len(fids) == 1 else None)
            before = stored_boxes(con, name, fids)
            con.executemany(f'DELETE FROM "{name}" WHERE fid = ?', [(int(f),) for f in fids])
            after_edit(con, name, who, "delete", [int(f) for f in fids], None, before)
        log.info("%s: deleted features %s", name, fids)


