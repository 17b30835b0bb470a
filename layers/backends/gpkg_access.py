"""How a process shares the GeoPackage file between its SQLite libraries, and how it tells
that the file changed.

One process holds three copies of SQLite: Python's ``sqlite3`` and the ones inside
pyogrio's and rasterio's GDAL. SQLite locks with POSIX advisory locks, which belong to the
process and are all dropped when *any* descriptor of the file is closed; SQLite tracks that
only within one copy. So while a thread edits through ``sqlite3``, a GDAL read finishing in
another thread would drop the edit's locks (measured: readers in other processes then saw a
half-written file, "not recognized as a supported file format"). :data:`GATE` lets only one
library at a time hold the store open in a process.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path


class LibraryGate:
    """Admits any number of holders of one library at a time (``"sqlite3"``, ``"pyogrio"``,
    ``"rasterio"``, ``"file"``), so two copies of SQLite never have the store open together
    in this process. Fair: once a thread waits for another library, newcomers of the one
    holding the gate wait behind it (else a stream of GDAL reads would starve an edit).
    Re-entrant for a thread already holding the same library."""

    def __init__(self):
        self.cond = threading.Condition()
        self.holder: str | None = None
        self.count = 0
        self.waiting: dict[str, int] = {}
        self.mine = threading.local()

    @contextlib.contextmanager
    def __call__(self, library: str) -> Iterator[None]:
        held = getattr(self.mine, "held", None)
        if held is not None and held != library:
            raise RuntimeError(f"a thread holding the store through {held} asked for it through {library}")
        with self.cond:
            if held is None:
                self.waiting[library] = self.waiting.get(library, 0) + 1
                try:
                    while not self._may_enter(library):
                        self.cond.wait()
                finally:
                    self.waiting[library] -= 1
            self.holder = library
            self.count += 1
        self.mine.held, self.mine.depth = library, getattr(self.mine, "depth", 0) + 1
        try:
            yield
        finally:
            self.mine.depth -= 1
            if self.mine.depth == 0:
                self.mine.held = None
            with self.cond:
                self.count -= 1
                if self.count == 0:
                    self.holder = None
                self.cond.notify_all()

    def _may_enter(self, library: str) -> bool:
        if self.holder is None:
            # Free: the library waited for longest is not tracked; any waiter may take it,
            # but a library with nobody else waiting goes first.
            return True
        others_waiting = any(n for lib, n in self.waiting.items() if lib != library)
        return self.holder == library and not others_waiting


GATE = LibraryGate()
_HEADERS: dict[str, tuple[int, int]] = {}
_HEADERS_LOCK = threading.Lock()


def change_key(path: Path) -> tuple[int, int, bytes]:
    """(inode, modification time, SQLite's file change counter): a new value after every
    commit in place (the counter, header bytes 24–27, rollback-journal mode; the time) and
    every copy-on-write (the inode; copies carry the counter on, so it never repeats).

    The header is read through one descriptor per file kept open for the process's life:
    closing a descriptor would drop the POSIX locks of every SQLite connection to the file in
    this process. A descriptor of a replaced file is closed, its inode no longer the store."""
    st = os.stat(path)
    ino = st.st_ino
    with _HEADERS_LOCK:
        known = _HEADERS.get(str(path))
        if known is None or known[0] != ino:
            fd = os.open(path, os.O_RDONLY)
            if os.fstat(fd).st_ino != ino:  # replaced between the stat and the open
                ino = os.fstat(fd).st_ino
            if known is not None:
                os.close(known[1])
            known = _HEADERS[str(path)] = (ino, fd)
    return known[0], st.st_mtime_ns, os.pread(known[1], 4, 24)


def hot_journal(ex: Exception) -> bool:
    text = str(ex).lower()
    return "readonly" in text or "read-only" in text
