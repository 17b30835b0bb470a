"""Running independent partitions of a batch on a Dask cluster (dask.distributed).

The CLI's batch commands take ``--dask ADDRESS`` (a scheduler, e.g. ``tcp://10.0.0.5:8786``)
or ``--dask local`` (a LocalCluster of worker processes on this machine). Tasks get the
store's location, never pickled layers: each worker opens the store (a GeoPackage on a
shared path, or the PostGIS URL) and reads what its partition needs.
"""

from __future__ import annotations

__all__ = ["ClusterError", "PartitionError", "dask_client", "run_partitions", "store_location"]

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm

from gis.errors import RenewalError
from layers.store import LayerStore

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 20  # the bound is 30 s for a clear failure, connection included


class ClusterError(RenewalError):
    """The Dask scheduler cannot be reached or has no workers."""


class PartitionError(RenewalError):
    """A task of a batch failed; the message names its partition."""


def store_location(store: LayerStore) -> str:
    """What a worker passes to ``open_store`` to open this store: the PostGIS URL, or the
    GeoPackage's absolute path (which must be the same path on every worker: shared storage)."""
    location = getattr(store, "location", None)
    return str(location) if location else os.path.abspath(str(store.path))


@contextmanager
def dask_client(address: str, *, workers: int | None = None, timeout_s: float = CONNECT_TIMEOUT_S):
    """A ``distributed.Client`` for ``address``; ``"local"`` starts a LocalCluster of
    ``workers`` single-threaded processes (default: one per core) and closes it afterwards.

    Raises :class:`ClusterError` within ``timeout_s`` when the scheduler does not answer or
    no worker joins it.
    """
    from distributed import Client, LocalCluster

    if not logging.getLogger().isEnabledFor(logging.INFO):  # `renewal -v` shows the cluster's own log
        for name in ("distributed", "bokeh", "tornado"):
            logging.getLogger(name).setLevel(logging.ERROR)
    cluster = None
    try:
        if address == "local":
            cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster, timeout=timeout_s)
        else:
            client = Client(address, timeout=timeout_s)
    except (OSError, TimeoutError) as ex:
        if cluster is not None:
            cluster.close()
        raise ClusterError(f"cannot reach the Dask scheduler at {address} within {timeout_s:g} s ({ex}); start "
                           "one with `dask scheduler` and workers with `dask worker ADDRESS`, or use --dask local"
                           ) from None
    try:
        try:
            client.wait_for_workers(1, timeout=timeout_s)
        except (OSError, TimeoutError):
            raise ClusterError(f"the Dask scheduler at {address} has no workers after {timeout_s:g} s; start "
                               f"some with `dask worker {address}`") from None
        log.info("dask: %s with %d worker(s)", address, len(client.scheduler_info()["workers"]))
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_partitions(client, fn: Callable, partitions: dict[str, tuple], *, desc: str, pure: bool = False
                   ) -> Iterator[tuple[str, object]]:
    """``fn(*args)`` for each partition on the cluster, yielding ``(name, result)`` as tasks
    finish, with a progress bar over the tasks. A failed task cancels the rest and raises
    :class:`PartitionError` naming its partition."""
    futures = {client.submit(fn, *args, key=f"{desc}-{name}-{os.getpid()}", pure=pure): name
               for name, args in partitions.items()}
    from distributed import as_completed

    with tqdm(total=len(futures), desc=desc, unit="task", disable=None) as bar:
        for future in as_completed(futures):
            name = futures[future]
            if future.status != "finished":
                ex = future.exception()
                for other in futures:
                    other.cancel()
                raise PartitionError(f"{desc}: the task of partition {name!r} failed: {type(ex).__name__}: {ex}"
                                     ) from None
            bar.update(1)
            yield name, future.result()
