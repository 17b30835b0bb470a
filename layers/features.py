"""Feature queries for OGC API – Features: collections, paged items with bbox, property
filters and field selection, GeoJSON in any supported CRS.

Coordinates follow OGC API – Features Part 2: CRS84 is lon/lat; any other CRS uses its
authority axis order (EPSG:4490 is lat/lon; the CGCS2000 Gauss–Krüger CRSs are
northing/easting, the X/Y of Chinese survey practice).
"""

from __future__ import annotations

__all__ = ["CRS84", "SUPPORTED_CRS", "crs_uri", "parse_crs_uri", "FeatureQuery", "query_features",
           "collection_info", "feature_collections", "to_geojson_features", "read_layer_cached",
           "bbox_in_storage", "check_properties"]

import json
import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from gis.crs import CGCS2000
from gis.errors import CRSError, InputError, NotFoundError
from layers.cql2 import parse_cql2
from layers.schemas import SCHEMAS
from layers.store import LayerStore

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
SUPPORTED_EPSG = (4490, 4326, 4547, 4548, 4526, 4527)
SUPPORTED_CRS = [CRS84] + [f"http://www.opengis.net/def/crs/EPSG/0/{e}" for e in SUPPORTED_EPSG]
MAX_LIMIT = 10000


def crs_uri(epsg: int | None) -> str:
    return CRS84 if epsg is None else f"http://www.opengis.net/def/crs/EPSG/0/{epsg}"


def parse_crs_uri(text: str | None) -> int | None:
    """None for CRS84 (lon/lat), else a supported EPSG code; CRSError otherwise."""
    if text is None or text.strip() in ("", CRS84, "CRS84", "OGC:CRS84"):
        return None
    t = text.strip()
    code = t.rsplit("/", 1)[-1] if t.startswith("http") else t.split(":")[-1]
    if code.upper() == "CRS84":
        return None
    if not code.isdigit() or int(code) not in SUPPORTED_EPSG:
        raise CRSError(f"unsupported CRS {text!r}; use one of: {', '.join(SUPPORTED_CRS)}")
    return int(code)


def read_layer_cached(store: LayerStore, name: str) -> gpd.GeoDataFrame:
    """The layer, cached per layer version (reads dominate; each edit makes a new version)."""
    return store.read_cached(name)


_JSON_TYPES = {"number": "number", "text": "string", "bool": "boolean"}
_GEOMETRY_SCHEMAS = {"polygon": "https://geojson.org/schema/MultiPolygon.json",
                     "point": "https://geojson.org/schema/Point.json",
                     "line": "https://geojson.org/schema/LineString.json"}


def queryables(store: LayerStore, name: str, base: str) -> dict:
    """The JSON Schema of what a filter may name (OGC API – Features Part 3): every stored
    property with its type and Chinese title, the id and the geometry."""
    from layers.backends.frames import column_kind

    info = store.info(name)
    if not info.is_vector:
        raise NotFoundError(f"no feature collection {name!r}; collections: {', '.join(feature_collections(store))}")
    frame = store.read_cached(name)
    schema = SCHEMAS.get(info.kind)
    titles = {f.name: f.label_zh for f in schema.fields} if schema else {}
    props: dict[str, dict] = {"id": {"title": "编号", "type": "integer"},
                              "geometry": {"title": "几何", "$ref": _GEOMETRY_SCHEMAS.get(info.geometry_type,
                                                                                          "https://geojson.org/schema/Geometry.json")}}
    for col in frame.columns:
        if col in ("id", "geometry"):
            continue
        props[col] = {"title": titles.get(col, col), "type": _JSON_TYPES[column_kind(frame[col])]}
        field = schema.field(col) if schema and col in schema.names else None
        if field is not None and field.choices:
            from layers.schemas import VOCABULARIES

            props[col]["enum"] = list(VOCABULARIES[field.choices])
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{base}/collections/{name}/queryables",
            "type": "object", "title": schema.label_zh if schema else name, "properties": props,
            "additionalProperties": False}


def feature_collections(store: LayerStore) -> list[str]:
    return [i.name for i in store.layers() if i.geometry_type in ("polygon", "point", "line")]


def collection_info(store: LayerStore, name: str, base: str) -> dict:
    info = store.info(name)
    if info.geometry_type not in ("polygon", "point", "line"):
        raise NotFoundError(f"no feature collection {name!r}; collections: {', '.join(feature_collections(store))}")
    frame = read_layer_cached(store, name)
    bbox = [round(float(v), 7) for v in frame.total_bounds] if len(frame) else [-180, -90, 180, 90]
    schema = SCHEMAS.get(info.kind)
    href = f"{base}/collections/{name}"
    return {
        "id": name, "title": schema.label_zh if schema else name,
        "description": f"{info.kind} · {info.feature_count} features · source: {info.source}"
                       + (" · synthetic" if info.synthetic else ""),
        "itemType": "feature",
        "extent": {"spatial": {"bbox": [bbox], "crs": CRS84}},
        "crs": SUPPORTED_CRS, "storageCrs": crs_uri(CGCS2000),
        "links": [
            {"href": href, "rel": "self", "type": "application/json", "title": name},
            {"href": f"{href}/items", "rel": "items", "type": "application/geo+json", "title": "items"},
            {"href": f"{href}/queryables", "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
             "type": "application/schema+json", "title": "what a filter may name"},
        ],
    }


@dataclass
class FeatureQuery:
    bbox: list[float] | None = None
    bbox_crs: int | None = None  # None = CRS84
    limit: int = 100
    offset: int = 0
    crs: int | None = None
    filters: dict[str, str] | None = None
    properties: list[str] | None = None
    ids: list[int] | None = None
    cql: str | None = None  # a CQL2 text filter (OGC API – Features Part 3)


def bbox_in_storage(bbox: list[float], bbox_crs: int | None) -> tuple[float, float, float, float]:
    """``bbox`` (4 or 6 numbers in ``bbox_crs``, None = CRS84) as lon/lat in the storage CRS;
    an InputError says what is wrong with it."""
    if len(bbox) not in (4, 6) or not all(math.isfinite(v) for v in bbox):
        raise InputError("bbox needs 4 (or 6) finite numbers: minx,miny,maxx,maxy")
    x0, y0, x1, y1 = (bbox[0], bbox[1], bbox[3], bbox[4]) if len(bbox) == 6 else bbox
    if bbox_crs is None or bbox_crs in (4326, CGCS2000):
        if bbox_crs in (4326, CGCS2000):  # authority order lat/lon
            x0, y0, x1, y1 = y0, x0, y1, x1
        if not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= 90 and -90 <= y1 <= 90):
            raise InputError(f"bbox {bbox} is not lon/lat degrees; pass bbox-crs for projected coordinates")
        if x0 > x1:
            raise InputError(f"bbox: minx {x0} is greater than maxx {x1}; give minx,miny,maxx,maxy "
                             "(a box across the antimeridian is not supported)")
        if y0 > y1:
            raise InputError(f"bbox: miny {y0} is greater than maxy {y1}; give minx,miny,maxx,maxy")
        return x0, y0, x1, y1
    # Projected GK CRSs list northing first in their authority order.
    tr = Transformer.from_crs(CRS.from_epsg(bbox_crs), CGCS2000, always_xy=False)
    lat0, lon0 = tr.transform(x0, y0)
    lat1, lon1 = tr.transform(x1, y1)
    if not all(math.isfinite(v) for v in (lat0, lon0, lat1, lon1)):
        raise InputError(f"bbox {bbox} is outside the area of EPSG:{bbox_crs}")
    return min(lon0, lon1), min(lat0, lat1), max(lon0, lon1), max(lat0, lat1)


def query_features(store: LayerStore, name: str, q: FeatureQuery) -> tuple[gpd.GeoDataFrame, int]:
    """The page of features asked for and how many match in all."""
    if name not in feature_collections(store):
        raise NotFoundError(f"no feature collection {name!r}; collections: {', '.join(feature_collections(store))}")
    if not 1 <= q.limit <= MAX_LIMIT:
        raise InputError(f"limit must be between 1 and {MAX_LIMIT}, got {q.limit}")
    if q.offset < 0:
        raise InputError(f"offset must be >= 0, got {q.offset}")
    bbox = bbox_in_storage(q.bbox, q.bbox_crs) if q.bbox is not None else None
    cql = parse_cql2(q.cql) if q.cql else None
    frame, matched = store.query(name, bbox=bbox, filters=q.filters, ids=q.ids, limit=q.limit, offset=q.offset,
                                 cql=cql)
    if q.properties is not None:
        check_properties(q.properties, frame.columns)
    return frame, matched


def check_properties(properties: list[str], columns) -> None:
    """An InputError naming the ``properties`` asked for that a layer with ``columns`` lacks."""
    unknown = [p for p in properties if p not in columns]
    if unknown:
        raise InputError(f"unknown properties {unknown}; available: {', '.join(c for c in columns if c != 'geometry')}")


def _swap(geoms):
    return shapely.transform(geoms, lambda c: c[:, ::-1])


def to_geojson_features(frame: gpd.GeoDataFrame, crs: int | None = None, properties: list[str] | None = None,
                        base: str | None = None, collection: str | None = None, precision: int | None = None
                        ) -> list[dict]:
    """GeoJSON features with coordinates in ``crs`` (None = CRS84 lon/lat) in its axis order."""
    geoms = frame.geometry.values
    if crs is not None and crs not in (4326, CGCS2000):
        tr = Transformer.from_crs(CGCS2000, CRS.from_epsg(crs), always_xy=True)
        geoms = shapely.transform(np.asarray(geoms), lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
        geoms = _swap(geoms)  # GK CRSs: northing, easting
        precision = 3 if precision is None else precision
    elif crs in (4326, CGCS2000):
        geoms = _swap(np.asarray(geoms))  # lat, lon
    precision = 7 if precision is None else precision
    geoms = shapely.set_precision(np.asarray(geoms), 10.0 ** -precision) if len(geoms) else geoms
    cols = [c for c in frame.columns if c not in ("geometry", "id")]
    if properties is not None:
        cols = [c for c in cols if c in properties]
    props = frame[cols].astype(object).where(frame[cols].notna(), None).to_dict(orient="records")
    ids = frame["id"].tolist() if "id" in frame.columns else list(range(len(frame)))
    out = []
    for fid, geom, prop in zip(ids, geoms, props, strict=True):
        feature = {"type": "Feature", "id": int(fid), "geometry": json.loads(shapely.to_geojson(geom)),
                   "properties": {k: _plain(v) for k, v in prop.items()}}
        if base and collection:
            feature["links"] = [{"href": f"{base}/collections/{collection}/items/{int(fid)}", "rel": "self",
                                 "type": "application/geo+json"}]
        out.append(feature)
    return out


def _plain(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return v
