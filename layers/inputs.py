"""Gather what an analysis needs from the store: the area asked for, services, roads, network.

Shared by the CLI and the API so both resolve names and build networks the same way.
"""

from __future__ import annotations

__all__ = ["resolve_area", "analysis_inputs", "AnalysisInputs"]

from dataclasses import dataclass
from functools import lru_cache

import geopandas as gpd

from gis.errors import NotFoundError
from gis.network import WalkNetwork, build_network
from gis.standards import Standard, default_standards, load_standards
from layers.store import LayerStore


def resolve_area(areas: gpd.GeoDataFrame, key) -> gpd.GeoDataFrame:
    """The area with id ``key`` (an integer) or name ``key`` (exact, else a unique substring)."""
    text = str(key).strip()
    if text.isdigit() and (areas.id == int(text)).any():
        return areas[areas.id == int(text)]
    exact = areas[areas.name == text]
    if len(exact):
        return exact.iloc[:1]
    partial = areas[areas.name.str.contains(text, regex=False, na=False)]
    if len(partial) == 1:
        return partial
    if len(partial) > 1:
        raise NotFoundError(f"{text!r} matches {len(partial)} areas ({', '.join(partial.name.head(5))} …); "
                            "give the full name or the id")
    raise NotFoundError(f"no renewal area {text!r}; list them with `renewal export renewal_areas -o areas.csv`")


@dataclass
class AnalysisInputs:
    areas: gpd.GeoDataFrame
    services: gpd.GeoDataFrame
    network: WalkNetwork | None
    standards: dict[str, Standard]


@lru_cache(maxsize=4)
def _network_for(path: str, mtime: float, layer: str) -> WalkNetwork:
    from layers.store import GeoPackageStore

    return build_network(GeoPackageStore(path).read(layer))


def analysis_inputs(store: LayerStore, standards_file=None) -> AnalysisInputs:
    """Areas, services, the walking network (cached per store version) and the standards."""
    areas = store.read(store.find_kind("renewal_areas"))
    services = store.read(store.find_kind("services"))
    network = None
    roads = [i.name for i in store.layers() if i.kind == "roads"]
    if roads:
        path = getattr(store, "path", None)
        if path is not None:
            network = _network_for(str(path), path.stat().st_mtime, roads[0])
        else:
            network = build_network(store.read(roads[0]))
    standards = load_standards(standards_file) if standards_file else default_standards()
    return AnalysisInputs(areas, services, network, standards)
