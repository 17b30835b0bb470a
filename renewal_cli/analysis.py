"""Analysis commands (services, isochrones, site selection) register here."""

from __future__ import annotations


def register(sub) -> None:
    return None
