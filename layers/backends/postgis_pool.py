"""The PostGIS store's connections: one pool per database URL and process, opened on first
use after a quick probe (a clear error within seconds when the database cannot be reached),
with PostGIS added when the user may add it."""

from __future__ import annotations

__all__ = ["pool_for"]

import threading

from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from gis.errors import InputError

_POOLS: dict[str, ConnectionPool] = {}
_POOLS_LOCK = threading.Lock()


def pool_for(location: str, uri: str) -> ConnectionPool:
    """The pool of database ``location`` (its URL); ``uri`` is the URL without its password,
    for messages."""
    with _POOLS_LOCK:
        pool = _POOLS.get(location)
        if pool is None:
            _probe(location, uri)
            # Autocommit: a read is its statements alone (in READ COMMITTED each statement
            # took its own snapshot anyway), without a BEGIN and a ROLLBACK around them —
            # two of the ~60 round trips of a first overview page per read. Writes open
            # their transaction themselves (``PostGISStore._write``).
            # JIT off: PostGIS prices ST_Intersects so high that a by-view query of a few
            # thousand parcels passes jit_above_cost; compiling took 3–4 ms a query, and
            # loading LLVM 30 ms on a connection's first (5,000 parcels: 40 -> 8 ms).
            options = f"{conninfo_to_dict(location).get('options', '')} -c jit=off".strip()
            pool = ConnectionPool(location, min_size=1, max_size=8, open=False, timeout=30,
                                  kwargs={"application_name": "renewal-gis", "autocommit": True,
                                          "options": options})
            try:
                pool.open(wait=True, timeout=15)
            except Exception as ex:
                pool.close()
                raise InputError(f"cannot connect to the store {uri}: {ex}") from None
            _POOLS[location] = pool
            _check_postgis(pool, uri)
        return pool


def _probe(location: str, uri: str) -> None:
    """Fail within seconds, with one clear message, when the database cannot be reached (the
    pool would retry quietly for its whole timeout and log every attempt)."""
    import psycopg

    try:
        psycopg.connect(location, connect_timeout=5).close()
    except psycopg.Error as ex:
        reason = str(ex).strip().splitlines()[-1] if str(ex).strip() else type(ex).__name__
        raise InputError(f"cannot connect to the store {uri}: {reason}") from None


def _check_postgis(pool: ConnectionPool, uri: str) -> None:
    with pool.connection() as con:
        if con.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone():
            return
        try:
            con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            con.commit()
        except Exception as ex:
            raise InputError(f"the database of {uri} has no PostGIS and this user may not add it "
                             f"({str(ex).strip()}); ask its administrator to run CREATE EXTENSION postgis") from None
