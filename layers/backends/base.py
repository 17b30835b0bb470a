"""The interface every layer store provides, whatever holds the data.

Analyses, maps and the API see only this: layers with metadata and a version that every
change to the layer replaces (the key of whatever is cached per layer), whole-layer
writes that are all or nothing, feature edits by id in one transaction, rasters and an
audit trail.
"""

from __future__ import annotations

__all__ = ["LayerInfo", "LayerStore", "EDIT_VERBS", "check_layer_name", "check_write_items"]

import contextlib
import contextvars
import gzip
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import geopandas as gpd
import pandas as pd

from gis.errors import InputError, NotFoundError
from layers.backends.frames import query_frame
from layers.cache import VersionedCache
from layers.tile_edits import TileEdits, edits_of
from layers.validate import ValidatedLayer

#: The verbs of feature edits, as the audit names them.
EDIT_VERBS = ("create", "replace", "delete")
#: Layers read whole, per store, layer and version (reads dominate; every change makes a new version).
_FRAMES: VersionedCache = VersionedCache(16)
#: Encoded vector tiles (gzip), per store, layer, version and tile: a map pans over the same tiles again.
_TILES: VersionedCache = VersionedCache(4096)


_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789_")
#: Names every backend refuses for a layer: its own bookkeeping and the other backends', so a
#: store can always be copied from one backend to another.
_RESERVED = {"renewal_layers", "renewal_audit", "renewal_rasters", "renewal_revision", "spatial_ref_sys",
             "geometry_columns", "geography_columns"}
_RESERVED_PREFIXES = ("gpkg", "rtree_", "sqlite", "pg_")


def check_write_items(items) -> None:
    """Names and modes of a ``write_many`` call, checked before any write starts."""
    for name, _, meta in items:
        check_layer_name(name)
        if meta.get("mode", "replace") not in ("replace", "append"):
            raise InputError(f"mode must be 'replace' or 'append', got {meta.get('mode')!r}")


def check_layer_name(name: str) -> None:
    """An InputError unless ``name`` is a layer name every backend can hold."""
    if not name or not set(name) <= _NAME_OK or name[0].isdigit() or name in _RESERVED \
            or name.startswith(_RESERVED_PREFIXES):
        raise InputError(f"layer name {name!r} is not allowed; use lower-case letters, digits and '_', "
                         "starting with a letter (e.g. renewal_areas, parcels_2024)")


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
    version: str = ""
    #: Which version each of its vector tiles shows (``layers.tile_edits``): bookkeeping, not metadata.
    tile_edits: str = field(default="", repr=False, compare=False)

    def to_dict(self) -> dict:
        out = asdict(self)
        del out["tile_edits"]
        return out

    @property
    def is_vector(self) -> bool:
        return self.geometry_type in ("polygon", "point", "line")


def tile_folder(uri: str) -> str:
    """The folder of a store's cached tiles, shared by the processes of this machine."""
    import hashlib
    import tempfile

    return os.path.join(tempfile.gettempdir(), "renewal-tiles", hashlib.sha1(uri.encode()).hexdigest()[:16])


def _disk_tile(store: LayerStore, name: str, version: str, live: set[str], z: int, x: int, y: int) -> bytes:
    """A tile, gzip-compressed (:func:`_compressed`), from the tile folder every process of
    this machine shares (the server's workers each keep their own memory cache: without it, a
    map's second page load met the other worker's empty cache and re-encoded every tile),
    encoding and keeping it when missing. One folder per version a tile shows
    (``layers.tile_edits``); the folders of versions no tile shows any more (``live``: those
    that some tile may) are removed."""
    root = os.path.join(tile_folder(store.uri), name)
    path = os.path.join(root, version, str(z), str(x), f"{y}.mvt.gz")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        pass
    body = _compressed(store._encode_tile(name, z, x, y))
    _keep_tile(root, version, live, path, body)
    return body


def _keep_tile(root: str, version: str, live: set[str], path: str, body: bytes) -> None:
    """Write a tile whole, then rename it into place (readers see a whole tile or none), in
    four system calls while its folder exists: 0.22 ms (0.29 at p90) for a 17 KB tile, where
    mkstemp and makedirs each time took 1.1 ms (2.0). Not in a thread of its own: handed to
    one, the tiles being read and encoded meanwhile in the map's pages took 3.6 + 5.7 ms
    instead of 3.0 + 4.3 (medians of 124; every system call of the writer asks for the GIL
    back). A full or read-only disk loses the keeping, not the tile."""
    part = f"{path}.{os.getpid()}-{threading.get_ident()}.part"
    for attempt in (1, 2):
        try:
            with open(part, "wb") as f:
                f.write(body)
            os.replace(part, path)
            return
        except FileNotFoundError:
            if attempt == 2 or not _make_folder(root, version, live, os.path.dirname(path)):
                return
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(part)
            return


def _make_folder(root: str, version: str, live: set[str], folder: str) -> bool:
    """The folder of a tile, made; on a version's first tile, those of versions not ``live`` removed."""
    import shutil

    try:
        if not os.path.isdir(os.path.join(root, version)):
            for old in (d for d in os.listdir(root) if d not in live) if os.path.isdir(root) else ():
                shutil.rmtree(os.path.join(root, old), ignore_errors=True)
        os.makedirs(folder, exist_ok=True)
        return True
    except OSError:
        return False


def _compressed(tile: bytes) -> bytes:
    """A tile as the gzip member it is sent as (b"" stays b""): kept so, a tile is compressed
    once, not on every answer (the middleware's level 5 took ~0.8 ms of a cached 35 KB tile's
    ~3.5 ms, on the event loop). Level 1: 0.4 ms against 0.8 for level 5, 5 % more bytes
    (17.5 against 16.7 KB for a zoom-14 tile of ~440 parcels)."""
    return gzip.compress(tile, compresslevel=1, mtime=0) if tile else b""


#: The catalogs read inside :meth:`LayerStore.one_catalog` blocks of this context, by store uri.
_CATALOG: contextvars.ContextVar[dict[str, list] | None] = contextvars.ContextVar("renewal_catalog", default=None)


class LayerStore(ABC):
    """What analysis, maps and the API need from a store of layers."""

    #: Identifies the store in cache keys and logs (a resolved path, a database URL without password).
    uri: str = ""
    #: What :func:`layers.store.open_store` takes to open this store again (a path or a URL),
    #: e.g. in the server's worker processes.
    location: str = ""

    @abstractmethod
    def layers(self) -> list[LayerInfo]: ...

    @abstractmethod
    def info(self, name: str) -> LayerInfo: ...

    @abstractmethod
    def read(self, name: str, *, bbox=None, columns=None) -> gpd.GeoDataFrame | pd.DataFrame: ...

    def write(self, name: str, layer: ValidatedLayer, *, mode: str = "replace", source: str = "",
              encoding: str | None = None, synthetic: bool = False, who: str = "cli") -> LayerInfo:
        """Write one layer (see :meth:`write_many`); its new metadata."""
        self.write_many([(name, layer, {"mode": mode, "source": source, "encoding": encoding,
                                        "synthetic": synthetic})], who=who)
        return self.info(name)

    @abstractmethod
    def write_many(self, items: list[tuple[str, ValidatedLayer, dict]], *, who: str = "cli") -> None: ...

    @abstractmethod
    def delete(self, name: str, *, who: str = "cli") -> None: ...

    @abstractmethod
    def insert_features(self, name: str, layer: ValidatedLayer, *, who: str) -> list[int]:
        """Add validated features to a vector layer in one transaction; their new ids."""

    @abstractmethod
    def update_feature(self, name: str, fid: int, layer: ValidatedLayer, *, who: str,
                       if_match: str | None = None) -> str:
        """Replace feature ``fid`` (one validated feature) in one transaction; its new ETag.
        ``if_match``: refuse (PreconditionError) unless the feature's ETag is this one."""

    @abstractmethod
    def delete_features(self, name: str, fids: list[int], *, who: str, if_match: str | None = None) -> None:
        """Delete features by id in one transaction (all of them exist, or nothing changes)."""

    @abstractmethod
    def feature_etag(self, name: str, fid: int) -> str:
        """A tag that changes whenever feature ``fid`` changes (HTTP ETag / If-Match)."""

    @abstractmethod
    def read_raster(self, name: str):
        """The raster, opened with rasterio (the caller closes it)."""

    @abstractmethod
    def write_raster(self, name: str, array, *, transform, crs, nodata: float, source: str = "",
                     synthetic: bool = False, who: str = "cli") -> None:
        """Store a single-band raster (the DEM) and its metadata in one transaction."""

    def recover(self) -> None:
        """Clean up what a killed write left (a backend with transactions has nothing to do)."""
        return None

    @abstractmethod
    def audit_log(self, limit: int = 100) -> list[dict]: ...

    def vector_info(self, name: str) -> LayerInfo:
        """The metadata of a vector layer; an InputError for a table or a raster (no features to edit)."""
        info = self.info(name)
        if not info.is_vector:
            what = "a raster" if info.geometry_type == "raster" else "a table"
            raise InputError(f"{name!r} is {what} layer ({info.kind}); features can be edited only in vector "
                             "layers (renewal_areas, services, parcels, constraints, roads, districts)")
        return info

    def read_cached(self, name: str) -> gpd.GeoDataFrame | pd.DataFrame:
        """The whole layer, read once per version of it in this process (with its R-tree
        built); shared by every caller, so never modify it."""
        def build():
            frame = self.read(name)
            if isinstance(frame, gpd.GeoDataFrame):
                frame.sindex  # build the R-tree once  # noqa: B018
            return frame
        return _FRAMES.get((self.uri, name, self.version(name)), build)

    def bounds(self, name: str) -> tuple[float, float, float, float] | None:
        """The extent (storage CRS: CGCS2000 degrees) of vector layer ``name``, None when empty:
        what a batch needs to pick the Gauss–Krüger zone without reading the layer. This
        default reads the cached layer; backends answer from their spatial index."""
        frame = self.read_cached(name)
        return tuple(float(v) for v in frame.total_bounds) if len(frame) else None

    def query(self, name: str, *, bbox=None, filters: dict[str, str] | None = None, ids=None,
              limit: int | None = None, offset: int = 0, cql=None) -> tuple[gpd.GeoDataFrame, int]:
        """``(page, number matched)``: the features of ``name`` intersecting ``bbox`` (storage
        CRS: CGCS2000 degrees), whose properties equal ``filters`` (values as query strings,
        read as the column's type), with one of ``ids``, for which the CQL2 tree ``cql``
        (:func:`layers.cql2.parse_cql2`) holds, in id order from ``offset``.

        This default cuts pages from :meth:`read_cached`; a database backend pushes the
        query down to SQL with the same rules."""
        return query_frame(self.read_cached(name), bbox=bbox, filters=filters, ids=ids, limit=limit, offset=offset,
                           cql=cql)

    def vector_tile(self, name: str, z: int, x: int, y: int) -> bytes:
        """The Mapbox vector tile ``z/x/y`` (WebMercatorQuad) of vector layer ``name``, cached per
        version of the tile (:meth:`tile_version`); empty below the layer's minimum zoom
        (:func:`layers.mvt.min_zoom`)."""
        body = self.vector_tile_gzip(name, z, x, y)
        return gzip.decompress(body) if body else b""

    def vector_tile_gzip(self, name: str, z: int, x: int, y: int) -> bytes:
        """:meth:`vector_tile` as one gzip member (b"" for an empty tile), as it is kept and
        sent to clients that accept gzip (every browser and map library)."""
        from layers.mvt import check_tile, min_zoom

        check_tile(z, x, y)
        info = self.info(name)
        if not info.is_vector:
            raise NotFoundError(f"{name!r} is not a vector layer; tiles are made of features")
        if z < min_zoom(info.feature_count):
            return b""
        version = self.tile_version(name, z, x, y)
        return _TILES.get((self.uri, name, version, z, x, y),
                          lambda: _disk_tile(self, name, version, self._tile_edits(info).live(), z, x, y))

    def tile_version(self, name: str, z: int, x: int, y: int) -> str:
        """The version of layer ``name`` that tile ``z/x/y`` shows: the layer's version at its
        last whole write or at the newest edit that touched the tile (``layers.tile_edits``).
        An edit retires only the tiles it touches."""
        from layers.mvt import tile_bounds_lonlat

        return self._tile_edits(self.info(name)).tile_version(tile_bounds_lonlat(z, x, y))

    def _tile_edits(self, info: LayerInfo) -> TileEdits:
        return edits_of(self.uri, info.name, info.version, info.tile_edits)

    def _encode_tile(self, name: str, z: int, x: int, y: int) -> bytes:
        """Encode one tile (backends that encode in the database override this)."""
        from layers.mvt import ENCODING, encode_tile, tile_bounds_lonlat

        page, _ = self.query(name, bbox=tile_bounds_lonlat(z, x, y))  # may read the layer: not under the lock
        with ENCODING:
            return encode_tile(page, name, z, x, y)

    @contextlib.contextmanager
    def one_catalog(self) -> Iterator[None]:
        """Within the block (one request's reads), the store's catalog — :meth:`layers`, and
        :meth:`info` and versions through it — is read once: the block sees one state of the
        store, and a database pays one round trip instead of one per look-up (a PostGIS
        overview page read it 13 times, ~0.3 ms each). Threads started from the block's
        context (a threadpool's) share it. Not for blocks that write and read back."""
        token = _CATALOG.set({})
        try:
            yield
        finally:
            _CATALOG.reset(token)

    def _one_catalog_read(self, read: Callable[[], list[LayerInfo]]) -> list[LayerInfo]:
        """``read()``, or inside :meth:`one_catalog` the block's first ``read()``."""
        kept = _CATALOG.get()
        if kept is None:
            return read()
        if self.uri not in kept:
            kept[self.uri] = read()
        return kept[self.uri]

    def version(self, name: str) -> str:
        """The layer's version: replaced by every change to that layer, and only to it."""
        return self.info(name).version

    def has(self, name: str) -> bool:
        return any(i.name == name for i in self.layers())

    def has_kind(self, kind: str) -> bool:
        return any(i.kind == kind for i in self.layers())

    def find_kind(self, kind: str) -> str:
        """The layer analyses use for ``kind``: the one named after the kind (``services``),
        else the first of that kind by name; a NotFoundError when there is none."""
        names = [i.name for i in self.layers() if i.kind == kind]
        if kind in names:
            return kind
        if names:
            return names[0]
        raise NotFoundError(f"the store has no {kind} layer; import one with `renewal import FILE --layer {kind}`")
