"""Analysis commands: services, isochrones."""

from __future__ import annotations

import sys

from gis.accessibility import supply_demand
from gis.errors import InputError
from gis.isochrones import walking_isochrones
from gis.service_reports import area_summary, share_within_standard
from gis.services import nearest_services
from layers.writers import write_layer
from renewal_cli.output import add_dask_options, print_json, print_table
from workflows.inputs import analysis_inputs, resolve_area
from workflows.services import area_supply

JSON_FIELDS = ["category", "nearest_name", "straight_m", "network_m", "count_300", "count_500", "count_1000",
               "standard_m", "meets_standard", "gap_zh", "gap_en"]


def register(sub) -> None:
    p = sub.add_parser("services", help="nearby services of an area against GB 50180-2018")
    p.add_argument("area", nargs="?", help="area id or name, e.g. 西大井片区")
    p.add_argument("--all", action="store_true", help="every renewal area (use with -o)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    p.add_argument("-o", "--output", help="write the report (CSV) to this file")
    p.add_argument("--standards", help="a city's own standards table (CSV or YAML)")
    add_dask_options(p, "with --all -o: the areas' report in partitions (one per county) on a Dask cluster, "
                        "each task reading its areas and the roads and services around them from the store")
    p.add_argument("--with-planned", action="store_true",
                   help="count the stored planned facilities (planned_services layer) as built, "
                        "named '…(规划)'; the supply side stays that of existing facilities")
    p.set_defaults(handler=cmd_services)

    p = sub.add_parser("access", help="supply–demand (2SFCA / E2SFCA) of a category's capacity per area")
    p.add_argument("category", help="a category with capacities, e.g. kindergarten (seats), hospital (beds)")
    p.add_argument("--catchment", type=float, help="metres (default: the category's GB 50180-2018 distance)")
    p.add_argument("--decay", choices=("none", "gaussian"), default="none", help="gaussian = E2SFCA")
    p.add_argument("--persons-per-household", type=float, default=2.62, help="default 2.62 (2020 census)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_access)

    p = sub.add_parser("isochrones", help="walking isochrones (300/500/1000 m) of an area")
    p.add_argument("area")
    p.add_argument("-o", "--output", required=True, help="GeoJSON (or .gpkg/.zip/.csv) file")
    p.set_defaults(handler=cmd_isochrones)


def _report(store, args):
    inputs = analysis_inputs(store, args.standards)
    if args.all:
        origins = inputs.areas
    elif args.area:
        origins = resolve_area(inputs.areas, args.area)
    else:
        raise SystemExit("renewal services: give an AREA or --all")
    if args.with_planned:
        from layers.planned_parse import PLANNED_KIND
        from workflows.planned import planned_report

        if not store.has_kind(PLANNED_KIND):
            print(f"--with-planned: the store has no {PLANNED_KIND} layer yet (save plans from "
                  "an area's map or POST /planned-services); the report counts existing facilities "
                  "only", file=sys.stderr)
        return inputs, origins, planned_report(store, inputs, origins)
    report = nearest_services(origins, inputs.services, network=inputs.network, standards=inputs.standards)
    return inputs, origins, report


def _batch_report(store, args):
    """``services --all --dask``: the same rows as the serial report, computed per county on
    the cluster; only the areas layer is read here."""
    from gis.standards import load_standards
    from workflows.batch import services_batch
    from workflows.cluster import dask_client

    if not (args.all and args.output) or args.with_planned:
        raise InputError("--dask works with --all -o FILE.csv (without --with-planned)")
    standards = load_standards(args.standards) if args.standards else None
    with dask_client(args.dask, workers=args.dask_workers) as client:
        report = services_batch(store, standards=standards, client=client)
    return report


def _print_population_share(store, inputs) -> None:
    """The whole population's share within each standard: every population unit reached from a
    point inside it, weighted by its persons."""
    from gis.accessibility import population_demand

    pop = store.read(store.find_kind("population")).reset_index(drop=True)
    units = pop[["id"]].assign(name=[f"人口单元{i}" for i in pop["id"]])
    units = units.set_geometry(pop.geometry.representative_point().values, crs=pop.crs)
    report = nearest_services(units, inputs.services, network=inputs.network, standards=inputs.standards)
    persons = population_demand(pop).set_axis(pop["id"].to_numpy())
    share = share_within_standard(report, persons)
    print(f"\nthe whole population ({persons.sum():,.0f} persons in {len(pop)} units):")
    print_table(share.assign(households=share.households.round(0).astype(int),
                             households_within=share.households_within.round(0).astype(int),
                             share=(share.share * 100).map(lambda v: f"{v:.1f}%")).to_dict(orient="records"),
                [("category_zh", "设施"), ("households", "总人口"), ("households_within", "达标人口"),
                 ("share", "达标比例")])


def cmd_services(store, args) -> int:
    if args.dask:
        report = _batch_report(store, args)
        report.to_csv(args.output, index=False, encoding="utf-8-sig")
        print(f"wrote {len(report)} rows ({report.origin_id.nunique()} areas) to {args.output}")
        return 0
    inputs, origins, report = _report(store, args)
    if args.output:
        report.to_csv(args.output, index=False, encoding="utf-8-sig")
        print(f"wrote {len(report)} rows ({len(origins)} areas) to {args.output}")
        if args.all:
            share = share_within_standard(report, inputs.areas.set_index("id").households)
            share = share.assign(households=share.households.astype(int),
                                 households_within=share.households_within.astype(int),
                                 share=(share.share * 100).map(lambda v: f"{v:.1f}%"))
            print_table(share.to_dict(orient="records"), [("category_zh", "设施"), ("households", "总户数"),
                                                          ("households_within", "达标户数"), ("share", "达标比例")])
            if store.has_kind("population"):
                _print_population_share(store, inputs)
        return 0
    if args.csv:
        report.to_csv(sys.stdout, index=False)
        return 0
    if args.json:
        out = []
        for (oid, name), rows in report.groupby(["origin_id", "origin_name"], sort=False):
            summary = area_summary(rows).iloc[0]
            out.append({"area_id": oid, "area_name": name, "basis": rows.basis.iloc[0],
                        "categories_met": int(summary.categories_met),
                        "categories_required": int(summary.categories_required),
                        "coverage_score": float(summary.coverage_score),
                        "categories": rows[JSON_FIELDS].astype(object).where(rows[JSON_FIELDS].notna(), None)
                        .to_dict(orient="records")})
        if len(out) == 1:
            out[0]["supply"] = area_supply(store, inputs, origins)
        print_json(out if len(out) != 1 else out[0])
        return 0
    print_services_table(report)
    if len(origins) == 1:
        print_supply(area_supply(store, inputs, origins))
    return 0


def print_supply(supply: dict) -> None:
    """The 2SFCA part of an area's report: what its residents share with everyone around."""
    if not supply["categories"]:
        print("\nsupply: no facility in the services layer has a capacity (2SFCA needs capacities)")
        return
    print(f"\nsupply ({supply['method']}, capacity per 1000 residents within the standard's walking distance); "
          f"demand: {supply['demand']}")
    print_table(supply["categories"], [("category_zh", "设施"), ("catchment_m", "范围(m)"),
                                       ("facilities", "范围内设施"), ("per_1000", "每千人容量")])


def print_services_table(report) -> None:
    for (_, name), rows in report.groupby(["origin_id", "origin_name"], sort=False):
        summary = area_summary(rows).iloc[0]
        basis = rows.basis.iloc[0]
        print(f"{name}: {int(summary.categories_met)}/{int(summary.categories_required)} categories meet "
              f"GB 50180-2018 (coverage {summary.coverage_score:.0%}; distances by {basis})")
        rows = rows.assign(meets_standard=rows.meets_standard.where(rows.required, None))
        print_table(rows.to_dict(orient="records"), [
            ("category_zh", "设施"), ("nearest_name", "最近设施"), ("network_m", "步行(m)"), ("straight_m", "直线(m)"),
            ("count_300", "300m内"), ("count_500", "500m内"), ("count_1000", "1000m内"), ("standard_m", "标准(m)"),
            ("meets_standard", "达标"), ("gap_zh", "缺口")])


def cmd_access(store, args) -> int:
    inputs = analysis_inputs(store)
    population = store.read(store.find_kind("population")) if store.has_kind("population") else None
    result = supply_demand(inputs.areas, inputs.services, args.category, network=inputs.network,
                           catchment_m=args.catchment, decay=args.decay,
                           persons_per_household=args.persons_per_household, population=population)
    if args.json:
        print_json({**result.attrs, "areas": result.to_dict(orient="records")})
        return 0
    print(f"{args.category}: capacity per 1000 residents within {result.attrs['catchment_m']:g} m walking "
          f"({'E2SFCA, Gaussian decay' if args.decay == 'gaussian' else '2SFCA'}; "
          f"{args.persons_per_household:g} persons per household); demand: {result.attrs['demand']}")
    shown = result.assign(households=result.households.astype(int), population=result.population.round(0))
    print_table(shown.sort_values("per_1000").to_dict(orient="records"),
                [("name", "片区"), ("households", "户数"), ("population", "人口"), ("facilities", "设施数"),
                 ("per_1000", "每千人容量")])
    return 0


def cmd_isochrones(store, args) -> int:
    inputs = analysis_inputs(store)
    if inputs.network is None:
        print("error: isochrones need a roads layer; import one with `renewal import FILE --layer roads`",
              file=sys.stderr)
        return 2
    area = resolve_area(inputs.areas, args.area)
    iso = walking_isochrones(area, inputs.network)
    iso.insert(0, "area_name", area.name.iloc[0])
    out = write_layer(iso, args.output)
    print(f"wrote {len(iso)} isochrones of {area.name.iloc[0]} to {out}: " +
          ", ".join(f"{t:g} m → {a / 1e4:,.1f} ha" for t, a in zip(iso.threshold_m, iso.area_m2, strict=True)))
    return 0
