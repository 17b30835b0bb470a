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

One process holds three copies of SQLite: Python's ``sqlite3`` and the ones inside
pyogrio's and rasterio's GDAL. SQLite locks with POSIX advisory locks, which belong to the
process and are all dropped when *any* descriptor of the file is closed; SQLite tracks that
only within one copy. So while a thread edits through ``sqlite3``, a GDAL read finishing in
another thread would drop the edit's locks (measured: readers in other processes then saw a
half-written file, "not recognized as a supported file format"). :class:`_LibraryGate` lets
only one library at a time hold the store open in a process; the DEM is read by rasterio
once per version into a GeoTIFF beside nothing (a temporary folder), so a surface build does
not hold the store open through GDAL for seconds.
"""

from __future__ import annotations

__all__ = ["GeoPackageStore"]

import atexit
import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import shapely

from gis.errors import ConflictError, InputError, NotFoundError, PreconditionError
from layers import gpkg_sql as sql
from layers.backends.base import LayerInfo, LayerStore
from layers.cache import VersionedCache
from layers.schemas import schema_for
from layers.validate import ValidatedLayer

log = logging.getLogger(__name__)

_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789_")
_MULTI = {"POLYGON": "MULTIPOLYGON", "LINESTRING": "MULTILINESTRING", "POINT": "MULTIPOINT"}
# GDAL reads the GeoPackage through its own SQLite connection: let it wait for an edit's
# commit as our own connections do, instead of failing with "database is locked".
_READ_OPTIONS = {"PRELUDE_STATEMENTS": f"PRAGMA busy_timeout = {int(sql.BUSY_TIMEOUT_S * 1000)}"}


class _LibraryGate:
    """Admits any number of holders of one library at a time (``"sqlite3"``, ``"pyogrio"``,
    ``"rasterio"``), so two copies of SQLite never have the store open together in this
    process. Re-entrant for the same library; a holder must not ask for another one."""

    def __init__(self):
        self.cond = threading.Condition()
        self.holder: str | None = None
        self.count = 0

    @contextlib.contextmanager
    def __call__(self, library: str) -> Iterator[None]:
        with self.cond:
            while self.holder not in (None, library):
                self.cond.wait()
            self.holder = library
            self.count += 1
        try:
            yield
        finally:
            with self.cond:
                self.count -= 1
                if self.count == 0:
                    self.holder = None
                    self.cond.notify_all()


_GATE = _LibraryGate()
_LAYER_LISTS: dict[str, tuple] = {}
_HEADERS: dict[str, tuple[int, int]] = {}
_HEADERS_LOCK = threading.Lock()


def _change_key(path: Path) -> tuple[int, int, bytes]:
    """(inode, modification time, SQLite's file change counter): a new value after every
    commit in place (the counter, header bytes 24–27, rollback-journal mode; the time) and
    every copy-on-write (the inode; copies carry the counter on, so it never repeats).

    The header is read through one descriptor per file kept open for the process's life:
    closing a descriptor would drop the POSIX locks of every SQLite connection to the file in
    this process. A descriptor of a replaced file is closed, its inode no longer the store."""
    st = os.stat(path)
    ino = st.st_ino
    with _HEADERS_LOCK:
        known = _HEADERS.get(str(path))
        if known is None or known[0] != ino:
            fd = os.open(path, os.O_RDONLY)
            if os.fstat(fd).st_ino != ino:  # replaced between the stat and the open
                ino = os.fstat(fd).st_ino
            if known is not None:
                os.close(known[1])
            known = _HEADERS[str(path)] = (ino, fd)
    return known[0], st.st_mtime_ns, os.pread(known[1], 4, 24)
_RASTERS: VersionedCache[str] = VersionedCache(4)


def _check_name(name: str) -> None:
    if not name or not set(name) <= _NAME_OK or name[0].isdigit() or name in (sql.META, sql.AUDIT) \
            or name.startswith(("gpkg", "rtree_", "sqlite")):
        raise InputError(
            f"layer name {name!r} is not allowed; use lower-case letters, digits and '_', "
            "starting with a letter (e.g. renewal_areas, parcels_2024)"
        )


class GeoPackageStore(LayerStore):
    """The embedded default: one GeoPackage file (SQLite) holding every layer."""

    def __init__(self, path):
        self.path = Path(path)
        self.uri = str(self.path.resolve())

    # --- reading -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _sqlite(self, *, readonly: bool = True) -> Iterator[sqlite3.Connection]:
        """A ``sqlite3`` connection to the store, held through the library gate."""
        if not self.path.exists():
            raise NotFoundError("the store is empty; build the sample with `renewal sample` or import a layer")
        for attempt in (1, 2):
            with _GATE("sqlite3"), contextlib.closing(sql.connect(self.path, readonly=readonly)) as con:
                try:
                    con.execute("SELECT 1 FROM sqlite_master LIMIT 1")
                except sqlite3.OperationalError as ex:
                    # A hot journal left by a killed edit: a read-only connection cannot roll it back.
                    if attempt == 2 or not _hot_journal(ex):
                        raise
                else:
                    yield con
                    return
            self.recover()

    def layers(self) -> list[LayerInfo]:
        """Every layer's metadata; re-read only when the file changed (every request asks)."""
        if not self.path.exists():
            return []
        key = _change_key(self.path)
        cached = _LAYER_LISTS.get(self.uri)
        if cached is not None and cached[0] == key:
            return list(cached[1])
        with self._sqlite() as con:
            if not sql.has_table(con, sql.META):
                return []
            version = "version" if "version" in sql.table_columns(con, sql.META) else "imported_at"
            rows = con.execute(f"SELECT name, kind, geometry_type, feature_count, source, imported_at, "
                               f"original_crs, encoding, synthetic, notes, {version} FROM {sql.META} "
                               "ORDER BY name").fetchall()
        infos = [LayerInfo(*r[:8], bool(r[8]), r[9] or "", r[10] or "") for r in rows]
        if _change_key(self.path) == key:  # no commit (or rollback) while we read
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

    def read(self, name: str, *, bbox=None, columns=None):
        info = self.info(name)
        if info.geometry_type is None and info.kind != "dem":
            with self._sqlite() as con:
                frame = pd.read_sql_query(f'SELECT * FROM "{name}"', con)
            return frame.drop(columns=[c for c in ("fid",) if c in frame.columns])
        frame = self._gdal_read(name, bbox, columns)
        frame.index.name = "id"
        return frame.reset_index()

    def _gdal_read(self, name: str, bbox, columns) -> gpd.GeoDataFrame:
        for attempt in (1, 2):
            try:
                with _GATE("pyogrio"):
                    return pyogrio.read_dataframe(self.path, layer=name, bbox=bbox, columns=columns,
                                                  fid_as_index=True, **_READ_OPTIONS)
            except pyogrio.errors.DataSourceError as ex:
                if attempt == 2 or not _hot_journal(ex):
                    raise
            self.recover()
        raise AssertionError("unreachable")

    def read_raster(self, name: str):
        """The raster, opened from a GeoTIFF copy made once per layer version (see the module
        docstring: rasterio's SQLite must not hold the store open while others use it)."""
        info = self.info(name)
        if info.kind != "dem" and info.geometry_type != "raster":
            raise InputError(f"layer {name!r} is a {info.kind} layer, not a raster")
        return rasterio.open(_RASTERS.get((self.uri, name, info.version), lambda: self._raster_copy(name)))

    def _raster_copy(self, name: str) -> str:
        folder = tempfile.mkdtemp(prefix="renewal-raster-")
        atexit.register(shutil.rmtree, folder, True)  # a copy per DEM version, kept while the process runs
        path = os.path.join(folder, f"{name}.tif")
        with _GATE("rasterio"), rasterio.open(f"GPKG:{self.path}:{name}") as src:
            profile = {**src.profile, "driver": "GTiff", "tiled": True, "blockxsize": 256, "blockysize": 256,
                       "compress": "deflate"}
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
        self._vector_info(name)
        with self._sqlite() as con:
            return _row_etag(con, name, fid)

    # --- the lock, recovery --------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The store's exclusive write lock, with what a killed writer left cleaned up."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._clean_leftovers()
            yield

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
            with _GATE("sqlite3"), contextlib.closing(sql.connect(self.path)) as con:
                con.execute("SELECT 1 FROM sqlite_master LIMIT 1")  # rolls a hot journal back
            log.warning("rolled back an interrupted edit")

    def recover(self) -> None:
        """Remove a killed write's leftovers and roll back its journal (under the lock)."""
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
                    with _GATE("file"):  # closing the copy's descriptor drops the process's locks
                        shutil.copyfile(self.path, tmp_path)
                else:
                    tmp_path.unlink()
                yield tmp_path
                os.chmod(tmp_path, 0o644)  # mkstemp makes 0600; a store is shared
                os.replace(tmp_path, self.path)
            finally:
                for leftover in (tmp_path, tmp_path.with_name(tmp_path.name + "-journal")):
                    leftover.unlink(missing_ok=True)

    def write(self, name, layer, *, mode="replace", source="", encoding=None, synthetic=False, who="cli"):
        meta = {"mode": mode, "source": source, "encoding": encoding, "synthetic": synthetic}
        self.write_many([(name, layer, meta)], who=who)
        return self.info(name)

    def write_many(self, items, *, who="cli"):
        """Write several layers in one transaction (all or nothing)."""
        for name, _, meta in items:
            _check_name(name)
            if meta.get("mode", "replace") not in ("replace", "append"):
                raise InputError(f"mode must be 'replace' or 'append', got {meta.get('mode')!r}")
        with self._transaction() as tmp:
            existing = {i.name: i for i in self.layers()}  # read under the lock
            for name, layer, meta in items:
                _write_layer(tmp, name, layer, meta, existing.get(name), who)
        log.info("wrote %s", ", ".join(n for n, _, _ in items))

    def write_raster(self, name: str, array: np.ndarray, *, transform, crs, nodata: float,
                     source: str = "", synthetic: bool = False, who: str = "cli") -> None:
        _check_name(name)
        with self._transaction() as tmp:
            if name in {i.name for i in self.layers()}:
                raise ConflictError(f"raster {name!r} exists; delete it first (GeoPackage tiles cannot be "
                                    "replaced in place)")
            if not tmp.exists():
                _init_empty(tmp)
            h, w = array.shape
            with rasterio.open(tmp, "w", driver="GPKG", width=w, height=h, count=1, dtype="float32",
                               crs=crs, transform=transform, nodata=nodata, RASTER_TABLE=name,
                               APPEND_SUBDATASET="YES") as dst:
                dst.write(array.astype("float32"), 1)
            _record(tmp, LayerInfo(name, "dem", "raster", int(array.size), source, sql.now(), str(crs), None,
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
    def _edit(self, name: str) -> Iterator[sqlite3.Connection]:
        with self._locked(), self._sqlite(readonly=False) as con, sql.transaction(con):
            yield con

    def _vector_info(self, name: str) -> LayerInfo:
        info = self.info(name)
        if not info.is_vector:
            what = "a raster" if info.geometry_type == "raster" else "a table"
            raise InputError(f"{name!r} is {what} layer ({info.kind}); features can be edited only in vector "
                             "layers (renewal_areas, services, parcels, constraints, roads, districts)")
        return info

    def insert_features(self, name: str, layer: ValidatedLayer, *, who: str) -> list[int]:
        info = self._vector_info(name)
        _check_kind(info, layer)
        with self._edit(name) as con:
            rows = _Rows(con, name, layer.frame)
            ids = [con.execute(rows.insert_sql, values).lastrowid for values in rows.values()]
            _after_edit(con, name, who, "create", ids, layer.frame)
        log.info("%s: created features %s", name, ids)
        return ids

    def update_feature(self, name: str, fid: int, layer: ValidatedLayer, *, who: str,
                       if_match: str | None = None) -> str:
        info = self._vector_info(name)
        _check_kind(info, layer)
        if len(layer.frame) != 1:
            raise InputError(f"a replacement is exactly one feature, got {len(layer.frame)}")
        with self._edit(name) as con:
            _check_precondition(con, name, fid, if_match)
            rows = _Rows(con, name, layer.frame)
            con.execute(rows.update_sql, [*next(iter(rows.values())), int(fid)])
            _after_edit(con, name, who, "replace", [int(fid)], layer.frame)
            etag = _row_etag(con, name, fid)
        log.info("%s: replaced feature %d", name, fid)
        return etag

    def delete_features(self, name: str, fids: list[int], *, who: str, if_match: str | None = None) -> None:
        self._vector_info(name)
        with self._edit(name) as con:
            for fid in fids:
                _check_precondition(con, name, fid, if_match if len(fids) == 1 else None)
            con.executemany(f'DELETE FROM "{name}" WHERE fid = ?', [(int(f),) for f in fids])
            _after_edit(con, name, who, "delete", [int(f) for f in fids], None)
        log.info("%s: deleted features %s", name, fids)


def _hot_journal(ex: Exception) -> bool:
    text = str(ex).lower()
    return "readonly" in text or "read-only" in text


def _check_kind(info: LayerInfo, layer: ValidatedLayer) -> None:
    if layer.kind != info.kind:
        raise InputError(f"{info.name!r} holds {info.kind} features; these were validated as {layer.kind}")


def _check_precondition(con: sqlite3.Connection, name: str, fid: int, if_match: str | None) -> None:
    etag = _row_etag(con, name, fid)  # NotFoundError when the feature is not there
    if if_match is not None and if_match.strip() not in ("*", etag, f'"{etag}"', f'W/"{etag}"'):
        raise PreconditionError(f"feature {fid} of {name!r} changed since you read it (ETag now \"{etag}\"); "
                                "read it again and re-apply your change")


def _row_etag(con: sqlite3.Connection, name: str, fid: int) -> str:
    row = con.execute(f'SELECT * FROM "{name}" WHERE fid = ?', (int(fid),)).fetchone()
    if row is None:
        raise NotFoundError(f"no feature {fid} in {name!r}")
    return hashlib.blake2b(repr(row).encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


class _Rows:
    """A validated frame as rows of one stored feature table: its columns, SQL and values."""

    def __init__(self, con: sqlite3.Connection, name: str, frame: gpd.GeoDataFrame):
        self.geom_col, gtype, self.srs_id = sql.geometry_column(con, name)
        self.multi = gtype.startswith("MULTI")
        stored = sql.table_columns(con, name)
        self.columns = [c for c in frame.columns if c not in ("id", "fid", frame.geometry.name)]
        extra = [c for c in self.columns if c not in stored]
        if extra:
            raise InputError(f"columns {extra} are not in the stored layer {name!r}; import the layer again "
                             "with those columns (--mode replace) or drop them")
        self.frame = frame
        cols = ", ".join(f'"{c}"' for c in [self.geom_col, *self.columns])
        marks = ", ".join("?" for _ in range(len(self.columns) + 1))
        self.insert_sql = f'INSERT INTO "{name}" ({cols}) VALUES ({marks})'
        sets = ", ".join(f'"{c}" = ?' for c in [self.geom_col, *self.columns])
        self.update_sql = f'UPDATE "{name}" SET {sets} WHERE fid = ?'

    def values(self):
        geoms = self.frame.geometry.values
        if self.multi:
            geoms = [_as_multi(g) for g in geoms]
        records = self.frame[self.columns].astype(object).to_numpy()
        for geom, record in zip(geoms, records, strict=True):
            yield [sql.geometry_blob(geom, self.srs_id), *(sql.sql_value(v) for v in record)]


def _as_multi(geom):
    kind = shapely.get_type_id(geom)
    if kind == 3:
        return shapely.MultiPolygon([geom])
    if kind == 1:
        return shapely.MultiLineString([geom])
    if kind == 0:
        return shapely.MultiPoint([geom])
    return geom


def _after_edit(con: sqlite3.Connection, name: str, who: str, verb: str, ids: list[int], frame) -> None:
    """Feature count, a new layer version, the extent GDAL reports and the audit row."""
    count = con.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
    sql.ensure_meta(con)
    con.execute(f"UPDATE {sql.META} SET feature_count = ?, version = ? WHERE name = ?",
                (count, sql.new_version(), name))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    if frame is not None and len(frame):
        x0, y0, x1, y1 = (float(v) for v in frame.total_bounds)
        con.execute("UPDATE gpkg_contents SET last_change = ?, min_x = MIN(COALESCE(min_x, ?), ?), "
                    "min_y = MIN(COALESCE(min_y, ?), ?), max_x = MAX(COALESCE(max_x, ?), ?), "
                    "max_y = MAX(COALESCE(max_y, ?), ?) WHERE table_name = ?",
                    (stamp, x0, x0, y0, y0, x1, x1, y1, y1, name))
    else:
        con.execute("UPDATE gpkg_contents SET last_change = ? WHERE table_name = ?", (stamp, name))
    sql.audit(con, who, verb, name, {"ids": ids})


# --- whole-layer write helpers ---------------------------------------------------------------


def _write_layer(tmp: Path, name: str, layer: ValidatedLayer, meta: dict, existing: LayerInfo | None,
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
                                layer_options={"SPATIAL_INDEX": "YES"})
        geometry_type = schema_for(layer.kind).geometry
    notes = "; ".join(str(p) for p in (layer.repaired + layer.notices)[:50])
    _record(tmp, LayerInfo(
        name=name, kind=layer.kind, geometry_type=geometry_type, feature_count=_count(tmp, name),
        source=meta.get("source", ""), imported_at=sql.now(), original_crs=layer.source_crs,
        encoding=meta.get("encoding"), synthetic=bool(meta.get("synthetic")), notes=notes,
    ), who, f"{mode} {len(frame)} features", mode)


def _init_empty(path: Path) -> None:
    # An empty GeoPackage: a throw-away layer makes GDAL create the gpkg_* tables.
    gdf = gpd.GeoDataFrame({"x": [0]}, geometry=[shapely.Point(0, 0)], crs=4490)
    pyogrio.write_dataframe(gdf, path, layer="renewal_init", driver="GPKG")
    with contextlib.closing(sqlite3.connect(path)) as con:
        sql.drop_layer(con, "renewal_init")
        con.commit()


def _write_table(path: Path, name: str, frame: pd.DataFrame, append: bool) -> None:
    if not path.exists():
        _init_empty(path)
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


def _record(path: Path, info: LayerInfo, who: str, detail: str, action: str) -> None:
    with contextlib.closing(sqlite3.connect(path)) as con:
        sql.ensure_meta(con)
        con.execute(f"INSERT OR REPLACE INTO {sql.META} (name, kind, geometry_type, feature_count, source, "
                    "imported_at, original_crs, encoding, synthetic, notes, version) VALUES (?,?,?,?,?,?,?,?,?,?,?)", (
                        info.name, info.kind, info.geometry_type, info.feature_count, info.source,
                        info.imported_at, info.original_crs, info.encoding, int(info.synthetic), info.notes,
                        sql.new_version()))
        sql.audit(con, who, action, info.name, {"detail": detail, "source": info.source})
        con.commit()
