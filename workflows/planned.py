"""Planned facilities: points a planner adds to an area's map to see how its services report
would change ("what if", issue #13), and the ``planned_services`` layer that keeps them once
saved. Shared by the API (``/analysis/services/{area}/what-if``, ``/planned-services``,
``?with_planned=true``) and the CLI (``renewal services AREA --with-planned``). Parsing and
checking the posted points (a format, with the kind's constants) is :mod:`layers.planned_parse`.

Design
------
- **The kind is the flag.** Saved plans live in a layer of kind ``planned_services`` (named
  ``planned_services``): the services fields plus ``area_id`` (the area they were planned
  from) and ``note``. Analyses read ``store.find_kind("services")``, so a plan never passes
  for an existing facility; only reports that ask for it add the plans, named
  "<name>(规划)" and with ids ``planned-<fid>``. The alternative, a ``status='planned'`` column
  in the services layer, would make every reader of services (site selection, 2SFCA,
  POI/OSM imports, exports) filter it, and one forgotten filter would count a plan as supply.
- **A plan serves every area near it**: a report with planned facilities adds all the stored
  ones, not only those planned from that area (a nursery planned for one area also serves
  its neighbour); ``area_id`` is a record of where it was planned.
- **Saving** validates the points like any import and adds them with the store's feature
  insert (one transaction, audited with the editor's name). When the layer does not exist
  yet it is first created empty by a whole-layer write in ``append`` mode: that write is
  atomic (copy-on-write under the store's lock) and, should another editor create the layer
  at the same moment, appends nothing to theirs instead of replacing it. A failure between
  the two steps leaves an empty layer, which reads as "no plans".
- **What if** answers the report before and after adding the posted points: before is the
  stored report (with the stored plans when ``with_planned``), after adds the points. Not
  cached (tens of milliseconds for one area); the supply side (2SFCA) stays that of the
  existing facilities, as plans rarely carry a capacity.
"""

from __future__ import annotations

__all__ = [
    "stored_planned",
    "add_planned",
    "planned_report",
    "report_document",
    "compare_reports",
    "what_if_report",
    "save_planned",
    "planned_features",
]

import json

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.crs import CGCS2000, transform_geometries, wgs84_to_gcj02
from gis.errors import InputError
from layers.features import read_layer_cached, to_geojson_features
from layers.planned_parse import (
    COLUMNS,
    DOCUMENT_FIELDS,
    PLANNED_KIND,
    PLANNED_LAYER,
    PLANNED_MARK,
    categories,
    parse_planned,
)
from layers.store import LayerStore
from layers.validate import ValidatedLayer, validate_layer
from workflows.inputs import AnalysisInputs, analysis_inputs, resolve_area
from workflows.services import area_services_report


def stored_planned(store: LayerStore) -> gpd.GeoDataFrame:
    """The saved planned facilities, with their ``id``; an empty frame when none were saved."""
    if store.has_kind(PLANNED_KIND):
        return read_layer_cached(store, store.find_kind(PLANNED_KIND))
    return gpd.GeoDataFrame(
        {"id": pd.Series([], dtype="int64"), **{c: [] for c in COLUMNS}},
        geometry=gpd.GeoSeries([], crs=CGCS2000),
        crs=CGCS2000,
    )


def _marked(name) -> str:
    text = str(name)
    return text if text.endswith(PLANNED_MARK) else text + PLANNED_MARK


def add_planned(
    services: gpd.GeoDataFrame, *planned: gpd.GeoDataFrame, prefixes=("planned",)
) -> gpd.GeoDataFrame:
    """``services`` with planned facilities added: their names marked "(规划)", ids
    ``<prefix>-<id or row>`` (never equal to an existing facility's) and ``planned`` True.

    Examples
    --------
    >>> import shapely
    >>> svc = gpd.GeoDataFrame({"id": [1], "name": ["托儿所001"], "category": ["nursery"]},
    ...                        geometry=[shapely.Point(113.2, 35.2)], crs=4490)
    >>> plan = gpd.GeoDataFrame({"name": ["托儿所"], "category": ["nursery"]},
    ...                         geometry=[shapely.Point(113.17, 35.24)], crs=4490)
    >>> add_planned(svc, plan, prefixes=("what-if",))[["id", "name", "planned"]].values.tolist()
    [[1, '托儿所001', False], ['what-if-1', '托儿所(规划)', True]]
    """
    parts = [services.assign(planned=False)]
    for k, frame in enumerate(planned):
        if frame is None or not len(frame):
            continue
        prefix = prefixes[min(k, len(prefixes) - 1)]
        keys = frame["id"].tolist() if "id" in frame.columns else range(1, len(frame) + 1)
        extra = gpd.GeoDataFrame(
            {
                "id": [f"{prefix}-{key}" for key in keys],
                "name": [_marked(n) for n in frame["name"]],
                "category": frame["category"].to_numpy(),
                "capacity": frame["capacity"].to_numpy() if "capacity" in frame else np.nan,
                "planned": True,
            },
            geometry=frame.geometry.to_crs(services.crs).values,
            crs=services.crs,
        )
        parts.append(extra)
    if len(parts) == 1:
        return parts[0]
    out = pd.concat(parts, ignore_index=True)
    out["id"] = out["id"].astype(object)
    return gpd.GeoDataFrame(out, geometry=services.geometry.name, crs=services.crs)


def planned_report(
    store: LayerStore,
    inputs: AnalysisInputs,
    origins: gpd.GeoDataFrame,
    *,
    stored: bool = True,
    extra: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """The services report of ``origins`` counting planned facilities as built: the stored
    plans when ``stored``, and ``extra`` (from :func:`parse_planned`). With neither (and one
    area) it is the cached report of the existing facilities."""
    from gis.services import nearest_services

    plans = stored_planned(store) if stored else None
    if (
        (plans is None or not len(plans))
        and (extra is None or not len(extra))
        and len(origins) == 1
    ):
        return area_services_report(store, inputs, origins)
    services = add_planned(inputs.services, plans, extra, prefixes=("planned", "what-if"))
    return nearest_services(origins, services, network=inputs.network, standards=inputs.standards)


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", force_ascii=False))


def report_document(origin: gpd.GeoDataFrame, report: pd.DataFrame, fields=DOCUMENT_FIELDS) -> dict:
    """One area's report as the API answers it: area, basis, categories met and the rows."""
    from gis.service_reports import area_summary

    summary = area_summary(report).iloc[0]
    return {
        "area_id": int(origin.id.iloc[0]),
        "area_name": origin.name.iloc[0],
        "basis": str(report.basis.iloc[0]),
        "categories_met": int(summary.categories_met),
        "categories_required": int(summary.categories_required),
        "coverage_score": float(summary.coverage_score),
        "categories": _records(report[list(fields)].astype(object)),
    }


def _walk_m(row) -> float | None:
    value = row.network_m if row.basis == "network" else row.straight_m
    return None if value is None or value != value else float(value)


def _side(row) -> dict:
    return {
        "nearest_name": row.nearest_name,
        "walk_m": _walk_m(row),
        "meets_standard": bool(row.meets_standard),
        "gap_zh": row.gap_zh if isinstance(row.gap_zh, str) else None,
        "gap_en": row.gap_en if isinstance(row.gap_en, str) else None,
    }


def compare_reports(before: pd.DataFrame, after: pd.DataFrame) -> list[dict]:
    """Per category of one area: nearest facility, walking metres (straight-line where the
    report has no network), whether it meets the standard and the gap, before and after."""
    after_by = {r.category: r for r in after.itertuples(index=False)}
    out = []
    for r in before.itertuples(index=False):
        a = after_by[r.category]
        b_side, a_side = _side(r), _side(a)
        out.append(
            {
                "category": r.category,
                "category_zh": r.category_zh,
                "required": bool(r.required),
                "standard_m": None if r.standard_m != r.standard_m else float(r.standard_m),
                "changed": b_side != a_side,
                "before": b_side,
                "after": a_side,
            }
        )
    return out


def _planned_records(frame: gpd.GeoDataFrame) -> list[dict]:
    codes, _ = categories()
    return [
        {
            "name": _marked(r.name),
            "category": r.category,
            "category_zh": codes.get(r.category, r.category),
            "lon": round(float(r.geometry.x), 7),
            "lat": round(float(r.geometry.y), 7),
        }
        for r in frame.itertuples(index=False)
    ]


def what_if_report(
    store: LayerStore, area, doc, *, with_stored: bool = False, datum: str = "cgcs2000"
) -> dict:
    """The services report of ``area`` before and after adding the planned points of ``doc``
    (a GeoJSON FeatureCollection, see :func:`parse_planned`); nothing is saved.

    ``with_stored``: "before" already counts the stored plans. The answer holds ``before``
    and ``after`` (each shaped as the services report of the area), ``changes`` (per
    category, see :func:`compare_reports`) and the ``planned`` points as understood.
    """
    inputs = analysis_inputs(store)
    origin = resolve_area(inputs.areas, area)
    extra = parse_planned(doc, datum=datum, standards=inputs.standards)
    before = planned_report(store, inputs, origin, stored=with_stored)
    after = (
        planned_report(store, inputs, origin, stored=with_stored, extra=extra)
        if len(extra)
        else before
    )
    return {
        "area_id": int(origin.id.iloc[0]),
        "area_name": origin.name.iloc[0],
        "with_planned": with_stored,
        "planned": _planned_records(extra),
        "before": report_document(origin, before),
        "after": report_document(origin, after),
        "changes": compare_reports(before, after),
    }


def _empty_layer() -> ValidatedLayer:
    frame = gpd.GeoDataFrame(
        {
            "name": pd.Series([], dtype=object),
            "category": pd.Series([], dtype=object),
            "capacity": pd.Series([], dtype="float64"),
            "area_id": pd.Series([], dtype="Int64"),
            "note": pd.Series([], dtype=object),
        },
        geometry=gpd.GeoSeries([], crs=CGCS2000),
        crs=CGCS2000,
    )
    return ValidatedLayer(PLANNED_KIND, frame)


def save_planned(
    store: LayerStore, doc, *, who: str, datum: str = "cgcs2000"
) -> tuple[str, list[int]]:
    """Store the planned points of ``doc`` in the planned-services layer (created when
    missing, see the module's notes); the layer's name and the new features' ids."""
    frame = parse_planned(doc, datum=datum)
    if not len(frame):
        raise InputError("the FeatureCollection has no features: nothing to save")
    validated = validate_layer(frame, PLANNED_KIND)
    if not store.has_kind(PLANNED_KIND):
        # Append mode: atomic, and never replaces a layer another editor created meanwhile.
        store.write(
            PLANNED_LAYER,
            _empty_layer(),
            mode="append",
            source="planned facilities (what if)",
            who=who,
        )
    name = store.find_kind(PLANNED_KIND)
    return name, store.insert_features(name, validated, who=who)


def planned_features(store: LayerStore, datum: str = "cgcs2000") -> list[dict]:
    """The stored plans as GeoJSON features (lon/lat; shifted to GCJ-02 for Amap maps)."""
    if datum not in ("cgcs2000", "gcj02"):
        raise InputError(f"datum must be cgcs2000 or gcj02, got {datum!r}")
    frame = stored_planned(store)
    if datum == "gcj02" and len(frame):
        frame = frame.copy()
        frame["geometry"] = transform_geometries(frame.geometry.values, wgs84_to_gcj02)
    return to_geojson_features(frame, precision=7)
