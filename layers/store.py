"""The store registry: ``open_store`` picks a backend for a path or URL.

Every layer lives behind :class:`~layers.backends.base.LayerStore`; the embedded default is
one GeoPackage (:mod:`layers.backends.gpkg`). A PostGIS backend registers in
:data:`BACKENDS` without touching ``gis/``.
"""

from __future__ import annotations

__all__ = ["LayerInfo", "LayerStore", "GeoPackageStore", "BACKENDS", "open_store", "default_store_path",
           "layer_versions"]

import os
from pathlib import Path

from gis.errors import InputError
from layers.backends.base import LayerInfo, LayerStore
from layers.backends.gpkg import GeoPackageStore


def default_store_path() -> Path:
    return Path(os.environ.get("RENEWAL_STORE", "data/renewal.gpkg"))


#: Backend name → class. A PostGIS backend registers here.
BACKENDS: dict[str, type[LayerStore]] = {"gpkg": GeoPackageStore}


def layer_versions(store: LayerStore, names) -> tuple:
    """The store and the versions of ``names`` (missing layers count as absent): the key of
    whatever is built from those layers, so a change to any other layer keeps it."""
    versions = {i.name: i.version for i in store.layers()}
    return (store.uri, *((n, versions.get(n)) for n in names))


def open_store(path=None, backend: str = "gpkg") -> LayerStore:
    """Open the layer store at ``path`` (default ``$RENEWAL_STORE`` or ``data/renewal.gpkg``)."""
    try:
        cls = BACKENDS[backend]
    except KeyError:
        raise InputError(f"unknown store backend {backend!r}; known: {', '.join(BACKENDS)}") from None
    return cls(Path(path) if path else default_store_path())
