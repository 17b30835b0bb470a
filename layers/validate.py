"""Validate an input layer as a whole before anything is written.

Every problem is collected with its row (1-based, as in the file) and field, so a planner
can fix the file in one pass. Repairs that lose nothing (``make_valid`` on a
self-intersecting ring, Chinese labels of vocabulary values) are applied and reported.

What is refused, each as a row-and-field problem rather than an exception:

- coordinates that are NaN or ±Infinity (JSON parsers accept ``NaN``/``Infinity``), checked
  on the coordinates as given, before any conversion or degree-range check;
- geometries GEOS calls invalid and ``make_valid`` cannot turn into the layer's geometry
  type (a ring of fewer than 4 points, a line of one repeated point);
- numbers outside the field's range (:data:`layers.field_numbers._RANGES`), infinite, or
  beyond what an integer column holds (±2**53 where a field has no range of its own);
- property values that are nested objects or lists. They are **refused, not stored as JSON
  text**: the store, Shapefile/CSV exports and the offices' spreadsheets all hold flat
  values, and a silent ``str(dict)`` would come back as text nobody asked for;
- text that cannot be encoded as UTF-8 (a lone surrogate such as U+D800, which
  ``json.loads`` accepts from ``"\\ud800"``), in values or in column names.
"""

from __future__ import annotations

__all__ = ["ValidatedLayer", "validate_layer", "CHINA_BOUNDS"]

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import CGCS2000, CHINA_BOUNDS, CRSSpec, metric_crs, parse_crs
from gis.errors import CRSError, InputError, Problem, ValidationError
from gis.units import M2_PER_MU
from layers.cells import check_cells, check_column_names
from layers.field_numbers import check_numbers
from layers.schemas import VOCABULARIES, VOCABULARY_ALIASES, LayerSchema, schema_for

log = logging.getLogger(__name__)

_GEOM_TYPES = {"polygon": {3, 6}, "point": {0}, "line": {1, 5}}
_GEOM_NAMES = {"polygon": "Polygon/MultiPolygon", "point": "Point", "line": "LineString/MultiLineString"}
_AREA_ALIASES = {"面积": "area_m2", "占地面积": "area_mu", "用地面积": "area_mu", "面积(亩)": "area_mu",
                 "面积（亩）": "area_mu", "面积(平方米)": "area_m2", "shape_area": "area_m2"}
_AREA_TOLERANCE = 0.05
_TRUE = {"true", "1", "yes", "y", "t", "是", "真"}
_FALSE = {"false", "0", "no", "n", "f", "否", "假", ""}
_MAX_LISTED = 50


@dataclass
class ValidatedLayer:
    """A layer that passed validation, in EPSG:4490, with what was repaired or noticed."""

    kind: str
    frame: gpd.GeoDataFrame | pd.DataFrame
    source_crs: str | None = None
    repaired: list[Problem] = field(default_factory=list)
    notices: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{len(self.frame)} {self.kind} features valid"]
        if self.repaired:
            parts.append(f"{len(self.repaired)} geometries repaired")
        if self.notices:
            parts.append(f"{len(self.notices)} notices")
        return ", ".join(parts)


def validate_layer(frame, kind: str, *, crs=None, check=None) -> ValidatedLayer:
    """Check ``frame`` against the schema of ``kind``; return it cleaned, in EPSG:4490.

    Parameters
    ----------
    frame : GeoDataFrame or DataFrame
        The features as read from the file.
    kind : str
        A layer kind from :data:`layers.schemas.SCHEMAS`.
    crs : str, int or CRSSpec, optional
        The CRS the coordinates are really in; overrides the file's own (use it for
        GCJ-02/BD-09 data copied from web maps, or files without a ``.prj``).
    check : callable, optional
        ``check(frame, problems, notices)``: a whole-table check against other layers (the
        progress layer against the renewal areas), run once the fields are read, adding its
        problems and notices to the same report.

    Raises
    ------
    ValidationError
        With every problem found (row and field named). Nothing is to be written then.
    CRSError
        When the CRS is missing or does not fit the coordinates.
    """
    schema = schema_for(kind)
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"'frame' should be a GeoDataFrame or DataFrame, got {type(frame).__name__}")
    if len(frame) == 0:
        raise ValidationError(f"the input has no features; nothing to import as {kind}")
    frame = _rename_aliases(frame.copy(), schema)
    problems: list[Problem] = []
    repaired: list[Problem] = []
    notices: list[Problem] = []
    source_crs = None
    if schema.geometry is not None:
        if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
            raise ValidationError(f"{kind} needs geometries ({_GEOM_NAMES[schema.geometry]}); the input has none")
        spec = _source_crs(frame, crs)
        source_crs = spec.name
        geoms = _check_geometries(frame.geometry.values, schema, problems, repaired, spec)
        frame = gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name), geometry=geoms, crs=CGCS2000)
    problems += check_column_names(frame)
    cell_problems = check_cells(frame)
    field_problems: list[Problem] = []
    _check_fields(frame, schema, field_problems)
    # A cell refused above was emptied; do not also call it empty or not a number.
    refused = {(p.row, p.field) for p in cell_problems}
    problems += cell_problems + [p for p in field_problems if (p.row, p.field) not in refused]
    if check is not None and all(f.name in frame for f in schema.fields if f.required):
        check(frame, problems, notices)
    if problems:
        raise ValidationError(
            f"{kind}: {len(problems)} problem(s) found; nothing was written. Fix these and import again:",
            problems,
        )
    if schema.geometry == "polygon":
        _compute_areas(frame, notices)
    frame = frame.reset_index(drop=True)
    return ValidatedLayer(kind, frame, source_crs, repaired, notices)


def _rename_aliases(frame: pd.DataFrame, schema: LayerSchema) -> pd.DataFrame:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    renames = {}
    for f in schema.fields:
        if f.name in frame.columns:
            continue
        for candidate in (f.shp_name, *f.aliases, f.label_zh):
            if candidate and candidate.lower() in lower and lower[candidate.lower()] not in renames:
                renames[lower[candidate.lower()]] = f.name
                break
    for alias, target in _AREA_ALIASES.items():
        if alias in lower and target not in frame.columns and target not in renames.values():
            renames[lower[alias]] = target
    return frame.rename(columns=renames)


def _source_crs(frame: gpd.GeoDataFrame, crs) -> CRSSpec:
    if crs is not None:
        spec = parse_crs(crs)
        if frame.crs is not None and not spec.offset and not spec.crs.equals(frame.crs):
            log.info("using the CRS given (%s) instead of the file's (%s)", spec.name, frame.crs.to_string())
        return spec
    if frame.crs is None:
        raise CRSError(
            "the file has no CRS (a Shapefile without .prj, or CSV coordinates); pass one with "
            "--crs: an EPSG code such as 4490 or 4547, or wgs84, cgcs2000, gcj02 (Amap), bd09 (Baidu)"
        )
    return parse_crs(frame.crs)


def _rows(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask) + 1


def _nonfinite_rows(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with a NaN or ±Infinity x or y, and one such coordinate pair for each row.

    One ``get_coordinates`` pass over all rows; the per-row work is only for bad rows.
    """
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    finite = np.isfinite(coords).all(axis=1)
    rows = np.zeros(len(geoms), bool)
    if finite.all():
        return rows, np.empty(0, np.intp), np.empty((0, 2))
    bad = np.flatnonzero(~finite)
    first_rows, first = np.unique(index[bad], return_index=True)
    rows[first_rows] = True
    return rows, first_rows, coords[bad[first]]


def _xy(c: np.ndarray) -> str:
    return f"x={float(c[0])!r}, y={float(c[1])!r}"


def _check_geometries(source, schema, problems, repaired, spec) -> np.ndarray:
    source = np.asarray(source, dtype=object)
    missing = shapely.is_missing(source) | shapely.is_empty(source)
    problems += [Problem(int(r), "geometry", "empty or missing geometry") for r in _rows(missing)]
    type_ids = shapely.get_type_id(source)
    # NaN/Infinity first: they are neither "outside China" nor "not degrees", and the datum
    # shifts would only spread them.
    nonfinite, bad_rows, bad_xy = _nonfinite_rows(source)
    for i, c in zip(bad_rows[:_MAX_LISTED], bad_xy[:_MAX_LISTED], strict=False):
        problems.append(Problem(int(i) + 1, "geometry", f"coordinate {_xy(c)} is not a finite number (NaN or "
                                "Infinity); every vertex needs numeric x and y"))
    if len(bad_rows) > _MAX_LISTED:
        problems.append(Problem(None, "geometry", f"{len(bad_rows) - _MAX_LISTED} more features with coordinates "
                                "that are not finite numbers"))
    to_convert = source
    if nonfinite.any():
        to_convert = source.copy()
        to_convert[nonfinite] = None
    geoms = np.array(spec.to_cgcs2000(to_convert), dtype=object)
    lost = np.zeros(len(geoms), bool)
    if spec.offset or spec.crs.to_epsg() != CGCS2000:
        # Finite input that the transformation could not map (outside the CRS's domain).
        lost, lost_rows, _ = _nonfinite_rows(geoms)
        for i in lost_rows[:_MAX_LISTED]:
            b = shapely.bounds(source[i])
            problems.append(Problem(int(i) + 1, "geometry", f"coordinates x={b[0]:.1f}, y={b[1]:.1f} cannot be "
                                    f"converted from {spec.name} to CGCS2000 (the result is not a finite number); "
                                    "check the CRS"))
    # A single-part multipoint is a point written by a tool that always writes multi-types.
    single_multipoint = (type_ids == 4) & (shapely.get_num_geometries(source) == 1) & ~nonfinite & ~lost
    if schema.geometry == "point" and single_multipoint.any():
        geoms[single_multipoint] = shapely.get_geometry(geoms[single_multipoint], 0)
        type_ids = np.where(single_multipoint, 0, type_ids)
    wrong = ~missing & ~np.isin(type_ids, list(_GEOM_TYPES[schema.geometry]))
    for r in _rows(wrong):
        problems.append(Problem(int(r), "geometry", f"is a {source[r - 1].geom_type}, "
                                f"but {schema.kind} needs {_GEOM_NAMES[schema.geometry]}"))
    ok = ~missing & ~wrong & ~nonfinite & ~lost
    if not ok.any():
        return geoms
    inside = _check_inside_china(geoms, ok, spec, problems)
    invalid = ok & inside & ~shapely.is_valid(geoms)
    for i in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[i])
        fixed = shapely.make_valid(geoms[i])
        fixed = _keep_family(fixed, schema.geometry)
        if fixed is None or fixed.is_empty:
            hint = ""
            if reason.startswith("Too few points"):
                hint = ("; a polygon ring needs at least 4 points (3 corners and the first repeated last), "
                        "a line at least 2 distinct points")
            problems.append(Problem(int(i) + 1, "geometry", f"invalid ({reason}) and cannot be repaired{hint}"))
        else:
            geoms[i] = fixed
            repaired.append(Problem(int(i) + 1, "geometry", f"repaired with make_valid: {reason}"))
    return geoms


def _check_inside_china(geoms: np.ndarray, ok: np.ndarray, spec: CRSSpec, problems: list[Problem]) -> np.ndarray:
    """Report the ``ok`` features outside China, saying why if the cause is plain; the rows inside."""
    bounds = shapely.bounds(geoms)
    x0, y0, x1, y1 = CHINA_BOUNDS
    with np.errstate(invalid="ignore"):
        inside = (bounds[:, 0] >= x0) & (bounds[:, 2] <= x1) & (bounds[:, 1] >= y0) & (bounds[:, 3] <= y1)
        swapped = (bounds[:, 1] >= x0) & (bounds[:, 3] <= x1) & (bounds[:, 0] >= y0) & (bounds[:, 2] <= y1)
        not_geographic = (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1) | (np.abs(bounds[:, [1, 3]]) > 90).any(axis=1)
    outside = ok & ~inside
    for r in _rows(outside)[:50]:
        b = bounds[r - 1]
        if swapped[r - 1]:
            msg = (f"longitude and latitude look swapped (x={b[0]:.5f}, y={b[1]:.5f}: x is a latitude, "
                   "y a longitude); put longitude first (x = lon, y = lat)")
        elif not_geographic[r - 1]:
            msg = (f"coordinates x={b[0]:.1f}, y={b[1]:.1f} are not degrees, but the CRS is {spec.name}; "
                   "the data looks projected: pass its CRS, e.g. --crs 4547 (CGCS2000 GK CM 114°E)")
        else:
            msg = (f"lies outside China (x={b[0]:.5f}, y={b[1]:.5f} after converting from {spec.name}); "
                   "check the CRS")
        problems.append(Problem(int(r), "geometry", msg))
    if outside.sum() > 50:
        problems.append(Problem(None, "geometry", f"{int(outside.sum()) - 50} more features outside China"))
    return inside


def _keep_family(geom, family: str):
    if geom is None:
        return None
    parts = shapely.get_parts(geom)
    wanted = [p for p in parts if shapely.get_type_id(p) in _GEOM_TYPES[family] or
              (family == "polygon" and p.geom_type == "MultiPolygon")]
    if not wanted:
        return None
    if family == "polygon":
        merged = shapely.union_all(wanted)
        return merged if merged.geom_type in ("Polygon", "MultiPolygon") else None
    if family == "line":
        return shapely.line_merge(shapely.multilinestrings(wanted)) if len(wanted) > 1 else wanted[0]
    return wanted[0]


def _check_fields(frame: pd.DataFrame, schema: LayerSchema, problems: list[Problem]) -> None:
    for f in schema.fields:
        if f.name in ("area_m2", "area_mu") and schema.geometry == "polygon":
            continue
        if f.name not in frame.columns:
            if f.required:
                names = " or ".join(repr(n) for n in (f.name, *f.aliases[:2]))
                problems.append(Problem(None, f.name, f"required column missing; add a column named {names}"))
            else:
                frame[f.name] = f.default
            continue
        col = frame[f.name]
        numeric_input = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if numeric_input:
            text, empty = None, col.isna()
        else:
            text = col.astype("string").str.strip()
            empty = text.isna() | (text == "")
        if f.required:
            problems += [Problem(int(r), f.name, "empty value in a required field") for r in _rows(empty.to_numpy())[:50]]
        if f.dtype in ("int", "float"):
            check_numbers(frame, f, text, empty, problems)
        elif f.dtype == "bool":
            if pd.api.types.is_bool_dtype(col):
                frame[f.name] = col.fillna(False).astype(bool)
                continue
            lowered = (text if text is not None else col.astype("string")).str.lower().fillna("")
            bad = ~(lowered.isin(_TRUE) | lowered.isin(_FALSE))
            for r in _rows(bad.to_numpy())[:50]:
                problems.append(Problem(int(r), f.name, f"not true/false: {col.iloc[r - 1]!r}"))
            frame[f.name] = lowered.isin(_TRUE).astype(bool)
        else:
            if text is None:
                text = col.astype("string")
            cleaned = text.where(~empty).astype(object)
            frame[f.name] = cleaned.where(cleaned.notna(), None)
            if f.choices:
                _check_choices(frame, f, problems)
            elif f.default is not None:
                frame[f.name] = frame[f.name].fillna(f.default)


def _check_choices(frame: pd.DataFrame, f, problems: list[Problem]) -> None:
    vocab = VOCABULARIES[f.choices]
    by_label = {zh: code for code, zh in vocab.items()}
    by_code = {code.lower(): code for code in vocab}
    by_label.update(VOCABULARY_ALIASES.get(f.choices, {}))
    values = frame[f.name]
    uniq = values.dropna().unique()
    mapping = {}
    for v in uniq:
        key = str(v).strip()
        mapping[v] = by_code.get(key.lower().replace(" ", "_").replace("-", "_")) or by_label.get(key)
    mapped = values.map(mapping)
    unknown = values.notna() & mapped.isna()
    allowed = ", ".join(f"{c} ({zh})" for c, zh in vocab.items())
    for r in _rows(unknown.to_numpy())[:50]:
        problems.append(Problem(int(r), f.name, f"unknown value {values.iloc[r - 1]!r}; allowed: {allowed}"))
    if f.default is not None:
        mapped = mapped.fillna(f.default)
    frame[f.name] = mapped


def _compute_areas(frame: gpd.GeoDataFrame, notices: list[Problem]) -> None:
    # Areas are never trusted from input: measured on the GK plane of the data.
    area = frame.geometry.to_crs(metric_crs(frame)).area.to_numpy()
    for col, scale in (("area_m2", 1.0), ("area_mu", M2_PER_MU)):
        if col in frame.columns:
            supplied = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float) * scale
            with np.errstate(invalid="ignore", divide="ignore"):
                off = np.abs(supplied - area) / area > _AREA_TOLERANCE
            for r in _rows(off & np.isfinite(supplied))[:200]:
                s = supplied[r - 1] / scale
                notices.append(Problem(int(r), col, f"supplied {col} {s:,.2f} differs from the computed "
                                       f"{area[r - 1] / scale:,.2f} by more than 5%; the computed value is kept"))
    frame["area_m2"] = np.round(area, 2)
    frame["area_mu"] = np.round(area / M2_PER_MU, 4)
