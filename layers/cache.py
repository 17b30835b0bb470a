"""Values built from stored layers, kept per layer version in this process.

The key names the store and the versions of the layers a value was built from
(:func:`layers.store.layer_versions`), so each server process keeps its own copy, a
change to a layer retires exactly what was built from it, and a value is built once even
when many requests ask for it at the same moment (the others wait for that build).
"""

from __future__ import annotations

__all__ = ["VersionedCache"]

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class VersionedCache(Generic[T]):
    """At most ``size`` values, least recently used out first; one build per key at a time."""

    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict[Hashable, T] = OrderedDict()
        self.lock = threading.Lock()
        self.building: dict[Hashable, threading.Event] = {}

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        while True:
            with self.lock:
                if key in self.items:
                    self.items.move_to_end(key)
                    return self.items[key]
                waiter = self.building.get(key)
                if waiter is None:
                    waiter = self.building[key] = threading.Event()
                    break
            waiter.wait()
        try:
            value = build()
            with self.lock:
                self.items[key] = value
                while len(self.items) > self.size:
                    self.items.popitem(last=False)
            return value
        finally:
            with self.lock:
                self.building.pop(key).set()
