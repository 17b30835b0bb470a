"""The protobuf wire bytes of one Mapbox vector tile layer, written with numpy.

Why not the protobuf library (``vector_tile_pb2``, which ``layers.mvt_pbf`` filled before):
it takes one Python call per feature and per value (``features.add``, ``values.add``), and
a zoom-14 tile of 425 parcels with unique names and areas holds ~1,300 values: those calls
were 3.3 ms of the tile's 7.6. Here every number of the features (ids, tags, commands and
the lengths that frame them) is one varint stream encoded at once; only the values table
takes a Python step per value. The bytes are those ``SerializeToString`` writes for the same
message (fields in number order, packed repeated fields, explicit proto2 fields kept):
``tests/test_mvt_encoder.py`` parses ours with the library and serializes them again.
"""

from __future__ import annotations

__all__ = ["layer_bytes"]

import struct

import numpy as np

# Field keys, (number << 3) | wire type: all below 128, so each is its own one-byte varint.
_FEATURE, _F_ID, _F_TAGS, _F_TYPE, _F_GEOMETRY = 0x12, 0x08, 0x12, 0x18, 0x22
_L_NAME, _L_KEY, _L_VALUE, _L_EXTENT, _L_VERSION, _TILE_LAYER = 0x0A, 0x1A, 0x22, 0x28, 0x78, 0x1A
_V_STRING, _V_DOUBLE, _V_INT, _V_BOOL = 0x0A, 0x19, 0x20, 0x38
_INT64 = (-(2**63), 2**63 - 1)


def varint_sizes(v: np.ndarray) -> np.ndarray:
    """Bytes of each non-negative value as a varint (1 … 10)."""
    v = np.asarray(v, dtype=np.uint64)
    n = np.ones(len(v), dtype=np.int64)
    for k in range(1, 10):
        n += v >= np.uint64(1 << (7 * k))
    return n


def varints(v: np.ndarray) -> bytes:
    """Non-negative integers as consecutive varints: seven bits a byte, low bits first, the
    high bit set on every byte but a value's last."""
    v = np.asarray(v, dtype=np.uint64)
    n = varint_sizes(v)
    k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)  # byte k of its value
    out = ((np.repeat(v, n) >> (7 * k).astype(np.uint64)) & np.uint64(0x7F)).astype(np.uint8)
    out[k < np.repeat(n - 1, n)] |= 0x80
    return out.tobytes()


def _varint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _interleave(blocks: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Per feature, its segment of each block in block order: ``blocks`` are (values of all
    features, how many each feature has)."""
    counts = np.stack([c for _, c in blocks], axis=1)
    total = counts.sum(axis=1)
    at = (np.cumsum(total) - total)[:, None] + (np.cumsum(counts, axis=1) - counts)  # segment starts
    out = np.empty(int(total.sum()), dtype=np.uint64)
    for b, (values, c) in enumerate(blocks):
        out[np.repeat(at[:, b] - (np.cumsum(c) - c), c) + np.arange(int(c.sum()))] = values
    return out


def _features(ids: np.ndarray, has_id: np.ndarray, tags: np.ndarray, tag_counts: np.ndarray,
              types: np.ndarray, geometry: np.ndarray, geometry_counts: np.ndarray) -> bytes:
    """The layer's repeated ``features`` field: each feature's id (where ``has_id``), packed
    tags, type and packed command stream; ``tags`` and ``geometry`` hold all features' in order."""
    def per_feature(sizes: np.ndarray, counts: np.ndarray) -> np.ndarray:
        owner = np.repeat(np.arange(len(counts)), counts)
        return np.bincount(owner, weights=sizes, minlength=len(counts)).astype(np.int64)

    has_id = has_id.astype(bool)
    tag_bytes = per_feature(varint_sizes(tags), tag_counts)
    geometry_bytes = per_feature(varint_sizes(geometry), geometry_counts)
    has_tags = tag_counts > 0
    body = (has_id * (1 + varint_sizes(ids)) + has_tags * (1 + varint_sizes(tag_bytes) + tag_bytes)
            + 2 + 1 + varint_sizes(geometry_bytes) + geometry_bytes)
    n = len(ids)
    head = np.column_stack([np.full(n, _FEATURE), body, np.full(n, _F_ID), ids, np.full(n, _F_TAGS), tag_bytes])
    keep = np.column_stack([np.ones((n, 2), bool), has_id, has_id, has_tags, has_tags])
    middle = np.column_stack([np.full(n, _F_TYPE), types, np.full(n, _F_GEOMETRY), geometry_bytes])
    stream = _interleave([(head[keep], keep.sum(axis=1)), (tags, tag_counts),
                          (middle.ravel(), np.full(n, 4)), (geometry, geometry_counts)])
    return varints(stream)


_SMALL = [bytes((i,)) for i in range(128)]  # the one-byte varints
_DOUBLE_HEAD = np.array([_L_VALUE, 9, _V_DOUBLE], dtype=np.uint8)


def _values(values: list) -> bytes:
    """The layer's ``values`` field: one ``Value`` message each, with its key and length.
    Runs of floats (areas, ratios: most of a parcel tile's values) are written by numpy."""
    out, i, n = [], 0, len(values)
    while i < n:
        j = i
        while j < n and type(values[j]) is float:
            j += 1
        if j > i:
            block = np.empty((j - i, 11), dtype=np.uint8)
            block[:, :3] = _DOUBLE_HEAD
            block[:, 3:] = np.array(values[i:j], dtype="<f8").view(np.uint8).reshape(-1, 8)
            out.append(block.tobytes())
            i = j
            continue
        out.append(_value(values[i]))
        i += 1
    return b"".join(out)


def _value(v) -> bytes:
    """One ``Value`` message with its field key and length (bool, int, float or text)."""
    if type(v) is str:
        text = v.encode()
        if len(text) < 126:
            return b"\x22" + _SMALL[len(text) + 2] + b"\x0a" + _SMALL[len(text)] + text
        body = b"\x0a" + _varint(len(text)) + text
    elif isinstance(v, bool):
        body = bytes((_V_BOOL, int(v)))
    elif isinstance(v, int):
        if not _INT64[0] <= v <= _INT64[1]:
            raise ValueError(f"Value out of range: {v}")
        body = bytes((_V_INT,)) + _varint(v & 0xFFFFFFFFFFFFFFFF)  # negatives: ten bytes, two's complement
    elif isinstance(v, float):
        body = bytes((_V_DOUBLE,)) + struct.pack("<d", v)
    else:
        raise TypeError(f"a tile value is a bool, int, float or str, not {type(v).__name__}")
    return bytes((_L_VALUE,)) + _varint(len(body)) + body


def _string(key: int, text: str) -> bytes:
    data = text.encode()
    return bytes((key,)) + _varint(len(data)) + data


def layer_bytes(name: str, extent: int, keys: list[str], values: list, ids: np.ndarray, has_id: np.ndarray,
                tags: np.ndarray, tag_counts: np.ndarray, types: np.ndarray, geometry: np.ndarray,
                geometry_counts: np.ndarray) -> bytes:
    """A whole tile holding one layer (version 2): ``keys`` and ``values`` its tables (values
    as Python bool, int, float or str); per feature its id (kept where ``has_id``), its tag
    indexes (``tag_counts`` of the flat ``tags``), its type and its command stream (likewise)."""
    layer = b"".join([
        _string(_L_NAME, name),
        _features(*(np.asarray(a, dtype=np.int64) for a in (ids, has_id, tags, tag_counts, types, geometry,
                                                              geometry_counts))),
        *(_string(_L_KEY, k) for k in keys),
        _values(values),
        bytes((_L_EXTENT,)) + _varint(extent),
        bytes((_L_VERSION, 2)),
    ])
    return bytes((_TILE_LAYER,)) + _varint(len(layer)) + layer
