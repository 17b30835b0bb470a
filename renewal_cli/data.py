"""Data commands: sample, layers, import, export, targets."""

from __future__ import annotations

import sys

import numpy as np

from gis.errors import InputError
from gis.targets import check_targets
from layers.imports import import_file
from layers.landuse_txt import write_landuse_txt
from layers.sample import PROVINCE_SIZES, WEST_BIG_WELL, build_province_store, build_sample_store
from layers.schemas import SCHEMAS
from layers.writers import FORMATS, write_layer
from renewal_cli.output import print_json, print_table, progress_bar


def register(sub) -> None:
    p = sub.add_parser("sample", help="build the sample city store (Jiaozuo), or with --province a synthetic "
                                      "province, and print its summary")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed of the synthetic layers (default: the sample city's; 0 for --province)")
    p.add_argument("--province", type=int, metavar="N",
                   help="build N synthetic cities side by side instead of the sample city (benches, issue #17)")
    p.add_argument("--size", choices=sorted(PROVINCE_SIZES), default="full",
                   help="with --province: full = ~100k walking nodes, 300 areas, 5,000 services per city; "
                        "small = 2,500 nodes, 6 areas, 100 services (seconds)")
    p.set_defaults(handler=cmd_sample)

    p = sub.add_parser("layers", help="list stored layers")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_layers)

    p = sub.add_parser("import", help="import a file as a layer (validated whole, written atomically)")
    p.add_argument("file")
    p.add_argument("--layer", required=True, help="layer name, e.g. renewal_areas, parcels_2024")
    p.add_argument("--kind", choices=sorted(SCHEMAS), help="layer kind (default: the layer name)")
    p.add_argument("--crs", help="CRS of the coordinates: EPSG code, wgs84, cgcs2000, gcj02 or bd09")
    p.add_argument("--encoding", help="text encoding (e.g. GBK); default: .cpg, else UTF-8, else GB18030")
    p.add_argument("--mode", choices=("replace", "append"), default="replace")
    p.add_argument("--source-layer", help="layer inside a multi-layer file (GeoPackage)")
    p.add_argument("--poi-table", help="CSV replacing the Amap type-code / Baidu tag / Tencent category → category table")
    p.add_argument("--skip-unmapped", action="store_true",
                   help="Amap/Baidu exports: leave out (and report) POIs whose type maps to no category")
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("import-osm", help="roads (walkable, split where ways meet) and services from an OSM extract")
    p.add_argument("file", help=".osm.pbf (or .osm) extract")
    p.add_argument("--bbox", help="W,S,E,N in degrees: keep what lies inside")
    p.add_argument("--layers", default="roads,services", help="roads,services (default both)")
    p.add_argument("--mode", choices=("replace", "append"), default="replace")
    p.add_argument("--categories", help="CSV replacing the OSM tag → category table")
    p.add_argument("--walkable", help="CSV replacing the walkable highway → road_class table")
    p.set_defaults(handler=cmd_import_osm)

    _register_export(sub)

    p = sub.add_parser("targets", help="print target tables; --check verifies totals and regions")
    p.add_argument("--check", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_targets)
    p = sub.add_parser("copy", help="copy a whole store to another, e.g. a GeoPackage into PostGIS")
    p.add_argument("source", help="GeoPackage path or postgresql://… URL to copy from")
    p.add_argument("destination", help="an empty store: GeoPackage path or postgresql://user:pass@host:port/db")
    p.set_defaults(handler=cmd_copy)
    register_serve(sub)


def _register_export(sub) -> None:
    p = sub.add_parser("export", help="export a layer (GeoJSON, GeoPackage, zipped Shapefile, CSV, "
                                      "DXF for CAD, KML/KMZ for field apps)")
    p.add_argument("layer")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--format", choices=sorted([*FORMATS, "txt"]),
                   help="default: from the file suffix; txt = 界址点坐标 报部格式 (GK zone with prefix); "
                        "dxf = CAD drawing in GK metres, a layer per kind, names as text; kml/kmz = placemarks "
                        "with names and attributes (奥维互动地图, Google Earth)")
    p.add_argument("--crs", help="target CRS, e.g. 4547 for a land bureau (default cgcs2000; for dxf the data's "
                                 "GK zone, 4526 = with zone prefix; for kml/kmz wgs84, or gcj02)")
    p.add_argument("--encoding", help="Shapefile/CSV encoding, e.g. GBK (default UTF-8)")
    p.add_argument("--labels", choices=("en", "zh"), default="en", help="column headers")
    p.add_argument("--gpkg-version", choices=("1.2", "1.3", "1.4"), default="1.2",
                   help="GeoPackage version a .gpkg declares (default 1.2: QGIS 3.22 LTR reads it without a warning)")
    p.set_defaults(handler=cmd_export)


def cmd_sample(store, args) -> int:
    if args.province is not None:
        return _sample_province(store, args)
    kwargs = {} if args.seed is None else {"seed": args.seed}
    store = build_sample_store(store, **kwargs)
    print(f"sample city written to {store.uri}")
    _print_layers(store)
    print()
    print_west_big_well(store)
    return 0


def _sample_province(store, args) -> int:
    from gis.network import build_network  # only here: the summary counts the walking graph

    seed = 0 if args.seed is None else args.seed
    store = build_province_store(store, args.province, seed=seed, size=args.size)
    districts = store.read("districts")
    areas = store.read("renewal_areas", columns=["county"])
    services = store.read("services", columns=["category"])
    roads = store.read("roads")
    net = build_network(roads)
    infos = store.layers()
    with store.read_raster("dem") as dem:
        res = abs(dem.transform.a)
        dem_text = f"{dem.width} × {dem.height} cells of {res:g} m ({dem.width * res / 1000:.1f} × " \
                   f"{dem.height * res / 1000:.1f} km, {dem.crs})"
    print(f"synthetic province written to {store.uri} (seed {seed}, size {args.size})")
    print(f"  cities:         {districts.city.nunique()} ({', '.join(sorted(districts.city.unique())[:3])}"
          f"{', …' if districts.city.nunique() > 3 else ''})")
    per_city = districts.groupby("city").size()
    print(f"  districts:      {len(districts)} ({per_city.min()}–{per_city.max()} per city)")
    print(f"  renewal areas:  {len(areas)}")
    print(f"  services:       {len(services)} in {services.category.nunique()} categories")
    print(f"  roads:          {len(roads)} streets; walking network {net.n_nodes:,} nodes "
          f"(~{net.n_nodes // len(per_city):,} per city), {net.n_segments:,} segments, {len(np.unique(net.component))} component(s)")
    print(f"  dem:            {dem_text}")
    synthetic = all(i.synthetic for i in infos)
    print(f"  synthetic:      {'all' if synthetic else 'NOT all'} {len(infos)} layers flagged synthetic "
          "(seeded, not real places)")
    return 0


def print_west_big_well(store) -> None:
    areas = store.read("renewal_areas")
    row = areas[areas.name == WEST_BIG_WELL]
    if row.empty:
        return
    r = row.iloc[0]
    print(f"{WEST_BIG_WELL} (West Big Well), {r.county}: {r.area_mu:,.2f} 亩 = {r.area_m2:,.0f} m²; "
          f"{r.households} 户 / {r.units} 套; 总投资 {r.investment / 10000:g} 亿元; "
          f"status {r.status}; geometry approximate: {bool(r.approximate)}")
    print(f"  {r.note}")


def _print_layers(store) -> None:
    rows = [i.to_dict() for i in store.layers()]
    print_table(rows, [("name", "layer"), ("kind", "kind"), ("feature_count", "features"),
                       ("synthetic", "synthetic"), ("original_crs", "from CRS"), ("source", "source")])


def cmd_layers(store, args) -> int:
    if args.json:
        print_json([i.to_dict() for i in store.layers()])
    else:
        _print_layers(store)
    return 0


def cmd_import(store, args) -> int:
    info, validated = import_file(store, args.file, layer=args.layer, kind=args.kind, crs=args.crs,
                                  encoding=args.encoding, mode=args.mode, source_layer=args.source_layer,
                                  poi_table=args.poi_table, skip_unmapped=args.skip_unmapped)
    for p in validated.repaired + validated.notices:
        print(f"note: {p}", file=sys.stderr)
    print(f"imported {len(validated.frame)} features into {info.name} ({info.kind}, from {info.original_crs}, "
          f"encoding {info.encoding}); the layer now holds {info.feature_count}")
    return 0


def cmd_import_osm(store, args) -> int:
    from layers.imports import import_osm

    bbox = None
    if args.bbox:
        try:
            bbox = tuple(float(v) for v in args.bbox.split(","))
        except ValueError:
            raise InputError(f"--bbox takes W,S,E,N in degrees, got {args.bbox!r}") from None
        if len(bbox) != 4 or bbox[0] >= bbox[2] or bbox[1] >= bbox[3]:
            raise InputError(f"--bbox takes W,S,E,N with W < E and S < N, got {args.bbox!r}")
    layers = tuple(v.strip() for v in args.layers.split(",") if v.strip())
    with progress_bar("reading OSM objects") as bar:
        result = import_osm(store, args.file, bbox=bbox, layers=layers, mode=args.mode, categories=args.categories,
                            walkable=args.walkable, progress=bar)
    print("\n".join(result.summary_lines()))
    return 0


def cmd_export(store, args) -> int:
    info = store.info(args.layer)
    frame = store.read(args.layer)
    if "id" in frame.columns and info.geometry_type:
        frame = frame.drop(columns="id")
    if args.format == "txt" or (args.format is None and str(args.output).lower().endswith(".txt")):
        out = write_landuse_txt(frame, args.output, encoding=args.encoding or "GBK")
        print(f"wrote {len(frame)} parcels of {args.layer} to {out} (报部格式)")
        return 0
    out = write_layer(frame, args.output, fmt=args.format, crs=args.crs, encoding=args.encoding,
                      kind=info.kind, labels=args.labels, layer_name=args.layer, gpkg_version=args.gpkg_version)
    print(f"wrote {len(frame)} features of {args.layer} to {out}")
    return 0


def cmd_targets(store, args) -> int:
    targets = store.read(store.find_kind("targets"))
    if not args.check:
        if args.json:
            print_json(targets.to_dict(orient="records"))
        else:
            print_table(targets.to_dict(orient="records"),
                        [("city", "城市"), ("region", "县（市、区）"), ("year", "年度"), ("metric", "指标"), ("value", "数值")])
        return 0
    districts = store.read(store.find_kind("districts")) if any(i.kind == "districts" for i in store.layers()) else None
    checks = check_targets(targets, districts)
    if args.json:
        print_json([c.to_dict() for c in checks])
    else:
        for c in checks:
            print(("ok    " if c.ok else ("NOTE  " if c.kind == "region" else "FAIL  ")) + c.message)
    return 1 if any(not c.ok and c.kind != "region" for c in checks) else 0


def cmd_copy(store, args) -> int:
    from layers.copy import copy_store
    from layers.store import open_store

    src, dst = open_store(args.source), open_store(args.destination)
    names = copy_store(src, dst, progress=lambda name: print(f"  copied {name}", flush=True))
    print(f"copied {len(names)} layers from {src.uri} to {dst.uri}")
    return 0


def register_serve(sub) -> None:
    p = sub.add_parser("serve", help="serve the store over HTTP (OGC API – Features, analyses, maps)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: the number of cores); each keeps its own caches, "
                        "keyed by layer version, and writes go through the store's lock")
    p.set_defaults(handler=cmd_serve)


def cmd_serve(store, args) -> int:
    import os
    import socket

    import uvicorn

    workers = args.workers or os.cpu_count() or 1
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    # Worker processes build their app from the environment (uvicorn's factory).
    os.environ["RENEWAL_STORE"] = store.location
    store.recover()  # what a killed write left: before any worker reads
    base = f"http://{args.host}:{args.port}"
    print(f"serving {store.uri} at {base}/ with {workers} worker(s)  (maps: {base}/maps/overview, "
          f"API: {base}/api, docs: {base}/docs)", flush=True)
    config = uvicorn.Config("api.app:create_app", factory=True, host=args.host, port=args.port, workers=workers,
                            log_level="warning")
    if workers == 1:
        uvicorn.Server(config).run()
        return 0
    from uvicorn.supervisors import Multiprocess

    # The workers share one listening socket; with Nagle's algorithm on, every response after the
    # first on a kept-alive connection waited ~40 ms for the client's delayed ACK (map tiles:
    # 44 ms each with 2 workers, 1.6 ms with 1). Accepted sockets inherit TCP_NODELAY on Linux.
    sock = config.bind_socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    Multiprocess(config, sockets=[sock]).run()
    return 0
