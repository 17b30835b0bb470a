"""Gather what an analysis needs from the store: the area asked for, services, roads, the
walking network (cached per version of its layer) and the standards.

Shared by the CLI and the API so both resolve names and build networks the same way.
"""

from __future__ import annotations

__all__ = ["resolve_area", "analysis_inputs", "AnalysisInputs", "layers_by_kind", "inputs_key"]

from dataclasses import dataclass

import geopandas as gpd

from gis.errors import NotFoundError
from gis.network import WalkNetwork, build_network
from gis.standards import Standard, default_standards, load_standards
from layers.cache import VersionedCache
from layers.features import read_layer_cached
from layers.store import LayerStore, layer_versions


def layers_by_kind(store: LayerStore) -> dict[str, str]:
    """kind → the name of the store's layer of that kind."""
    return {kind: store.find_kind(kind) for kind in {i.kind for i in store.layers()}}


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
    #: The store and layer versions read before the layers: what is built from these inputs is
    #: cached under them (an edit landing meanwhile makes the inputs newer, never older, than
    #: the key says).
    versions: tuple = ()


_NETWORKS: VersionedCache[WalkNetwork] = VersionedCache(4)


def _network_for(store: LayerStore, layer: str) -> WalkNetwork:
    """The walking network of a roads layer, built once per version of that layer (an edit of
    an area or a service keeps it)."""
    return _NETWORKS.get(layer_versions(store, [layer]), lambda: build_network(store.read(layer)))


def analysis_inputs(store: LayerStore, standards_file=None) -> AnalysisInputs:
    """Areas, services, the walking network (each cached per layer version) and the standards."""
    versions = layer_versions(store, [i.name for i in store.layers()])
    areas = read_layer_cached(store, store.find_kind("renewal_areas"))
    services = read_layer_cached(store, store.find_kind("services"))
    network = None
    if any(i.kind == "roads" for i in store.layers()):
        network = _network_for(store, store.find_kind("roads"))
    standards = load_standards(standards_file) if standards_file else default_standards()
    return AnalysisInputs(areas, services, network, standards, versions)


def inputs_key(store: LayerStore, inputs: AnalysisInputs, kinds) -> tuple:
    """The part of ``inputs.versions`` that a result built from layers of ``kinds`` depends on
    (the store-wide entries and those layers' versions): the key to cache it under."""
    wanted = {store.find_kind(k) for k in kinds if store.has_kind(k)}
    return tuple(v for v in inputs.versions if not isinstance(v, tuple) or v[0] in wanted)
