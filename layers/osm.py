"""OpenStreetMap extracts (``.osm.pbf``/``.osm``) → a walkable ``roads`` layer and ``services``.

Read with pyosmium in one streaming pass (node locations kept in memory by osmium's own
index, tags filtered in C++ before Python sees them). pyosmium was chosen over GDAL's OSM
driver (no node ids, so ways cannot be split where they meet, and it bridges the nodes a
clipped extract lacks), pyrosm (loads the whole file, bridges gaps too) and QuackOSM
(duckdb + pyarrow, 46 packages): measured in the session note of 2026-11-30.

- Roads: the ways :file:`data/osm_walkable.csv` calls walkable, minus ``foot=no`` and
  ``access=private|no`` without ``foot=yes``; split at every node two ways share (where people
  can turn) and cut where a node is missing from the extract or lies outside ``bbox``; named
  ``name:zh`` then ``name``.
- Services: tagged nodes and areas (an area → a point inside it), mapped by
  :file:`data/osm_categories.csv`; what maps to nothing is counted by tag, never dropped
  silently.

OSM coordinates are WGS84; they are stored as CGCS2000 without a shift (the two frames differ
by centimetres, below what OSM positions carry).
"""

from __future__ import annotations

__all__ = ["OsmLayers", "read_osm", "load_category_rules", "load_walkable_rules"]

import array
import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from gis.errors import InputError
from layers.schemas import VOCABULARIES

POI_KEYS = ("amenity", "shop", "leisure", "healthcare", "social_facility", "public_transport", "railway", "highway")
_SCHOOL_LEVELS = {"1": "primary_school", "2": "middle_school", "3": "middle_school"}


@dataclass
class OsmLayers:
    """What an extract gave: the layers, and what was mapped and left out (tag → count)."""

    roads: gpd.GeoDataFrame | None = None
    services: gpd.GeoDataFrame | None = None
    mapped: Counter = field(default_factory=Counter)
    unmapped: Counter = field(default_factory=Counter)
    skipped_ways: Counter = field(default_factory=Counter)
    ways: int = 0
    cuts: int = 0

    def summary_lines(self) -> list[str]:
        lines = []
        if self.roads is not None:
            lines.append(f"roads: {self.ways} walkable ways → {len(self.roads)} segments split where ways meet; "
                         f"{self.cuts} cut at nodes missing from the extract or outside the box")
            lines += [f"  not walkable: {tag} × {n}" for tag, n in self.skipped_ways.most_common(10)]
        if self.services is not None:
            lines.append(f"services: {len(self.services)} mapped")
            zh = VOCABULARIES["service_category"]
            lines += [f"  {cat} ({zh.get(cat, cat)}): {n}" for cat, n in sorted(self.mapped.items())]
            lines += [f"  unmapped {tag}: {n}" for tag, n in self.unmapped.most_common()]
        return lines


def _read_table(path, default: str) -> list[dict]:
    text = Path(path).read_text(encoding="utf-8-sig") if path else \
        resources.files("layers").joinpath(f"data/{default}").read_text(encoding="utf-8")
    rows = [line for line in io.StringIO(text) if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(rows))


def load_walkable_rules(path=None) -> dict[str, str | None]:
    """highway value → road_class (None: not walkable)."""
    rules = {}
    for row in _read_table(path, "osm_walkable.csv"):
        if {"highway", "road_class", "walkable"} - set(row):
            raise InputError("a walkable-ways table needs the columns highway, road_class, walkable")
        walkable = row["walkable"].strip().lower() in ("yes", "true", "1")
        if walkable and row["road_class"] not in VOCABULARIES["road_class"]:
            raise InputError(f"walkable table: highway={row['highway']} has road_class {row['road_class']!r}; "
                             f"use one of {', '.join(VOCABULARIES['road_class'])}")
        rules[row["highway"].strip()] = row["road_class"].strip() if walkable else None
    return rules


def load_category_rules(path=None) -> list[tuple[str, str, list[tuple[str, str]], str]]:
    """(key, value, when [(k, v)], category) rows in the order they are tried."""
    allowed = set(VOCABULARIES["service_category"]) | {"school"}
    out = []
    for i, row in enumerate(_read_table(path, "osm_categories.csv"), start=1):
        if {"key", "value", "category"} - set(row):
            raise InputError("a categories table needs the columns key, value, when, category")
        if row["category"] not in allowed:
            raise InputError(f"categories table row {i}: unknown category {row['category']!r}; use one of "
                             f"{', '.join(sorted(allowed))}")
        when = [tuple(t.split("=", 1)) for t in (row.get("when") or "").split(";") if "=" in t]
        out.append((row["key"].strip(), row["value"].strip(), when, row["category"]))
    return out


class _CategoryRules:
    """The table's rows indexed by key: a feature is tried against the rows of the keys it
    has (in table order), which keeps the per-feature Python work to a few tag look-ups."""

    def __init__(self, rows: list):
        self.by_key: dict[str, list] = {}
        for index, (key, value, when, category) in enumerate(rows):
            self.by_key.setdefault(key, []).append((index, value, when, category))
        self.keys = tuple(dict.fromkeys([*self.by_key, *POI_KEYS]))

    def match(self, tags) -> tuple[str | None, str | None]:
        """(category, None), or (None, the tag reported as unmapped), or (None, None) if the
        feature is no facility at all."""
        present = [(k, tags[k]) for k in self.keys if k in tags]
        best = None
        for key, v in present:
            for index, value, when, category in self.by_key.get(key, ()):
                if (value == "*" or v == value) and all(tags.get(k) == w for k, w in when):
                    if best is None or index < best[0]:
                        best = (index, category)
                    break
        if best is None:
            poi = next(((k, v) for k, v in present if k != "highway" and k in POI_KEYS), None)
            return None, (f"{poi[0]}={poi[1]}" if poi else None)
        if best[1] != "school":
            return best[1], None
        level = _SCHOOL_LEVELS.get((tags.get("isced:level") or "").split(";")[0].strip())
        name = tags.get("name:zh") or tags.get("name") or ""
        level = level or ("primary_school" if "小学" in name else
                          "middle_school" if any(s in name for s in ("中学", "初中", "高中")) else None)
        return (level, None) if level else (None, "amenity=school (level unknown)")


def read_osm(path, *, bbox=None, layers=("roads", "services"), categories=None, walkable=None,
             progress=None) -> OsmLayers:
    """Walkable roads and mapped services of an OSM extract (see the module docstring).

    Parameters
    ----------
    path : str or Path
        ``.osm.pbf`` or ``.osm`` file.
    bbox : (W, S, E, N) degrees, optional
        Keep what lies inside; streets are cut where they leave it.
    layers : which of "roads", "services" to build.
    categories, walkable : optional CSV files replacing the shipped tables.
    progress : a tqdm-like object, advanced per object read.
    """
    import osmium
    from osmium.filter import EntityFilter, KeyFilter
    from osmium.osm import AREA, NODE, WAY

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path.name} is not a file; pass an .osm.pbf extract")
    rules, classes = _CategoryRules(load_category_rules(categories)), load_walkable_rules(walkable)
    out, ways, pois = OsmLayers(), _Ways(), []
    fp = osmium.FileProcessor(str(path)).with_locations()
    if "services" in layers:
        fp = fp.with_areas(KeyFilter(*POI_KEYS))
    fp = fp.with_filter(EntityFilter(NODE | WAY | AREA)).with_filter(KeyFilter("highway").enable_for(WAY)) \
        .with_filter(KeyFilter(*POI_KEYS).enable_for(NODE | AREA))
    wkb = osmium.geom.WKBFactory()
    try:
        for obj in fp:
            if progress is not None:
                progress.update(1)
            if obj.is_way() and "roads" in layers:
                ways.add(obj, classes, out.skipped_ways)
            elif (obj.is_node() or obj.is_area()) and "services" in layers:
                category, unmapped = rules.match(obj.tags)
                if unmapped:
                    out.unmapped[unmapped] += 1
                if category:
                    geom = shapely.Point(obj.location.lon, obj.location.lat) if obj.is_node() else \
                        shapely.point_on_surface(shapely.from_wkb(wkb.create_multipolygon(obj)))
                    pois.append((obj.tags.get("name:zh") or obj.tags.get("name"), category, geom))
    except RuntimeError as ex:  # osmium's own "bad input" errors
        raise InputError(f"{path.name} is not a readable OSM file ({ex})") from ex
    if "roads" in layers:
        out.roads, out.ways, out.cuts = ways.frame(bbox)
    if "services" in layers:
        out.services = _services_frame(pois, bbox)
        out.mapped = Counter(out.services["category"])
    return out


def _services_frame(pois: list, bbox) -> gpd.GeoDataFrame:
    zh = VOCABULARIES["service_category"]
    frame = gpd.GeoDataFrame(
        {"name": [n or f"{zh[c]}（未命名）" for n, c, _ in pois], "category": [c for _, c, _ in pois]},
        geometry=[g for _, _, g in pois], crs=4490)
    if bbox is not None:
        frame = frame[frame.within(shapely.box(*bbox))].reset_index(drop=True)
    return frame


class _Ways:
    """Walkable ways as flat arrays (node refs, locations, where each way starts)."""

    def __init__(self):
        self.refs, self.lon, self.lat = array.array("q"), array.array("d"), array.array("d")
        self.starts, self.names, self.classes = array.array("q", [0]), [], []

    def add(self, way, classes: dict, skipped: Counter) -> None:
        tags = way.tags
        highway = tags.get("highway")
        road_class = classes.get(highway)
        foot = tags.get("foot")
        if road_class is None or foot == "no" or (tags.get("access") in ("private", "no") and foot != "yes"):
            reason = f"highway={highway}" if road_class is None else \
                "foot=no" if foot == "no" else f"access={tags.get('access')}"
            skipped[reason] += 1
            return
        for node in way.nodes:
            self.refs.append(node.ref)
            loc = node.location
            valid = loc.valid()
            self.lon.append(loc.lon if valid else np.nan)
            self.lat.append(loc.lat if valid else np.nan)
        self.starts.append(len(self.refs))
        self.names.append(tags.get("name:zh") or tags.get("name"))
        self.classes.append(road_class)

    def frame(self, bbox) -> tuple[gpd.GeoDataFrame, int, int]:
        refs, starts = np.frombuffer(self.refs, np.int64), np.frombuffer(self.starts, np.int64)
        xy = np.column_stack([np.frombuffer(self.lon), np.frombuffer(self.lat)])
        ok = np.isfinite(xy).all(axis=1)
        if bbox is not None:
            w, s, e, n = bbox
            ok &= (xy[:, 0] >= w) & (xy[:, 0] <= e) & (xy[:, 1] >= s) & (xy[:, 1] <= n)
        pieces, cuts = split_ways(refs, starts, ok)
        way_of, first, last = pieces
        coords, index = _piece_coords(xy, first, last)
        geoms = shapely.linestrings(coords, indices=index) if len(first) else []
        frame = gpd.GeoDataFrame({"name": np.asarray(self.names, dtype=object)[way_of] if len(first) else [],
                                  "road_class": np.asarray(self.classes, dtype=object)[way_of] if len(first) else []},
                                 geometry=geoms, crs=4490)
        return frame, len(starts) - 1, cuts


def split_ways(refs: np.ndarray, starts: np.ndarray, ok: np.ndarray):
    """Pieces of ways split at shared nodes and cut at unusable ones (``ok`` False).

    Returns ((way index, first ref position, last ref position) per piece, number of cuts).
    A node is shared when two uses of it are usable, the repeated closing node of a ring not
    counted. Pieces of fewer than two usable nodes are dropped.

    Examples
    --------
    >>> refs = np.array([1, 2, 3, 2, 4, 5, 9, 6]); starts = np.array([0, 3, 8])
    >>> ok = refs != 9                      # node 9 is missing from the extract
    >>> (way, first, last), cuts = split_ways(refs, starts, ok)
    >>> way.tolist(), first.tolist(), last.tolist(), cuts
    ([0, 0, 1], [0, 1, 3], [1, 2, 5], 1)
    """
    n_ways = len(starts) - 1
    way_of = np.repeat(np.arange(n_ways), np.diff(starts))
    closing = np.zeros(len(refs), bool)
    ring = (np.diff(starts) > 1) & (refs[starts[:-1]] == refs[np.maximum(starts[1:] - 1, 0)])
    closing[starts[1:][ring] - 1] = True
    uniq, counts = np.unique(refs[ok & ~closing], return_counts=True)
    shared = np.isin(refs, uniq[counts > 1])
    # Pairs of consecutive usable nodes of one way are the edges; a piece starts at a way's
    # first edge, after a gap, or at a shared node.
    pair = np.flatnonzero((way_of[:-1] == way_of[1:]) & ok[:-1] & ok[1:]) if len(refs) > 1 else np.zeros(0, int)
    new = np.ones(len(pair), bool)
    new[1:] = (pair[1:] != pair[:-1] + 1) | shared[pair[1:]]
    piece = np.cumsum(new) - 1
    first = pair[new]
    last = np.zeros(len(first), np.int64)
    np.maximum.at(last, piece, pair + 1)
    return (way_of[first], first, last), int((~ok).sum())


def _piece_coords(xy: np.ndarray, first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lengths = last - first + 1
    index = np.repeat(np.arange(len(first)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return xy[np.repeat(first, lengths) + offsets], index

