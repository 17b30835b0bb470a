"""Site-selection commands: weights (AHP), suitability (surface), site-select (ranked sites)."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager

import numpy as np
import pandas as pd

from gis.errors import InputError
from gis.suitability.model import load_spec
from gis.suitability.weights import ahp_weights
from renewal_cli.output import add_dask_options, cell_progress, print_json, print_table
from workflows.reports import site_result
from workflows.sites import area_surface, parse_require, select_on_surface, surface_spec


def register(sub) -> None:
    p = sub.add_parser("weights", help="criterion weights and consistency ratio from an AHP matrix")
    p.add_argument("--ahp", required=True, help="CSV: header row of criterion names, then the n × n matrix")
    p.add_argument("--allow-inconsistent", action="store_true", help="return weights even if CR >= 0.10")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_weights)

    for name, help_text in (("suitability", "write the suitability surface around an area (GeoTIFF)"),
                            ("site-select", "rank resettlement sites for an area")):
        p = sub.add_parser(name, help=help_text)
        where = p.add_mutually_exclusive_group(required=True)
        where.add_argument("--for", dest="area", help="origin renewal area (id or name)")
        if name == "suitability":
            where.add_argument("--region", help="a whole district or city (a name in the districts layer): sites "
                                                "for any area, without the 'origin' criterion")
            where.add_argument("--bbox", help="W,S,E,N in degrees (CGCS2000): like --region, over a box")
            add_dask_options(p, "the grid's windows in blocks on a Dask cluster; the same raster as without")
        p.add_argument("--weights", help="criteria/weights file (YAML or JSON; may hold an AHP matrix)")
        p.add_argument("--max-distance", type=float, help="metres from the origin area (default 3000)")
        if name == "suitability":
            p.add_argument("-o", "--output", required=True, help="surface GeoTIFF")
            p.set_defaults(handler=cmd_suitability)
        else:
            p.add_argument("--units", type=int, help="units to resettle (default: the area's units)")
            p.add_argument("--require", help="walking limits, e.g. kindergarten:300,primary_school:500")
            p.add_argument("--land-status", help="allowed land status codes, comma-separated")
            p.add_argument("--top", type=int, default=5)
            p.add_argument("--sensitivity", action="store_true", help="±20%% and Monte Carlo weight changes")
            p.add_argument("--json", action="store_true")
            p.set_defaults(handler=cmd_site_select)


def read_ahp_csv(path) -> tuple[list[str], np.ndarray]:
    try:
        frame = pd.read_csv(path, index_col=None, encoding="utf-8-sig")
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as ex:
        raise InputError(f"{path}: cannot read the AHP matrix: {ex}") from ex
    if frame.columns[0].lower() in ("", "criterion", "name", "unnamed: 0"):
        frame = frame.set_index(frame.columns[0])
    names = [str(c) for c in frame.columns]

    def cell(v):
        text = str(v).strip()
        if "/" in text:
            a, b = text.split("/", 1)
            return float(a) / float(b)
        return float(text)

    try:
        matrix = np.array([[cell(v) for v in row] for row in frame.to_numpy()])
    except ValueError as ex:
        raise InputError(f"{path}: matrix cells must be numbers or fractions like 1/3") from ex
    return names, matrix


def cmd_weights(store, args) -> int:
    names, matrix = read_ahp_csv(args.ahp)
    result = ahp_weights(matrix, names, allow_inconsistent=args.allow_inconsistent)
    if args.json:
        print_json(result.to_dict())
    else:
        print_table([{"criterion": n, "weight": float(w)} for n, w in zip(result.names, result.weights, strict=True)],
                    [("criterion", "criterion"), ("weight", "weight")])
        print(f"λmax {result.lambda_max:.3f}  CI {result.ci:.3f}  CR {result.cr:.3f} "
              f"({'consistent' if result.consistent else 'INCONSISTENT: ' + ' vs '.join(result.worst_pair or ())})")
    return 0


def cmd_suitability(store, args) -> int:
    from workflows.regions import SurfaceTarget, parse_bbox, target_surface

    spec = load_spec(args.weights) if args.weights else None
    with tempfile.TemporaryDirectory() as tmp:
        if args.area and not args.dask:
            origin, surface = area_surface(store, args.area, out_dir=tmp, spec=spec, max_distance=args.max_distance,
                                           progress=cell_progress("suitability"))
        else:
            if args.max_distance:
                spec = surface_spec(store, spec, args.max_distance)
            target = SurfaceTarget("area", args.area) if args.area else \
                SurfaceTarget("region", args.region) if args.region else SurfaceTarget("bbox", parse_bbox(args.bbox))
            with _maybe_cluster(args) as client:
                origin, surface = target_surface(store, target, tmp, spec=spec, client=client,
                                                 progress=cell_progress("suitability"))
        shutil.copyfile(surface.surface_path, args.output)
    where = f"around {origin.name.iloc[0]}" if origin is not None else f"over {args.region or args.bbox}"
    print(f"wrote the suitability surface {where} to {args.output} "
          f"({surface.grid.width} × {surface.grid.height} cells at {surface.grid.resolution:g} m, "
          f"EPSG:{surface.grid.crs.to_epsg()}; criteria: {', '.join(c.name for c in surface.criteria)})")
    return 0


@contextmanager
def _maybe_cluster(args):
    if not args.dask:
        yield None
        return
    from workflows.cluster import dask_client

    with dask_client(args.dask, workers=args.dask_workers) as client:
        yield client


def cmd_site_select(store, args) -> int:
    spec = load_spec(args.weights) if args.weights else None
    land = [s.strip() for s in args.land_status.split(",")] if args.land_status else None
    with tempfile.TemporaryDirectory() as tmp:
        origin, surface, selection, regions = select_on_surface(
            store, args.area, out_dir=tmp, spec=spec, units=args.units, max_distance=args.max_distance,
            require=parse_require(args.require), top=args.top, land_status=land,
            progress=cell_progress("suitability"))
    result = site_result(origin, surface, selection, regions, sensitivity=args.sensitivity)
    if args.json:
        print_json(result)
        return 0
    print_site_result(result)
    return 0


def print_site_result(result: dict) -> None:
    print(f"resettlement sites for {result['area']} ({result['mode']}, {result['method']}); weights: " +
          ", ".join(f"{k} {v:.0%}" for k, v in result["weights"].items()))
    if result["mode"] == "parcels":
        print("parcels removed by rule: " + ", ".join(f"{k} {v}" for k, v in result["removed_by_rule"].items()))
    if not result["candidates"]:
        print(result.get("message", "no candidates"))
        return
    rows = []
    for c in result["candidates"]:
        row = dict(c)
        if "contributions" in c:
            row["top_contrib"] = ", ".join(f"{k} {v:.2f}" for k, v in sorted(c["contributions"].items(),
                                                                                key=lambda kv: -kv[1])[:3])
        rows.append(row)
    cols = [("rank", "#"), ("name", "地块"), ("score", "score"), ("area_mu", "面积(亩)"),
            ("required_mu", "需地(亩)"), ("origin_network_m", "距原片区(m)"), ("top_contrib", "主要贡献"),
            ("binding", "约束")]
    if result["mode"] == "regions":
        cols = [("rank", "#"), ("score", "score"), ("area_mu", "面积(亩)"), ("compactness", "紧凑度")]
    print_table(rows, cols)
    for s in result.get("sensitivity", [])[:5]:
        print(f"  {s['name']}: top-3 in {s['oat_top']:.0%} of ±20% runs, {s['mc_top']:.0%} of Monte Carlo draws")
