"""``renewal progress``: a city's progress against its yearly targets (issue #14)."""

from __future__ import annotations

from layers.progress_xlsx import (
    MILESTONE_LABELS,
    STATE_LABELS,
    write_progress_csv,
    write_progress_xlsx,
)
from renewal_cli.output import iso_date, print_json, print_table
from workflows.progress import progress_report


def register(sub) -> None:
    p = sub.add_parser("progress", help="progress against the yearly targets: per county, deadlines, overdue projects")
    p.add_argument("--city", required=True, help="city of the target table, e.g. 焦作市")
    p.add_argument("--year", required=True, help="target year: 2023, a span 2023-2024, or a plan year Y1")
    p.add_argument("--as-of", type=iso_date, default=None, help="count events up to this day (YYYY-MM-DD; default today)")
    p.add_argument("--plan-start", type=int, default=None,
                   help="calendar year of plan year Y1 (tables whose document gives no calendar years)")
    p.add_argument("--deadlines", help="CSV replacing the deadline table (layers/data/deadlines.csv)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the report as JSON")
    out.add_argument("--csv", metavar="FILE", help="write one row per county and metric (UTF-8, Chinese headers)")
    out.add_argument("--xlsx", metavar="FILE", help="write the seed's table layout, and a sheet of overdue projects")
    p.set_defaults(handler=cmd_progress)


def cmd_progress(store, args) -> int:
    report = progress_report(store, city=args.city, year=args.year, as_of=args.as_of,
                             deadlines_file=args.deadlines, plan_start=args.plan_start)
    if args.json:
        print_json(report)
    elif args.csv:
        write_progress_csv(report, args.csv)
        print(f"wrote {len(report['rows'])} rows of {args.city} {args.year} to {args.csv}")
    elif args.xlsx:
        write_progress_xlsx([report], args.xlsx)
        print(f"wrote {args.city} {args.year} and {len(report['overdue'])} overdue project(s) to {args.xlsx}")
    else:
        print_report(report)
    return 0


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def print_report(report: dict) -> None:
    """The report as the bureau reads it: per county and metric, then the overdue projects."""
    states, milestones = STATE_LABELS["zh"], MILESTONE_LABELS["zh"]
    print(f"{report['city']} {report['year']} 年度目标任务完成情况（截至 {report['as_of']}）"
          + ("  [模拟数据]" if report["synthetic"] else ""))
    rows = [{**r, "target": _number(r["target"]), "actual": _number(r["actual"]), "label": report["labels"].get(r["metric"], r["metric"]), "state_zh": states[r["state"]],
             "percent": f"{r['share']:.1%}", "region_zh": r["region"] + ("*" if not r["district_match"] else "")}
            for r in report["rows"]]
    print_table(rows, [("region_zh", "县（市）区"), ("label", "指标"), ("target", "目标"), ("actual", "完成"),
                       ("percent", "完成率"), ("due", "应完成日期"), ("state_zh", "状态")])
    unmatched = {r["region"]: r["note"] for r in report["rows"] if not r["district_match"]}
    for region, note in unmatched.items():
        print(f"* {region}: {note}")
    print(f"\n逾期项目（{len(report['overdue'])} 个）")
    if report["overdue"]:
        print_table([{**o, "milestone_zh": milestones[o["milestone"]]} for o in report["overdue"]],
                    [("area", "项目名称"), ("county", "县（市）区"), ("milestone_zh", "逾期节点"), ("due", "应完成日期"),
                     ("days_late", "逾期天数")])
    else:
        print("无逾期项目")
    for m in report["status_mismatches"]:
        print(f"状态不一致: {m['area']} 存储为 {m['stored']}，节点显示 {m['derived']}（{m['date'] or '无节点'}）")
    for note in report["notes"]:
        print(f"注: {note}")
