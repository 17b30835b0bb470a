"""``renewal report``: printable PDF reports (issue #15) of an area, or of a city's progress."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gis.errors import InputError
from maps.report_pdf import LANGS, RENDER_STEPS, render_area_pdf, render_progress_pdf, write_atomic
from renewal_cli.output import iso_date
from workflows.documents import (
    AREA_SECTIONS,
    MAX_UNITS,
    area_document,
    progress_document,
    read_weights,
)


def register(sub) -> None:
    p = sub.add_parser("report", help="a printable PDF: an area's report, or a city's progress (--progress)",
                       description="Write an A4 PDF: an area's title block, location map, services against "
                                   "GB 50180-2018, resettlement sites and its county's progress; or, with "
                                   "--progress, a city's progress against its yearly targets.")
    p.add_argument("area", nargs="?", help="area id or name, e.g. 西大井片区")
    p.add_argument("-o", "--output", required=True, help="the PDF file to write (replaced if it exists)")
    p.add_argument("--lang", choices=LANGS, default="zh", help="language of the report (default zh)")
    p.add_argument("--template", metavar="DIR", help="a folder of templates/labels replacing the defaults "
                                                     "(copy maps/templates/reports and edit it)")
    p.add_argument("--as-of", type=iso_date, default=None, help="count progress up to this day (YYYY-MM-DD; default today)")
    p.add_argument("--units", type=_units, help="units to resettle (default: the area's units)")
    p.add_argument("--with-planned", action="store_true", help="count the stored planned facilities as built")
    p.add_argument("--sensitivity", action="store_true", help="add the stability of the top three sites")
    p.add_argument("--weights", help="criteria/weights file for site selection (YAML or JSON; may hold an AHP matrix)")
    p.add_argument("--max-distance", type=float, help="metres from the area for site selection (default 3000)")
    p.add_argument("--progress", action="store_true", help="the progress report of --city and --year instead")
    p.add_argument("--city", help="with --progress: city of the target table, e.g. 焦作市")
    p.add_argument("--year", help="with --progress: target year, e.g. 2023")
    p.set_defaults(handler=cmd_report)


def _units(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 0 < value <= MAX_UNITS:
        raise argparse.ArgumentTypeError(f"expected a whole number of units from 1 to {MAX_UNITS:,}, got {text!r}")
    return value


def _check(args) -> None:
    if args.progress:
        missing = [flag for flag, value in (("--city", args.city), ("--year", args.year)) if not value]
        if missing or args.area:
            raise InputError("renewal report --progress takes --city and --year"
                             + (f" (missing {', '.join(missing)})" if missing else "") + ", not an area")
    elif not args.area:
        raise InputError("renewal report: give an AREA (id or name), or --progress --city CITY --year YEAR")
    elif args.city or args.year:
        raise InputError("--city and --year go with --progress; an area's report takes the area's own city and year")
    if args.template and not Path(args.template).is_dir():
        raise InputError(f"--template {args.template}: no such folder (copy maps/templates/reports and edit the copy)")
    if Path(args.output).is_dir():
        raise InputError(f"-o {args.output} is a folder; give the PDF's file name")


def _bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="report", unit="section", file=sys.stderr, disable=not sys.stderr.isatty(),
                leave=False)


def cmd_report(store, args) -> int:
    _check(args)
    if args.progress:
        with _bar(2) as bar:
            doc = progress_document(store, city=args.city, year=args.year, as_of=args.as_of)
            bar.update(1)
            pdf = render_progress_pdf(doc, lang=args.lang, template_dir=args.template,
                                      on_step=lambda name: bar.set_postfix_str(name) or bar.update(1))
        what = f"{args.city} {args.year} progress"
    else:
        weights = read_weights(args.weights) if args.weights else None
        with _bar(len(AREA_SECTIONS) + len(RENDER_STEPS)) as bar:
            def step(name: str) -> None:
                bar.set_postfix_str(name)
                bar.update(1)

            doc = area_document(store, args.area, units=args.units, with_planned=args.with_planned,
                                sensitivity=args.sensitivity, weights=weights, max_distance=args.max_distance,
                                as_of=args.as_of, on_section=step)
            pdf = render_area_pdf(doc, lang=args.lang, template_dir=args.template, on_step=step)
        what = f"the report of {doc['area']['name']}"
    out = write_atomic(pdf, args.output)
    print(f"wrote {what} to {out} ({len(pdf) / 1e6:.2f} MB)")
    return 0
