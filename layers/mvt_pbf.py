"""The body of one Mapbox vector tile layer from geometries already in tile units: the
command streams of all features computed at once with numpy, the layer written in the
protobuf schema that mapbox-vector-tile ships (``vector_tile_pb2``, the maintained encoder
this store used to call per feature) by :mod:`layers.mvt_wire`.

Why not ``mapbox_vector_tile.encode`` itself: it walks every vertex and every property in
Python (``GeometryEncoder.encode_arc``, ``_handle_attr``); for a zoom-14 tile of 443 parcels
that was 12.9 ms of the tile's ~16 ms, and a map asks for six tiles at once. The rules are
the library's (MVT 2.1): rings without their closing vertex, repeated vertices dropped, a
ring or line left with fewer than two vertices dropped (a polygon whose exterior goes drops
its holes), one cursor per feature, feature ids ≥ 0 kept, values shared between features.
``tests/test_mvt_encoder.py`` decodes tiles of both encoders and compares them.

Geometry collections (clipping can leave one) keep their parts of the highest dimension, as
PostGIS's ``ST_AsMVTGeom`` does.
"""

from __future__ import annotations

__all__ = ["encode_layer"]

import contextlib
import math

import numpy as np
import pandas as pd
import shapely

from layers.mvt_wire import layer_bytes

_MOVE_TO, _LINE_TO, _CLOSE = 1, 2, 7
_POINT, _LINE, _POLYGON = 1, 2, 3
_FAMILY = {0: _POINT, 4: _POINT, 1: _LINE, 2: _LINE, 5: _LINE, 3: _POLYGON, 6: _POLYGON}
_MULTI = {_POINT: shapely.multipoints, _LINE: shapely.multilinestrings, _POLYGON: shapely.multipolygons}


def _command(cmd: int, count) -> np.ndarray:
    return (np.asarray(count, dtype=np.int64) << 3) | cmd


def _zigzag(v: np.ndarray) -> np.ndarray:
    return (v << 1) ^ (v >> 63)


def _flatten_collections(geoms: np.ndarray) -> np.ndarray:
    """Each geometry collection as the multi-geometry of its parts of the highest dimension,
    each linear ring as a line string."""
    geoms = geoms.copy()
    for i in np.flatnonzero(shapely.get_type_id(geoms) == 2):  # a LinearRing is drawn as a line
        geoms[i] = shapely.linestrings(shapely.get_coordinates(geoms[i]))
    for i in np.flatnonzero(shapely.get_type_id(geoms) == 7):
        parts = shapely.get_parts(shapely.get_parts(geoms[i]))  # members, then their parts
        parts = parts[~shapely.is_empty(parts)]
        if not len(parts):
            geoms[i] = None
            continue
        dims = shapely.get_dimensions(parts)
        family = _FAMILY[int(shapely.get_type_id(parts[np.argmax(dims)]))]
        geoms[i] = _MULTI[family](parts[dims == dims.max()])
    return geoms


def _cursor_deltas(xy: np.ndarray, feature_start: np.ndarray) -> np.ndarray:
    """Each vertex minus the one before it, the first vertex of a feature minus (0, 0)."""
    prev = np.zeros_like(xy)
    prev[1:] = xy[:-1]
    prev[feature_start] = 0
    return xy - prev


def _points(coords: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Commands of point features with ``counts`` points each: MoveTo(n) and n deltas."""
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    deltas = _zigzag(_cursor_deltas(coords, starts[counts > 0]))
    lengths = 1 + 2 * counts
    out = np.empty(int(lengths.sum()), dtype=np.int64)
    first = np.r_[0, np.cumsum(lengths)[:-1]]
    out[first] = _command(_MOVE_TO, counts)
    slot = np.repeat(first + 1 - 2 * starts, counts) + 2 * np.arange(len(coords))
    out[slot], out[slot + 1] = deltas[:, 0], deltas[:, 1]
    return out, lengths


def _paths(coords: np.ndarray, path_offsets: np.ndarray, path_feature: np.ndarray, n_features: int,
           closed: bool, exterior_of: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Commands of line (``closed`` False) or polygon features from their paths (lines or
    rings, in feature order). ``exterior_of``: for each ring, the index of its polygon's
    exterior ring (a hole goes with it)."""
    n_paths = len(path_offsets) - 1
    path = np.repeat(np.arange(n_paths), np.diff(path_offsets))
    keep = np.ones(len(coords), dtype=bool)
    if closed:  # MVT closes rings itself
        ends = path_offsets[1:][np.diff(path_offsets) > 0] - 1
        keep[ends] = False
    coords, path = coords[keep], path[keep]
    new_path = np.r_[True, path[1:] != path[:-1]]
    keep = new_path | np.r_[True, np.any(coords[1:] != coords[:-1], axis=1)]
    coords, path, new_path = coords[keep], path[keep], new_path[keep]
    k = np.bincount(path, minlength=n_paths)
    ok = k >= 2
    if exterior_of is not None:
        ok &= ok[exterior_of]
    if not ok.any():  # every path collapsed to a point
        return np.empty(0, dtype=np.int64), np.zeros(n_features, dtype=np.int64)
    keep = ok[path]
    coords, path, new_path = coords[keep], path[keep], new_path[keep]
    k = k[ok]
    feature = path_feature[ok]
    feature_start = np.r_[True, feature[1:] != feature[:-1]]
    first_vertex = np.flatnonzero(new_path)
    deltas = _zigzag(_cursor_deltas(coords, first_vertex[feature_start]))
    lengths = 2 * k + 2 + int(closed)
    first = np.r_[0, np.cumsum(lengths)[:-1]]
    out = np.empty(int(lengths.sum()), dtype=np.int64)
    out[first] = _command(_MOVE_TO, 1)
    out[first + 3] = _command(_LINE_TO, k - 1)
    if closed:
        out[first + lengths - 1] = _command(_CLOSE, 1)
    # vertex j of a path: j = 0 right after MoveTo, j ≥ 1 after the LineTo header
    j = np.arange(len(coords)) - np.repeat(first_vertex, k)
    slot = np.repeat(first, k) + 1 + 2 * j + (j > 0)
    out[slot], out[slot + 1] = deltas[:, 0], deltas[:, 1]
    return out, np.bincount(feature, weights=lengths, minlength=n_features).astype(np.int64)


def _family_commands(geoms: np.ndarray, family: int, extent: int) -> tuple[np.ndarray, np.ndarray]:
    """Commands of geometries of one family, and their length per geometry (0: dropped)."""
    kind, coords, offsets = shapely.to_ragged_array(geoms, include_z=False)
    xy = np.rint(coords).astype(np.int64)
    xy[:, 1] = extent - xy[:, 1]  # y down in tile space
    n = len(geoms)
    if family == _POINT:
        counts = np.diff(offsets[0]) if offsets else np.ones(n, dtype=np.int64)
        return _points(xy, counts.astype(np.int64))
    if family == _LINE:
        paths, per_geom = (offsets[0], offsets[1]) if len(offsets) == 2 else (offsets[0], np.arange(n + 1))
        return _paths(xy, paths, np.repeat(np.arange(n), np.diff(per_geom)), n, False, None)
    rings, ring_part = offsets[0], offsets[1]
    part_geom = offsets[2] if len(offsets) == 3 else np.arange(n + 1)
    part_of_ring = np.repeat(np.arange(len(ring_part) - 1), np.diff(ring_part))
    geom_of_part = np.repeat(np.arange(len(part_geom) - 1), np.diff(part_geom))
    return _paths(xy, rings, geom_of_part[part_of_ring], n, True, ring_part[:-1][part_of_ring])


#: Columns up to this long (a tile's) are factorized with a dict (:func:`_small_codes`).
_SMALL_COLUMN = 5000
_PLAIN_TYPES = {str, int, float, bool}


def _codes(column: np.ndarray) -> tuple[np.ndarray, list]:
    """Each value's index among the column's distinct values (-1: left out), and those values
    as plain Python scalars. Factorized by pandas (hashing in C) when long: a Python step per
    cell was most of the encoding of a tile of parcels with unique names."""
    if len(column) <= _SMALL_COLUMN and column.dtype.kind in "biufO":
        with contextlib.suppress(TypeError):  # an unhashable value: pandas says which
            return _small_codes(column)
    series = pd.Series(column)
    if series.dtype.kind in "mM":  # dates as their text, as pandas prints them
        series = series.astype(object)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    uniques = uniques.to_numpy()  # an Index for a Series
    if uniques.dtype.kind in "biuf":
        plain = uniques.tolist()  # Python scalars of the column's type
        if uniques.dtype.kind == "f" and not np.isfinite(uniques).all():
            plain = [v if math.isfinite(v) else None for v in plain]
    elif (kind := pd.api.types.infer_dtype(uniques, skipna=False)) == "string":
        plain = uniques.tolist()
    elif kind == "floating":
        plain = [float(v) if math.isfinite(v) else None for v in uniques.tolist()]
    else:
        plain = [_plain(v) for v in np.asarray(uniques, dtype=object)]
    if any(v is None for v in plain):  # inf, or a value pandas does not count as missing
        dropped = np.array([v is None for v in plain] + [True])
        codes = np.where(dropped[codes], -1, codes)
    return codes.astype(np.int64), plain


def _small_codes(column: np.ndarray) -> tuple[np.ndarray, list]:
    """:func:`_codes` of a short column with one dict look-up per cell: pandas took ~90 µs a
    column of a 432-parcel tile (six columns: 0.7 ms of the tile's ~7), nearly all of it
    fixed cost. Equal values of one column are one value, as pandas has them."""
    cells = column.tolist()  # Python scalars (objects stay as they are)
    if column.dtype.kind == "f" and not np.isfinite(column).all():
        cells = [v if math.isfinite(v) else None for v in cells]
    index: dict = {}
    codes = [index.setdefault(v, len(index)) for v in cells]
    plain = list(index)
    kinds = set(map(type, plain))
    if column.dtype.kind == "O" and (not kinds <= _PLAIN_TYPES or (
            float in kinds and not all(math.isfinite(v) for v in plain if type(v) is float))):
        plain = [_plain(v) for v in plain]  # NaN, inf, pd.NA, numpy scalars, dates as text
        kinds = set(map(type, plain))
    if type(None) in kinds:
        dropped = np.array([v is None for v in plain] + [True])
        return np.where(dropped[codes], -1, codes).astype(np.int64), plain
    return np.array(codes, dtype=np.int64), plain


def _plain(v):
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if isinstance(v, bool | int | float | str):
        return v
    return str(v)


def _tags(columns: dict[str, np.ndarray], keep: np.ndarray) -> tuple[list[str], list, np.ndarray, np.ndarray]:
    """The layer's keys and values, and each kept feature's tags (flat, and how many each
    has). A property that is None, NaN or not representable is left out of a feature's tags;
    values of columns of other types that are equal in Python (True, 1, 1.0) stay apart
    (mapbox-vector-tile merges them); within one column of mixed Python types pandas may
    merge them."""
    keys, values, pairs = [], [], []
    seen: dict[tuple[type, object], int] = {}
    for name, column in columns.items():
        codes, plain = _codes(np.asarray(column)[keep])
        if not (codes >= 0).any():
            continue
        # The last: left out (code -1).
        to_value = np.array([-1 if v is None else seen.setdefault((type(v), v), len(seen)) for v in plain] + [-1],
                            dtype=np.int64)
        keys.append(name)
        pairs.append((len(keys) - 1, to_value[codes]))
    values = [v for _, v in seen]  # in the order first seen
    n = int(keep.sum())
    if not pairs:
        return keys, values, np.empty(0, dtype=np.int64), np.zeros(n, dtype=np.int64)
    value = np.column_stack([v for _, v in pairs])  # feature × key
    key = np.broadcast_to(np.array([k for k, _ in pairs]), value.shape)
    present = value >= 0
    flat = np.column_stack([key[present], value[present]]).ravel()  # row-major: feature by feature
    return keys, values, flat, 2 * present.sum(axis=1)


def encode_layer(name: str, geoms: np.ndarray, ids: np.ndarray, columns: dict[str, np.ndarray],
                 extent: int) -> bytes:
    """One MVT tile holding layer ``name``: ``geoms`` in tile units (y up, integer grid,
    exterior rings counter-clockwise), feature ``ids`` and property ``columns`` (arrays as
    long as ``geoms``). Empty or missing geometries are left out; b"" when nothing is left."""
    geoms = np.asarray(geoms, dtype=object)
    if np.isin(shapely.get_type_id(geoms), (2, 7)).any():
        geoms = _flatten_collections(geoms)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    family = np.zeros(len(geoms), dtype=np.int64)
    family[present] = [_FAMILY[t] for t in shapely.get_type_id(geoms[present]).tolist()]
    lengths = np.zeros(len(geoms), dtype=np.int64)
    commands: dict[int, np.ndarray] = {}
    for kind in np.unique(family[present]).tolist():
        members = np.flatnonzero(family == kind)
        out, lengths[members] = _family_commands(geoms[members], kind, extent)
        commands[kind] = out
    keep = lengths > 0
    if not keep.any():
        return b""
    keys, values, tags, tag_counts = _tags(columns, keep)
    kept = np.flatnonzero(keep)
    order = np.argsort(family[kept], kind="stable")  # each family's commands, in feature order
    geometry = np.concatenate([commands[k] for k in sorted(commands)])
    starts = np.empty(len(kept), dtype=np.int64)
    starts[order] = np.cumsum(lengths[kept][order]) - lengths[kept][order]
    take = np.repeat(starts, lengths[kept]) + np.arange(int(lengths[kept].sum())) - np.repeat(
        np.cumsum(lengths[kept]) - lengths[kept], lengths[kept])
    fids = np.array([f if isinstance(f, int) and f >= 0 else -1 for f in np.asarray(ids)[keep].tolist()], dtype=object)
    has_id = fids != -1
    return layer_bytes(name, extent, keys, values, np.where(has_id, fids, 0), has_id, tags,
                       tag_counts, family[kept], geometry[take], lengths[kept])
