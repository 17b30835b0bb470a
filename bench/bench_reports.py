"""Printable report speed (issue #15): the area report of 西大井片区 on the sample city, time
per section and file size, against the bare API answering the same numbers as JSON
(services report, isochrones, site selection, progress) measured in the same run.

Each measurement runs in a fresh process (cold caches: walking network, isochrones,
suitability surface, as the first report after a server start or a CLI run), then once more
in the same process (warm: what a second report of the area costs). The CLI's wall time,
Python start-up and imports included, is measured too. Aim: an area report in ≤ 10 s,
≤ 5 MB.

    python bench/bench_reports.py [--repeat 3] [--units 800]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (puts the repo root on sys.path)

AREA = "西大井片区"
AS_OF = "2023-12-31"


def _report_run(store_path: str, units: int, out: Path) -> dict:
    from datetime import date

    from layers.store import open_store
    from maps.report_pdf import render_area_pdf, write_atomic
    from workflows.documents import area_document

    store = open_store(store_path)
    times, last = {}, [time.perf_counter()]

    def step(name: str) -> None:
        now = time.perf_counter()
        times[name] = now - last[0]
        last[0] = now

    start = last[0]
    doc = area_document(store, AREA, units=units, sensitivity=True, as_of=date.fromisoformat(AS_OF), on_section=step)
    pdf = render_area_pdf(doc, on_step=step)
    write_atomic(pdf, out)
    step("write")
    return {"total": time.perf_counter() - start, "sections": times, "bytes": len(pdf)}


def _api_run(client, units: int) -> dict:
    start = time.perf_counter()
    answers = [client.get(f"/analysis/services/{AREA}"), client.get(f"/analysis/isochrones/{AREA}"),
               client.post("/analysis/site-selection", json={"for": AREA, "units": units, "sensitivity": True}),
               client.get("/analysis/progress", params={"city": "焦作市", "year": "2023", "as_of": AS_OF})]
    total = time.perf_counter() - start
    assert all(r.status_code == 200 for r in answers), [r.text[:200] for r in answers if r.status_code != 200]
    return {"total": total, "bytes": sum(len(r.content) for r in answers)}


def child(kind: str, store_path: str, units: int, out: str) -> None:
    """One cold and one warm measurement in this (fresh) process, printed as JSON."""
    if kind == "report":
        runs = [_report_run(store_path, units, Path(out)) for _ in range(2)]
    else:
        from fastapi.testclient import TestClient

        from api.app import create_app
        from api.settings import Settings

        client = TestClient(create_app(Settings(store=store_path)))
        runs = [_api_run(client, units) for _ in range(2)]
    print(json.dumps({"cold": runs[0], "warm": runs[1]}))


def _spawn(kind: str, store_path: str, units: int, out: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", kind, "--store", store_path, "--units", str(units),
                           "--out", str(out)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cli_wall(store_path: str, units: int, out: Path) -> float:
    renewal = Path(sys.executable).with_name("renewal")
    start = time.perf_counter()
    subprocess.run([str(renewal), "--store", store_path, "report", AREA, "-o", str(out), "--units", str(units),
                    "--sensitivity", "--as-of", AS_OF], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per measurement (medians shown)")
    parser.add_argument("--units", type=int, default=800)
    parser.add_argument("--child", choices=("report", "api"), help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.store, args.units, args.out)
        return
    from layers.sample import build_sample_store

    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        store_path = str(build_sample_store(Path(tmp) / "renewal.gpkg").path)
        out = Path(tmp) / "report.pdf"
        reports, apis, walls = [], [], []
        for _ in range(args.repeat):  # interleaved, so both see the same machine load
            reports.append(_spawn("report", store_path, args.units, out))
            apis.append(_spawn("api", store_path, args.units, out))
            walls.append(_cli_wall(store_path, args.units, out))
        _print(reports, apis, walls, out.stat().st_size)


def _median(runs: list[dict], phase: str, key: str) -> float:
    return statistics.median(r[phase][key] for r in runs)


def _print(reports: list[dict], apis: list[dict], walls: list[float], size: int) -> None:
    n = len(reports)
    print(f"area report of {AREA} (sample city, units 800, sensitivity), median of {n} fresh processes")
    print(f"{'section':<22}{'cold s':>9}{'warm s':>9}")
    for name in reports[0]["cold"]["sections"]:
        cold = statistics.median(r["cold"]["sections"][name] for r in reports)
        warm = statistics.median(r["warm"]["sections"][name] for r in reports)
        print(f"{name:<22}{cold:>9.2f}{warm:>9.2f}")
    cold, warm = _median(reports, "cold", "total"), _median(reports, "warm", "total")
    api_cold, api_warm = _median(apis, "cold", "total"), _median(apis, "warm", "total")
    print(f"{'report total':<22}{cold:>9.2f}{warm:>9.2f}   PDF {size / 1e6:.2f} MB")
    print(f"{'baseline: bare API':<22}{api_cold:>9.2f}{api_warm:>9.2f}   JSON "
          f"{_median(apis, 'cold', 'bytes') / 1e6:.2f} MB (services with 2SFCA supply, isochrones, site selection, "
          "progress)")
    print(f"report / API: cold {cold / api_cold:.2f}×, warm +{warm - api_warm:.2f} s")
    print(f"CLI wall time (`renewal report`, start-up included): median {statistics.median(walls):.2f} s, "
          f"max {max(walls):.2f} s; aim ≤ 10 s {'met' if max(walls) <= 10 else 'MISSED'}; "
          f"size aim ≤ 5 MB {'met' if size <= 5e6 else 'MISSED'}")


if __name__ == "__main__":
    main()
