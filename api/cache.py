"""Things built once per store version and kept in temporary folders: suitability surfaces,
Web-Mercator copies of stored rasters for tiles."""

from __future__ import annotations

__all__ = ["FolderCache"]

import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


class FolderCache:
    """Values built into a temporary folder, at most ``size`` of them, least recently used
    out first.

    Each key is built once: concurrent requests (a map page and its tiles) wait for that
    build. An evicted folder is deleted only after a grace period, since a tile request may
    still be reading it.
    """

    GRACE_S = 120.0

    def __init__(self, prefix: str, size: int = 8):
        self.prefix, self.size = prefix, size
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()
        self.building: dict = {}
        self.retired: list = []

    def get(self, key: Hashable, build: Callable[[str], T]) -> T:
        """The value for ``key``, built by ``build(folder)`` the first time."""
        while True:
            with self.lock:
                if key in self.items:
                    self.items.move_to_end(key)
                    return self.items[key][1]
                waiter = self.building.get(key)
                if waiter is None:
                    waiter = self.building[key] = threading.Event()
                    break
            waiter.wait()  # another request is building this one
        try:
            folder = tempfile.TemporaryDirectory(prefix=self.prefix)
            try:
                value = build(folder.name)
            except BaseException:
                folder.cleanup()
                raise
            with self.lock:
                self.items[key] = (folder, value)
                while len(self.items) > self.size:
                    self.retired.append((time.monotonic(), self.items.popitem(last=False)[1][0]))
                now = time.monotonic()
                for _, old in [r for r in self.retired if now - r[0] > self.GRACE_S]:
                    old.cleanup()
                self.retired = [r for r in self.retired if now - r[0] <= self.GRACE_S]
            return value
        finally:
            with self.lock:
                self.building.pop(key).set()
