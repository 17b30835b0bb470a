"""Progress against the yearly targets (issue #14): ``GET /analysis/progress``."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import Reader, Store
from layers.progress_xlsx import write_progress_csv, write_progress_xlsx
from workflows.progress import progress_choices, progress_report

router = APIRouter(prefix="/analysis", tags=["Analysis"])

_MEDIA = {"csv": "text/csv; charset=utf-8",
          "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


City = Annotated[str, Query(min_length=1, max_length=100, description="city of the target table, e.g. 焦作市")]
Year = Annotated[str, Query(max_length=20, pattern=r"^(\d{4}|Y\d{1,2})(-(\d{4}|Y\d{1,2}))?$",
                            description="2023, a span 2023-2024, or a plan year Y1")]
AsOf = Annotated[date | None, Query(description="count events up to this day (default today)")]
PlanStart = Annotated[int | None, Query(ge=1949, le=2100, description="calendar year of plan year Y1")]
Format = Annotated[Literal["json", "csv", "xlsx"], Query(description="json, or a csv/xlsx download")]


@router.get("/progress", summary="Progress against a city's yearly targets: per county, deadlines, overdue projects")
def progress(store: Store, _: Reader, city: City, year: Year, as_of: AsOf = None, plan_start: PlanStart = None,
             f: Format = "json"):
    report = progress_report(store, city=city, year=year, as_of=as_of, plan_start=plan_start)
    if f == "json":
        return report
    with tempfile.TemporaryDirectory(prefix="progress-") as folder:
        path = Path(folder) / f"progress.{f}"
        (write_progress_csv(report, path) if f == "csv" else write_progress_xlsx([report], path))
        body = path.read_bytes()
    name = f"progress-{report['year']}.{f}"
    return Response(body, media_type=_MEDIA[f], headers={"Content-Disposition": f"attachment; filename={name}"})


@router.get("/progress/choices", summary="Cities and years a progress report can be asked for")
def choices(store: Store, _: Reader) -> dict:
    return {"cities": progress_choices(store)}
