"""An area's services: walking isochrones, nearby services against the standards, supply
against demand (2SFCA). Each is kept per version of the layers it reads (the API's and the
area map's most asked questions); shared by the CLI, the API and the maps."""

from __future__ import annotations

__all__ = ["area_isochrones", "area_services_report", "area_supply"]

import geopandas as gpd
import pandas as pd

from layers.cache import VersionedCache
from layers.store import LayerStore
from workflows.inputs import AnalysisInputs, inputs_key

_ISOCHRONES: VersionedCache[gpd.GeoDataFrame] = VersionedCache(32)


def area_isochrones(store: LayerStore, inputs: AnalysisInputs, origin: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The 300/500/1000 m walking isochrones of one resolved area, kept per version of the
    areas and roads layers (a second or so of work per area otherwise)."""
    from gis.isochrones import walking_isochrones

    key = (inputs_key(store, inputs, ("renewal_areas", "roads")), int(origin.id.iloc[0]))
    return _ISOCHRONES.get(key, lambda: walking_isochrones(origin, inputs.network)).copy()


_REPORTS: VersionedCache[pd.DataFrame] = VersionedCache(64)


def area_services_report(store: LayerStore, inputs: AnalysisInputs, origin: gpd.GeoDataFrame) -> pd.DataFrame:
    """Nearby services of one resolved area against the standards, kept per version of the
    areas, services and roads layers (the API's and the area map's most asked question)."""
    from gis.services import nearest_services

    key = (inputs_key(store, inputs, ("renewal_areas", "services", "roads")), int(origin.id.iloc[0]),
           repr(sorted(inputs.standards.items())))
    return _REPORTS.get(key, lambda: nearest_services(origin, inputs.services, network=inputs.network,
                                                      standards=inputs.standards)).copy()


_SUPPLY: VersionedCache[dict] = VersionedCache(64)


def area_supply(store: LayerStore, inputs: AnalysisInputs, origin: gpd.GeoDataFrame) -> dict:
    """Supply against demand around one area: for each category whose facilities carry a
    capacity, 2SFCA capacity per 1000 residents within the category's GB 50180-2018 walking
    distance. Demand is the population layer when the store has one (everyone living in each
    facility's catchment, the area's residents among them), else the renewal areas' own
    households only, and ``demand`` says which; kept per version of the layers it reads."""
    from gis.accessibility import supply_demand

    population = store.read(store.find_kind("population")) if store.has_kind("population") else None
    key = (inputs_key(store, inputs, ("renewal_areas", "services", "roads", "population")),
           int(origin.id.iloc[0]), repr(sorted(inputs.standards.items())))

    def build() -> dict:
        svc = inputs.services
        with_capacity = svc[svc.capacity.notna() & (svc.capacity > 0)] if "capacity" in svc else svc.iloc[:0]
        rows, demand = [], "the renewal areas' own households only (no population layer)"
        for category in [c for c in inputs.standards if c in set(with_capacity.category)]:
            std = inputs.standards[category]
            # Without a population layer the other areas' households are the only other demand.
            areas = origin if population is not None else inputs.areas
            out = supply_demand(areas, with_capacity, category, network=inputs.network, population=population,
                                catchment_m=float(std.standard_m) if std.standard_m else None)
            row = out[out["id"] == origin.id.iloc[0]].iloc[0]
            demand = out.attrs["demand"]
            rows.append({"category": category, "category_zh": std.label_zh, "catchment_m": out.attrs["catchment_m"],
                         "facilities": int(row.facilities), "per_1000": float(row.per_1000),
                         "residents": float(row.population)})
        return {"demand": demand, "method": "2SFCA", "categories": rows}

    return _SUPPLY.get(key, build)
