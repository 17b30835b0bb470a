"""Which version of a layer each of its vector tiles shows: an edit retires only the tiles it
touches.

A layer's tiles are cached per version (``layers.backends.base``). Keyed by the layer's
version alone, one edited parcel retired every tile of the layer, and the next map of every
planner re-encoded its whole view (500k parcels: ~6 ms a tile, 25 a view). GeoWebCache
truncates only the tiles a WFS-T transaction touches; so do we (``bench/bench_tile_edits.py``,
500k parcels, one parcel moved: the next overview encoded 1 of its 25 tiles, tile p50 in the
browser 6 ms against 18 when every tile was retired). The store keeps, beside
each layer's version, the version of its last whole write (the *base*) and, for each edit
since, the new version and the boxes of the features it changed (old and new geometry):
a tile is at the version of the newest edit whose box meets the tile's query box, else at
the base. A feature is in a tile only if its geometry meets that box (``encode_tile``
reads the layer with it), so its bounds do too: a tile no edit box meets is the tile of
the base.

Kept as JSON in the layer's metadata row (``tile_edits``; empty: every tile at the layer's
version), written in the edit's own transaction for the version it makes (text written for
another version is ignored). A whole write (import, copy) empties it.
It starts again from the layer's version (every tile retired) when it would hold more than
:data:`MAX_BOXES` boxes, and when the edit moves the layer's lowest tiled zoom
(:func:`layers.mvt.min_zoom` follows the feature count).
"""

from __future__ import annotations

__all__ = ["MAX_BOXES", "TileEdits", "edits_of", "after_edit", "box_union"]

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

#: Boxes kept before the tiles start again from the layer's version (~60 bytes each: the text is
#: read with the catalog, on PostGIS once a request).
MAX_BOXES = 256
#: An edit of more features than this keeps one box around all of them.
_BOXES_PER_EDIT = 64


@dataclass(frozen=True)
class TileEdits:
    """A layer's tile versions: ``base`` where no edit box meets a tile, else the version of
    the newest edit whose box does (``versions[i]`` for ``boxes[i]``, oldest first)."""

    base: str
    versions: tuple[str, ...]
    boxes: np.ndarray  # (n, 4): min x, min y, max x, max y (storage CRS)

    def tile_version(self, box: tuple[float, float, float, float]) -> str:
        """The version of the tile whose features are read with ``box`` (storage CRS)."""
        if not self.versions:
            return self.base
        x0, y0, x1, y1 = box
        b = self.boxes
        meets = np.flatnonzero((b[:, 2] >= x0) & (b[:, 0] <= x1) & (b[:, 3] >= y0) & (b[:, 1] <= y1))
        return self.versions[meets[-1]] if len(meets) else self.base

    def live(self) -> set[str]:
        """The versions some tile may be at (the others' cached tiles can go)."""
        return {self.base, *self.versions}


_PARSED: OrderedDict[tuple, TileEdits] = OrderedDict()
_PARSED_LOCK = threading.Lock()


def edits_of(uri: str, name: str, version: str, raw: str) -> TileEdits:
    """The tile versions of layer ``name`` at ``version`` from its ``tile_edits`` text,
    parsed once per layer version (every tile request asks)."""
    key = (uri, name, version)
    with _PARSED_LOCK:
        if key in _PARSED:
            _PARSED.move_to_end(key)
            return _PARSED[key]
    edits = _parse(version, raw)
    with _PARSED_LOCK:
        _PARSED[key] = edits
        while len(_PARSED) > 64:
            _PARSED.popitem(last=False)
    return edits


def _parse(version: str, raw: str) -> TileEdits:
    try:
        data = json.loads(raw) if raw else None
        # Written for another version: the layer changed since by a writer that does not keep
        # tile versions (an older release). Trusted then, it would keep tiles that changed.
        if data["at"] != version:
            raise ValueError("tile versions of another layer version")
        boxes = np.array([e[1:5] for e in data["edits"]], dtype=float).reshape(-1, 4)
        return TileEdits(str(data["base"]), tuple(str(e[0]) for e in data["edits"]), boxes)
    except (ValueError, TypeError, KeyError, IndexError):  # none, or written by hand: every tile at the version
        return TileEdits(version, (), np.empty((0, 4)))


def box_union(boxes: np.ndarray) -> list[float]:
    """The box around ``boxes`` ((n, 4), min x, min y, max x, max y)."""
    return [float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max())]


def after_edit(raw: str, old_version: str, new_version: str, boxes: np.ndarray | None,
               old_count: int, new_count: int) -> str:
    """The ``tile_edits`` text after an edit that made ``new_version`` of a layer at
    ``old_version`` (``raw`` its text before) and changed features within ``boxes`` ((n, 4),
    old and new geometries; None: unknown, every tile retired). "" starts again from the
    new version."""
    from layers.mvt import min_zoom

    if boxes is None or min_zoom(old_count) != min_zoom(new_count):
        return ""
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    boxes = boxes[np.isfinite(boxes).all(axis=1)]
    before = _parse(old_version, raw)  # no boxes left (no feature with a geometry changed): the same edits
    if len(boxes) > _BOXES_PER_EDIT:
        boxes = np.array([box_union(boxes)])
    if len(before.versions) + len(boxes) > MAX_BOXES:
        return ""
    # To a micro-degree (~0.1 m), outwards: a box still holds its features, in half the text.
    boxes = np.column_stack([np.floor(boxes[:, :2] * 1e6), np.ceil(boxes[:, 2:] * 1e6)]) / 1e6
    edits = [[v, *map(float, b)] for v, b in zip(before.versions, before.boxes, strict=True)]
    edits += [[new_version, *map(float, b)] for b in boxes]
    return json.dumps({"at": new_version, "base": before.base, "edits": edits}, separators=(",", ":"))
