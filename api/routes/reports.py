"""Printable reports (issue #15): ``GET /reports/areas/{area}.pdf`` and ``GET /reports/progress.pdf``.

The numbers come from the workflows the analysis routes answer with; site selection runs on
the surfaces the site-selection route keeps, so a report equals that answer for the same
request.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api.deps import Reader, Store
from api.routes.analysis import SURFACES
from api.routes.progress import AsOf, City, Year
from maps.report_pdf import render_area_pdf, render_progress_pdf
from workflows.documents import MAX_UNITS, area_document, progress_document

router = APIRouter(prefix="/reports", tags=["Reports"])

Lang = Annotated[Literal["zh", "en"], Query(description="language of the report")]
Units = Annotated[int | None, Query(gt=0, le=MAX_UNITS, description="units to resettle (default: the area's)")]
MaxDistance = Annotated[float | None, Query(gt=0, le=20000, description="metres from the area for site selection")]
_PDF = {200: {"content": {"application/pdf": {}}, "description": "the report, A4 portrait"}}


def _pdf(body: bytes, ascii_name: str, name: str) -> Response:
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f"inline; filename=\"{ascii_name}\"; "
                                                    f"filename*=UTF-8''{quote(name)}"})


@router.get("/areas/{area}.pdf", response_class=Response, responses=_PDF,
            summary="An area's printable report: title block, location map, services, sites, progress")
def area_report(area: Annotated[str, Path(description="area id or name")], request: Request, store: Store,
                _: Reader, lang: Lang = "zh", units: Units = None, with_planned: bool = False,
                sensitivity: bool = False, max_distance: MaxDistance = None, as_of: AsOf = None):
    doc = area_document(store, area, units=units, with_planned=with_planned, sensitivity=sensitivity,
                        max_distance=max_distance, as_of=as_of, surfaces=SURFACES,
                        raster_dirs=request.app.state.settings.raster_folders())
    return _pdf(render_area_pdf(doc, lang=lang), f"report-area-{doc['area']['id']}.pdf", f"{doc['area']['name']}.pdf")


@router.get("/progress.pdf", response_class=Response, responses=_PDF,
            summary="A city's progress against its yearly targets, printable")
def progress_report(store: Store, _: Reader, city: City, year: Year, as_of: AsOf = None, lang: Lang = "zh"):
    doc = progress_document(store, city=city, year=year, as_of=as_of)
    report = doc["report"]
    return _pdf(render_progress_pdf(doc, lang=lang), f"progress-{report['year']}.pdf",
                f"{report['city']}-{report['year']}.pdf")

