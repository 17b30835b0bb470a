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
    ``"rasterio"``), so two copies of SQLite never have the store open together in this
    process. Re-entrant for the same library; a holder must not ask for another one."""

    def __init__(self):
        self.cond = threading.Condition()
        self.holder: str | None = None
        self.count = 0

    @contextlib.contextmanager
    def __call__(self, library: str) -> Iterator[None]:
        with self.cond:
            while self.holder not in (None, library):
                self.cond.wait()
            self.holder = library
            self.count += 1
        try:
            yield
        finally:
            with self.cond:
                self.count -= 1
                if self.count == 0:
                    self.holder = None
                    self.cond.notify_all()


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
