"""A throwaway PostgreSQL/PostGIS cluster for the tests (Debian's postgresql-common tools).

PostgreSQL refuses to run as root, so the cluster belongs to the ``postgres`` user, as
``pg_createcluster`` makes it by default; it listens on a free loopback port with trust
auth (nothing but this machine can reach it) and fsync off (it is thrown away), and is
dropped with its data when the tests end. ``make test`` installs the packages
(scripts/system-deps.sh).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

VERSION = "15"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")


def _psql(port: int, sql: str, db: str = "postgres") -> None:
    # As the cluster's owner over TCP (trust auth): works the same whether we are root or not.
    # (pg_createcluster -o writes values unquoted: only bare words and numbers there.)
    _run("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
         "-d", db, "-c", sql)


@contextlib.contextmanager
def postgis_cluster(db: str = "renewal_test") -> Iterator[str]:
    """Create, start and finally drop a cluster with a PostGIS database; yields its URL."""
    if shutil.which("pg_createcluster") is None:
        raise RuntimeError("pg_createcluster not found: install postgresql-15-postgis-3 (scripts/system-deps.sh)")
    port = _free_port()
    name = f"renewal_{uuid.uuid4().hex[:8]}"
    data = f"/tmp/{name}"
    opts = ["-o", "listen_addresses=localhost", "-o", "fsync=off", "-o", "synchronous_commit=off",
            "-o", "full_page_writes=off", "-o", "shared_buffers=128MB", "-o", "max_connections=200"]
    _run("pg_createcluster", VERSION, name, "-p", str(port), "-d", data, "--start-conf=manual", *opts,
         "--", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8")
    try:
        _run("pg_ctlcluster", VERSION, name, "start")
        deadline = time.time() + 30
        while True:
            try:
                _psql(port, "SELECT 1")
                break
            except RuntimeError:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        _psql(port, f"CREATE DATABASE {db}")
        _psql(port, "CREATE EXTENSION postgis", db=db)
        yield f"postgresql://postgres@127.0.0.1:{port}/{db}"
    finally:
        subprocess.run(["pg_dropcluster", "--stop", VERSION, name], capture_output=True)
        if os.path.isdir(data):
            shutil.rmtree(data, ignore_errors=True)


def create_database(url: str, name: str) -> str:
    """Another empty PostGIS database on the cluster of ``url``; its URL."""
    base, _, _ = url.rpartition("/")
    port = int(base.rsplit(":", 1)[1])
    _psql(port, f"CREATE DATABASE {name}")
    _psql(port, "CREATE EXTENSION postgis", db=name)
    return f"{base}/{name}"
