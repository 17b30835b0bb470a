from __future__ import annotations

import contextlib
import hashlib
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from layers.sample import build_sample_store


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def copy_sample(sample_store, folder) -> Path:
    """A private copy of the sample store in ``folder``, for tests that write to it."""
    path = Path(folder) / "renewal.gpkg"
    shutil.copyfile(sample_store.path, path)
    return path


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory):
    """The sample city, built once per test session (read-only for tests)."""
    return build_sample_store(tmp_path_factory.mktemp("sample") / "renewal.gpkg")


@pytest.fixture(scope="session")
def postgis_url():
    """A throwaway PostgreSQL/PostGIS cluster for the session (tests/helpers/pg.py); its URL."""
    from tests.helpers.pg import postgis_cluster

    with postgis_cluster() as url:
        yield url


@pytest.fixture
def new_database(postgis_url):
    """``make(name)`` → the URL of a new, empty PostGIS database on the session's cluster."""
    from tests.helpers.pg import create_database

    counter = iter(range(10**6))

    def make(prefix: str = "t") -> str:
        import uuid

        return create_database(postgis_url, f"{prefix}_{uuid.uuid4().hex[:8]}_{next(counter)}")
    return make


@pytest.fixture(scope="session")
def postgis_sample(postgis_url):
    """The sample city in a PostGIS database, built once per session (read-only for tests)."""
    from tests.helpers.pg import create_database

    return build_sample_store(create_database(postgis_url, "sample"))


@pytest.fixture
def gk_square():
    """A 100 m × 100 m square on the GK plane near Jiaozuo, as a 1-row frame in EPSG:4547."""
    x, y = 430000.0, 3900000.0
    return gpd.GeoDataFrame({"name": ["方块"], "county": ["解放区"], "kind": ["shantytown"]},
                            geometry=[shapely.box(x, y, x + 100, y + 100)], crs=4547)


@pytest.fixture
def areas_4490():
    """Three small renewal areas in CGCS2000 degrees around 113.2°E 35.2°N."""
    geoms = [shapely.box(113.20 + i * 0.01, 35.20, 113.205 + i * 0.01, 35.204) for i in range(3)]
    return gpd.GeoDataFrame({"name": ["甲片区", "乙片区", "丙片区"], "county": ["解放区"] * 3,
                             "kind": ["shantytown", "城中村", "old_compound"], "households": [100, 200, 300]},
                            geometry=geoms, crs=4490)


@contextlib.contextmanager
def serve(store_path, workers: int | None = None):
    """`renewal serve` on a free loopback port (``workers`` processes, default one per core);
    yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "renewal_cli.main", "--store", str(store_path), "serve",
                             "--port", str(port), *(["--workers", str(workers)] if workers else [])], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"the server did not start: {proc.stdout.read().decode()[-2000:]}") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
