"""The GeoJSON the map pages draw (``/maps/data/{layer}``, and the same answers written into
pages): written once per layer version, kept per worker.

Two levels of keeping. Whole answers (and pages), per query, with their gzip: every page load
asks for the same districts and areas. And, for a layer small enough to draw as GeoJSON
(``FEATURE_TEXTS_MAX`` features), each feature's GeoJSON text, per layer version, property set
and datum: an answer for a box not asked for yet (a new page's opening view, a pan) is then the
R-tree's hits joined, not a query and an encoding (5,000 parcels: 35 → ~3 ms), with the same
bytes either way.
"""

from __future__ import annotations

__all__ = ["DATA_CACHE_BYTES", "FEATURE_TEXTS_MAX", "cached", "data_answer", "data_key", "feature_collection",
           "keep", "layer_answer", "peek", "shift"]

import gzip
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import shapely

from gis.crs import gcj02_to_wgs84, transform_geometries, wgs84_to_gcj02
from gis.errors import InputError
from layers.cache import VersionedCache
from layers.features import FeatureQuery, bbox_in_storage, check_properties, query_features

#: Answers (and map pages) kept per layer versions and query, GeoJSON and gzip, up to this
#: many bytes per worker.
DATA_CACHE_BYTES = 64 * 2**20
_data_cache: OrderedDict[tuple, tuple[bytes, bytes | None]] = OrderedDict()
_data_cache_lock = threading.Lock()
#: Layers of up to this many features keep their features' texts (the maps draw bigger ones
#: from vector tiles; 20,000 parcels hold ~6 MB of text).
FEATURE_TEXTS_MAX = 20_000


def cached(key: tuple, make, *, pack: bool = True) -> tuple[bytes, bytes | None, bool]:
    """(GeoJSON, its gzip or None when small, whether it was cached) for ``key``. ``pack``
    False: the gzip is not needed now (an answer written into a page) and is made when an
    answer is first sent compressed — 4 ms of a page's first rendering at 1,000 parcels."""
    hit = peek(key)
    if hit is not None:
        if pack and hit[1] is None and len(hit[0]) >= 2048:
            hit = (hit[0], gzip.compress(hit[0], compresslevel=5))
            keep(key, *hit)
        return (*hit, True)
    body = make()
    packed = gzip.compress(body, compresslevel=5) if pack and len(body) >= 2048 else None
    keep(key, body, packed)
    return body, packed, False


def peek(key: tuple) -> tuple[bytes, bytes | None] | None:
    with _data_cache_lock:
        hit = _data_cache.get(key)
        if hit is not None:
            _data_cache.move_to_end(key)
        return hit


def keep(key: tuple, body: bytes, packed: bytes | None) -> None:
    if len(body) + len(packed or b"") > DATA_CACHE_BYTES // 8:
        return
    with _data_cache_lock:
        _data_cache[key] = (body, packed)
        held = sum(len(b) + len(z or b"") for b, z in _data_cache.values())
        while held > DATA_CACHE_BYTES and len(_data_cache) > 1:
            b, z = _data_cache.popitem(last=False)[1]
            held -= len(b) + len(z or b"")


def data_key(store, layer: str, version: str, *query) -> tuple:
    return (store.uri, layer, version, *query)


def data_answer(store, layer: str, bbox: str | None, limit: int, datum: str, category: str | None,
                properties: str | None, timing: dict[str, float], *, pack: bool = True
                ) -> tuple[bytes, bytes | None, bool]:
    """(GeoJSON, its gzip or None, whether it was cached): kept per layer version and query."""
    version = store.info(layer).version

    def make() -> bytes:
        return layer_answer(store, layer, bbox, limit, datum, category, properties, timing)

    if not version:
        return make(), None, False
    return cached(data_key(store, layer, version, bbox, limit, datum, category, properties), make, pack=pack)


def layer_answer(store, layer: str, bbox: str | None, limit: int, datum: str, category: str | None,
                 properties: str | None, timing: dict[str, float]) -> bytes:
    """The ``/maps/data`` GeoJSON of ``layer`` (not kept): the features intersecting ``bbox``
    (west,south,east,north in ``datum``) in id order, up to ``limit``, with ``properties``
    (comma-separated; None: all). From the layer's kept feature texts when it is small enough,
    else through the store's query; ``timing`` gets the milliseconds of each step."""
    box = _parse_box(bbox, datum)
    fields = [f for f in properties.split(",") if f] if properties else None
    start = time.perf_counter()
    info = store.info(layer)
    if info.version and info.is_vector and info.feature_count <= FEATURE_TEXTS_MAX and not category:
        texts = _TEXTS.get((store.uri, layer, info.version, tuple(fields) if fields is not None else None, datum),
                           lambda: _layer_texts(store, layer, fields, datum))
        hits = texts.select(bbox_in_storage(box, None) if box is not None else None)
        timing["cut"] = (time.perf_counter() - start) * 1000
        return _collection(texts.texts[hits[:limit]], len(hits))
    page, matched = query_features(store, layer, FeatureQuery(bbox=box, limit=limit, filters=(
        {"category": category} if category else None), properties=fields))
    page = shift(page, datum)
    queried = time.perf_counter()
    body = feature_collection(page, fields, matched)
    timing["query"] = (queried - start) * 1000
    timing["encode"] = (time.perf_counter() - queried) * 1000
    return body


def _parse_box(bbox: str | None, datum: str) -> list[float] | None:
    if not bbox:
        return None
    try:
        box = [float(v) for v in bbox.split(",")]
    except ValueError:
        raise InputError("bbox must be four numbers: west,south,east,north") from None
    if datum == "gcj02" and len(box) == 4:  # the view is in GCJ-02: query in CGCS2000
        (x0, x1), (y0, y1) = gcj02_to_wgs84(np.array(box[::2]), np.array(box[1::2]))
        box = [float(x0), float(y0), float(x1), float(y1)]
    return box


@dataclass(frozen=True)
class _LayerTexts:
    """A layer's features as GeoJSON texts, in id order, beside the frame whose R-tree finds them."""

    frame: object  # the store's cached GeoDataFrame (its spatial index is built once, with it)
    texts: np.ndarray  # of str, one Feature each

    def select(self, box) -> np.ndarray:
        """Positions of the features intersecting ``box`` (storage CRS), in id order: the rows
        ``LayerStore.query`` answers with (``layers.backends.frames.query_frame``)."""
        if box is None:
            return np.arange(len(self.texts))
        return np.sort(self.frame.sindex.query(shapely.box(*box), predicate="intersects"))


_TEXTS: VersionedCache[_LayerTexts] = VersionedCache(8)


def _layer_texts(store, layer: str, fields: list[str] | None, datum: str) -> _LayerTexts:
    frame = store.read_cached(layer)
    if not frame["id"].is_monotonic_increasing:  # query pages come in id order
        frame = frame.sort_values("id", ignore_index=True)
    if fields is not None:
        check_properties(fields, frame.columns)
    texts = np.empty(len(frame), dtype=object)
    texts[:] = feature_texts(shift(frame, datum), fields)
    return _LayerTexts(frame, texts)


def feature_texts(frame, fields: list[str] | None) -> list[str]:
    """Each feature of ``frame`` as a GeoJSON Feature (lon/lat to 6 decimals, about 0.1 m;
    ``fields`` or every property). Geometries are written by GEOS in one call and properties
    by the json module, without building a dict per feature: a tenth of the time of the
    general writer (``to_geojson_features``) on 5,000 parcels."""
    cols = [c for c in frame.columns if c not in ("geometry", "id") and (fields is None or c in fields)]
    geoms = np.asarray(frame.geometry.values)
    if len(geoms):
        geoms = shapely.transform(geoms, lambda c: np.round(c, 6))
    texts = shapely.to_geojson(geoms) if len(geoms) else []
    ids = frame["id"].tolist() if "id" in frame.columns else list(range(len(frame)))
    if cols:
        props = json.loads(frame[cols].to_json(orient="records", date_format="iso", force_ascii=False,
                                               double_precision=15))
    else:
        props = [{}] * len(frame)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    return [f'{{"type":"Feature","id":{int(fid)},"geometry":{geom or "null"},"properties":{dumps(p)}}}'
            for fid, geom, p in zip(ids, texts, props, strict=True)]


def feature_collection(frame, fields: list[str] | None, matched: int) -> bytes:
    """The page as a GeoJSON FeatureCollection (see :func:`feature_texts`)."""
    return _collection(feature_texts(frame, fields), matched)


def _collection(texts, matched: int) -> bytes:
    return (f'{{"type":"FeatureCollection","features":[{",".join(texts)}],"numberMatched":{int(matched)},'
            f'"numberReturned":{len(texts)}}}').encode()


def shift(frame, datum: str):
    """Overlays drawn on Amap tiles must be in GCJ-02 to line up with its streets."""
    if frame is None or datum != "gcj02" or len(frame) == 0:
        return frame
    out = frame.to_crs(4490).copy()
    out["geometry"] = transform_geometries(out.geometry.values, wgs84_to_gcj02)
    return out
