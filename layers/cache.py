"""Values built from stored layers, kept per layer version in this process.

The key names the store and the versions of the layers a value was built from
(:func:`layers.store.layer_versions`), so each server process keeps its own copy, a
change to a layer retires exactly what was built from it, and a value is built once even
when many requests ask for it at the same moment (the others wait for that build).
"""

from __future__ import annotations

__all__ = ["VersionedCache", "FolderCache"]

import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class VersionedCache(Generic[T]):
    """At most ``size`` values, least recently used out first (``on_evict`` is told); one
    build per key at a time."""

    def __init__(self, size: int, on_evict: Callable[[T], None] | None = None):
        self.size, self.on_evict = size, on_evict
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
            evicted = []
            with self.lock:
                self.items[key] = value
                while len(self.items) > self.size:
                    evicted.append(self.items.popitem(last=False)[1])
            for old in evicted if self.on_evict else ():
                self.on_evict(old)
            return value
        finally:
            with self.lock:
                self.building.pop(key).set()


class FolderCache(Generic[T]):
    """Values built into a temporary folder each (suitability surfaces, Web-Mercator and
    GeoTIFF copies of stored rasters), at most ``size`` of them. An evicted folder is deleted
    only after a grace period, since a request may still be reading it."""

    GRACE_S = 120.0

    def __init__(self, prefix: str, size: int = 8, dir: str | None = None):
        self.prefix, self.dir = prefix, dir  # ``dir``: make the folders inside this one
        self.cache: VersionedCache[tuple] = VersionedCache(size, on_evict=self._retire)
        self.lock = threading.Lock()
        self.retired: list = []

    def get(self, key: Hashable, build: Callable[[str], T]) -> T:
        """The value for ``key``, built by ``build(folder)`` the first time."""
        def make() -> tuple:
            folder = tempfile.TemporaryDirectory(prefix=self.prefix, dir=self.dir, ignore_cleanup_errors=True)
            try:
                return folder, build(folder.name)
            except BaseException:
                folder.cleanup()
                raise
        return self.cache.get(key, make)[1]

    def _retire(self, item: tuple) -> None:
        now = time.monotonic()
        with self.lock:
            self.retired.append((now, item[0]))
            due = [folder for at, folder in self.retired if now - at > self.GRACE_S]
            self.retired = [(at, folder) for at, folder in self.retired if now - at <= self.GRACE_S]
        for folder in due:
            folder.cleanup()
