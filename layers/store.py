"""The layer store: one GeoPackage holding every layer, its metadata and an audit trail.

Storage goes through :class:`LayerStore`, so a PostGIS backend can be added to
:data:`BACKENDS` without touching ``gis/``.

Atomicity: a write copies the store to a temporary file beside it, writes there and moves
it over the original with ``os.replace`` (atomic on POSIX), all under an exclusive lock.
A failure at any step leaves the original byte-for-byte as it was. The copy costs time
proportional to the store, which for city layers (tens of MB) is well under a second.
"""

from __future__ import annotations

__all__ = ["LayerInfo", "LayerStore", "GeoPackageStore", "BACKENDS", "open_store", "default_store_path", "store_version"]

import contextlib
import fcntl
import json
import logging
import os
import shutil
import sqlite3
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio

from gis.errors import InputError, NotFoundError
from layers.schemas import schema_for
from layers.validate import ValidatedLayer

log = logging.getLogger(__name__)

_META = "renewal_layers"
_AUDIT = "renewal_audit"
_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789_")


def default_store_path() -> Path:
    return Path(os.environ.get("RENEWAL_STORE", "data/renewal.gpkg"))


@dataclass
class LayerInfo:
    """Metadata of one stored layer."""

    name: str
    kind: str
    geometry_type: str | None
    feature_count: int
    source: str
    imported_at: str
    original_crs: str | None
    encoding: str | None
    synthetic: bool
    notes: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


class LayerStore(ABC):
    """What analysis, maps and the API need from a store of layers."""

    @abstractmethod
    def layers(self) -> list[LayerInfo]: ...

    @abstractmethod
    def info(self, name: str) -> LayerInfo: ...

    @abstractmethod
    def read(self, name: str, *, bbox=None, columns=None) -> gpd.GeoDataFrame | pd.DataFrame: ...

    @abstractmethod
    def write(self, name: str, layer: ValidatedLayer, *, mode: str = "replace", source: str = "",
              encoding: str | None = None, synthetic: bool = False, who: str = "cli") -> LayerInfo: ...

    @abstractmethod
    def write_many(self, items: list[tuple[str, ValidatedLayer, dict]], *, who: str = "cli") -> None: ...

    @abstractmethod
    def delete(self, name: str, *, who: str = "cli") -> None: ...

    @abstractmethod
    def read_raster(self, name: str): ...

    @abstractmethod
    def audit_log(self, limit: int = 100) -> list[dict]: ...

    def has(self, name: str) -> bool:
        return any(i.name == name for i in self.layers())

    def find_kind(self, kind: str) -> str:
        """The layer analyses use for ``kind``: the one named after the kind (``services``),
        else the first of that kind by name; a NotFoundError when there is none."""
        names = [i.name for i in self.layers() if i.kind == kind]
        if kind in names:
            return kind
        if names:
            return names[0]
        raise NotFoundError(f"the store has no {kind} layer; import one with `renewal import FILE --layer {kind}`")


def _check_name(name: str) -> None:
    if not name or not set(name) <= _NAME_OK or name[0].isdigit() or name in (_META, _AUDIT) or name.startswith(("gpkg", "rtree_", "sqlite")):
        raise InputError(
            f"layer name {name!r} is not allowed; use lower-case letters, digits and '_', "
            "starting with a letter (e.g. renewal_areas, parcels_2024)"
        )


class GeoPackageStore(LayerStore):
    """The embedded default: one GeoPackage file (SQLite) holding every layer."""

    def __init__(self, path):
        self.path = Path(path)

    # --- reading -----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if not self.path.exists():
            raise NotFoundError(f"no store at {self.path}; build the sample with `renewal sample` or import a layer")
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)

    def layers(self) -> list[LayerInfo]:
        if not self.path.exists():
            return []
        with contextlib.closing(self._connect()) as con:
            if not _has_table(con, _META):
                return []
            rows = con.execute(f"SELECT name, kind, geometry_type, feature_count, source, imported_at, "
                               f"original_crs, encoding, synthetic, notes FROM {_META} ORDER BY name").fetchall()
        return [LayerInfo(*r[:8], bool(r[8]), r[9] or "") for r in rows]

    def info(self, name: str) -> LayerInfo:
        if not self.path.exists():
            self._connect()  # raises the "no store" error with the fix
        for i in self.layers():
            if i.name == name:
                return i
        known = ", ".join(i.name for i in self.layers()) or "none"
        raise NotFoundError(f"no layer {name!r} in {self.path}; stored layers: {known}")

    def read(self, name: str, *, bbox=None, columns=None):
        info = self.info(name)
        if info.geometry_type is None and info.kind != "dem":
            with contextlib.closing(self._connect()) as con:
                frame = pd.read_sql_query(f'SELECT * FROM "{name}"', con)
            frame = frame.drop(columns=[c for c in ("fid",) if c in frame.columns])
            return frame
        frame = pyogrio.read_dataframe(self.path, layer=name, bbox=bbox, columns=columns, fid_as_index=True)
        frame.index.name = "id"
        frame = frame.reset_index()
        return frame

    def read_raster(self, name: str):
        info = self.info(name)
        if info.kind != "dem" and info.geometry_type != "raster":
            raise InputError(f"layer {name!r} is a {info.kind} layer, not a raster")
        return rasterio.open(f"GPKG:{self.path}:{name}")

    def audit_log(self, limit: int = 100) -> list[dict]:
        if not self.path.exists():
            return []
        with contextlib.closing(self._connect()) as con:
            if not _has_table(con, _AUDIT):
                return []
            rows = con.execute(f"SELECT at, who, action, layer, detail FROM {_AUDIT} ORDER BY rowid DESC LIMIT ?",
                               (int(limit),)).fetchall()
        return [dict(zip(("at", "who", "action", "layer", "detail"), r, strict=True)) for r in rows]

    # --- writing -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Path]:
        """Yield a private copy of the store; replace the store with it only on success."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp.gpkg")
            os.close(fd)
            tmp_path = Path(tmp)
            try:
                if self.path.exists():
                    shutil.copyfile(self.path, tmp_path)
                else:
                    tmp_path.unlink()
                yield tmp_path
                os.chmod(tmp_path, 0o644)  # mkstemp makes 0600; a store is shared
                os.replace(tmp_path, self.path)
            finally:
                for leftover in (tmp_path, tmp_path.with_name(tmp_path.name + "-journal")):
                    if leftover.exists():
                        leftover.unlink()

    def write(self, name, layer, *, mode="replace", source="", encoding=None, synthetic=False, who="cli"):
        meta = {"mode": mode, "source": source, "encoding": encoding, "synthetic": synthetic}
        self.write_many([(name, layer, meta)], who=who)
        return self.info(name)

    def write_many(self, items, *, who="cli"):
        """Write several layers in one transaction (all or nothing)."""
        existing = {i.name: i for i in self.layers()}
        for name, layer, meta in items:
            _check_name(name)
            mode = meta.get("mode", "replace")
            if mode not in ("replace", "append"):
                raise InputError(f"mode must be 'replace' or 'append', got {mode!r}")
            if mode == "append" and name in existing and existing[name].kind != layer.kind:
                raise InputError(f"cannot append {layer.kind} features to {name!r}, a {existing[name].kind} layer")
        with self._transaction() as tmp:
            for name, layer, meta in items:
                mode = meta.get("mode", "replace")
                append = mode == "append" and name in existing
                frame = layer.frame
                if schema_for(layer.kind).geometry is None:
                    _write_table(tmp, name, frame, append)
                    geometry_type = None
                else:
                    if "id" in frame.columns:
                        # Edits keep feature ids (GDAL takes a 'fid' column as the FID);
                        # imports get fresh ones.
                        frame = frame.rename(columns={"id": "fid"}) if meta.get("keep_ids") and not append \
                            else frame.drop(columns="id")
                    if append:
                        frame = _align_for_append(tmp, name, frame)
                    pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG", append=append,
                                            promote_to_multi=layer.kind in ("parcels", "constraints", "renewal_areas", "districts"),
                                            layer_options={"SPATIAL_INDEX": "YES"})
                    geometry_type = schema_for(layer.kind).geometry
                count = _count(tmp, name)
                notes = "; ".join(str(p) for p in (layer.repaired + layer.notices)[:50])
                _record(tmp, LayerInfo(
                    name=name, kind=layer.kind, geometry_type=geometry_type, feature_count=count,
                    source=meta.get("source", ""), imported_at=_now(), original_crs=layer.source_crs,
                    encoding=meta.get("encoding"), synthetic=bool(meta.get("synthetic")), notes=notes,
                ), who, f"{mode} {len(frame)} features", mode)
        log.info("wrote %s to %s", ", ".join(n for n, _, _ in items), self.path)

    def write_raster(self, name: str, array: np.ndarray, *, transform, crs, nodata: float,
                     source: str = "", synthetic: bool = False, who: str = "cli") -> None:
        _check_name(name)
        if name in {i.name for i in self.layers()}:
            raise InputError(f"raster {name!r} exists; delete it first (GeoPackage tiles cannot be replaced in place)")
        with self._transaction() as tmp:
            if not tmp.exists():
                _init_empty(tmp)
            h, w = array.shape
            with rasterio.open(tmp, "w", driver="GPKG", width=w, height=h, count=1, dtype="float32",
                               crs=crs, transform=transform, nodata=nodata, RASTER_TABLE=name,
                               APPEND_SUBDATASET="YES") as dst:
                dst.write(array.astype("float32"), 1)
            _record(tmp, LayerInfo(name, "dem", "raster", int(array.size), source, _now(), str(crs), None,
                                   synthetic, f"{w}x{h} cells, nodata={nodata}"), who, f"write raster {w}x{h}", "replace")

    def delete(self, name, *, who="cli"):
        self.info(name)
        with self._transaction() as tmp:
            with contextlib.closing(sqlite3.connect(tmp)) as con:
                _drop_layer_sql(con, name)
                con.execute(f"DELETE FROM {_META} WHERE name = ?", (name,))
                _audit(con, who, "delete", name, "")
                con.commit()


def _drop_layer_sql(con: sqlite3.Connection, name: str) -> None:
    # GeoPackage bookkeeping tables name the layer; removing them with the table keeps
    # the file valid for GDAL (no dangling gpkg_contents rows).
    con.execute(f'DROP TABLE IF EXISTS "{name}"')
    for table in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_tile_matrix", "gpkg_tile_matrix_set",
                  "gpkg_extensions", "gpkg_2d_gridded_tile_ancillary"):
        col = "tpudt_name" if table == "gpkg_2d_gridded_tile_ancillary" else "table_name"
        if _has_table(con, table):
            con.execute(f'DELETE FROM {table} WHERE {col} = ?', (name,))
    for (tname,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE ?",
                                (f"rtree_{name}_%",)).fetchall():
        con.execute(f'DROP TABLE IF EXISTS "{tname}"')
    for (trig,) in con.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name = ?",
                               (name,)).fetchall():
        con.execute(f'DROP TRIGGER IF EXISTS "{trig}"')


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _has_table(con: sqlite3.Connection, table: str) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone() is not None


def _init_empty(path: Path) -> None:
    # An empty GeoPackage: a throw-away layer makes GDAL create the gpkg_* tables.
    import shapely

    gdf = gpd.GeoDataFrame({"x": [0]}, geometry=[shapely.Point(0, 0)], crs=4490)
    pyogrio.write_dataframe(gdf, path, layer="renewal_init", driver="GPKG")
    with contextlib.closing(sqlite3.connect(path)) as con:
        _drop_layer_sql(con, "renewal_init")
        con.commit()


def _write_table(path: Path, name: str, frame: pd.DataFrame, append: bool) -> None:
    if not path.exists():
        _init_empty(path)
    with contextlib.closing(sqlite3.connect(path)) as con:
        if not append:
            _drop_layer_sql(con, name)
        frame.to_sql(name, con, if_exists="append" if append else "replace", index=False)
        # Register it as a GeoPackage attributes table so GDAL clients see it too.
        con.execute("DELETE FROM gpkg_contents WHERE table_name = ?", (name,))
        con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, last_change) "
                    "VALUES (?, 'attributes', ?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))", (name, name))
        con.commit()


def _align_for_append(path: Path, name: str, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    existing = pyogrio.read_info(path, layer=name)["fields"].tolist()
    extra = [c for c in frame.columns if c not in existing and c != frame.geometry.name]
    if extra:
        raise InputError(f"cannot append: columns {extra} are not in the stored layer {name!r}; "
                         "import with --mode replace or drop those columns")
    return frame


def _count(path: Path, name: str) -> int:
    with contextlib.closing(sqlite3.connect(path)) as con:
        return int(con.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0])


def _ensure_meta(con: sqlite3.Connection) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS {_META} (name TEXT PRIMARY KEY, kind TEXT NOT NULL, "
                "geometry_type TEXT, feature_count INTEGER, source TEXT, imported_at TEXT, "
                "original_crs TEXT, encoding TEXT, synthetic INTEGER, notes TEXT)")
    con.execute(f"CREATE TABLE IF NOT EXISTS {_AUDIT} (at TEXT, who TEXT, action TEXT, layer TEXT, detail TEXT)")


def _audit(con: sqlite3.Connection, who: str, action: str, layer: str, detail: str) -> None:
    _ensure_meta(con)
    con.execute(f"INSERT INTO {_AUDIT} VALUES (?, ?, ?, ?, ?)", (_now(), who, action, layer, detail))


def _record(path: Path, info: LayerInfo, who: str, detail: str, action: str) -> None:
    with contextlib.closing(sqlite3.connect(path)) as con:
        _ensure_meta(con)
        con.execute(f"INSERT OR REPLACE INTO {_META} VALUES (?,?,?,?,?,?,?,?,?,?)", (
            info.name, info.kind, info.geometry_type, info.feature_count, info.source, info.imported_at,
            info.original_crs, info.encoding, int(info.synthetic), info.notes))
        _audit(con, who, action, info.name, json.dumps({"detail": detail, "source": info.source}, ensure_ascii=False))
        con.commit()


#: Backend name → class. A PostGIS backend registers here.
BACKENDS: dict[str, type[LayerStore]] = {"gpkg": GeoPackageStore}


def store_version(store: LayerStore) -> tuple[str, int] | None:
    """The store's file and its modification time, which every write changes: the key of
    whatever is cached per store version. None for a store without a file."""
    path = getattr(store, "path", None)
    return (str(path), path.stat().st_mtime_ns) if path is not None else None


def open_store(path=None, backend: str = "gpkg") -> LayerStore:
    """Open the layer store at ``path`` (default ``$RENEWAL_STORE`` or ``data/renewal.gpkg``)."""
    try:
        cls = BACKENDS[backend]
    except KeyError:
        raise InputError(f"unknown store backend {backend!r}; known: {', '.join(BACKENDS)}") from None
    return cls(Path(path) if path else default_store_path())
