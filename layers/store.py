"""The store registry: ``open_store`` picks a backend for a path or URL.

Every layer lives behind :class:`~layers.backends.base.LayerStore`; the embedded default is
one GeoPackage (:mod:`layers.backends.gpkg`), a ``postgresql://`` URL opens PostGIS
(:mod:`layers.backends.postgis`). Backends register by URL scheme in :data:`BACKENDS`.
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


def _postgis(url: str) -> LayerStore:
    from layers.backends.postgis import PostGISStore  # psycopg only when a database is asked for

    return PostGISStore(url)


#: URL scheme → how to open a store of it; anything without a scheme is a GeoPackage path.
BACKENDS = {"postgresql": _postgis, "postgres": _postgis, "file": lambda url: GeoPackageStore(url[len("file://"):])}


def layer_versions(store: LayerStore, names) -> tuple:
    """The store and the versions of ``names`` (missing layers count as absent): the key of
    whatever is built from those layers, so a change to any other layer keeps it."""
    versions = {i.name: i.version for i in store.layers()}
    return (store.uri, *((n, versions.get(n)) for n in names))


def open_store(location=None) -> LayerStore:
    """Open the store at ``location``: a GeoPackage path, or a URL such as
    ``postgresql://user:pass@host:5432/db`` (default ``$RENEWAL_STORE`` or ``data/renewal.gpkg``)."""
    text = str(location) if location else str(default_store_path())
    scheme, sep, _ = text.partition("://")
    if not sep:
        return GeoPackageStore(Path(text))
    try:
        return BACKENDS[scheme.lower()](text)
    except KeyError:
        raise InputError(f"unknown store {scheme}://…; give a GeoPackage path or a "
                         f"{' or '.join(s + '://' for s in BACKENDS)} URL") from None
