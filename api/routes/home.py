"""The home page a planner opens first (``/`` for browsers), and ``/maps`` → ``/``.

``/`` itself is the OGC API landing route (``api.routes.features.landing``): it answers
JSON clients with the landing document and browsers with :func:`home_response`, choosing
as pygeoapi does (``f`` wins over ``Accept``; see :func:`wants_html`).
"""

from __future__ import annotations

__all__ = ["router", "wants_html", "home_response"]

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import Reader
from gis.errors import NotFoundError
from layers.features import read_layer_cached
from layers.store import LayerStore
from maps.i18n import STATUS_COLORS, t, vocabulary
from maps.pages import NAV, render_page

router = APIRouter(tags=["Home"])
Lang = Annotated[str | None, Query(pattern="^(zh|en)$")]
#: Responses that depend on the request's ``Accept`` header say so to caches.
VARY = {"Vary": "Accept"}


def _quality(accept: str, media_type: str) -> float:
    """The q-value ``accept`` gives exactly ``media_type`` (0 when it is not listed)."""
    best = 0.0
    for part in accept.split(","):
        kind, *params = (p.strip() for p in part.split(";"))
        if kind.lower() != media_type:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = max(best, q)
    return best


def wants_html(accept: str, f: str | None) -> bool:
    """Whether to answer with the HTML page: ``f=html``, or no ``f`` and an ``Accept`` that
    names text/html above application/json (what browsers send). ``*/*`` or no ``Accept``
    at all gets JSON, so API clients and scripts keep the landing document.

    Examples
    --------
    >>> wants_html("text/html,application/xhtml+xml,*/*;q=0.8", None)
    True
    >>> wants_html("text/html", "json"), wants_html("*/*", None), wants_html("", "html")
    (False, False, True)
    >>> wants_html("application/json, text/html;q=0.5", None)
    False
    """
    if f is not None:
        return f == "html"
    html = _quality(accept, "text/html")
    return html > 0 and html > _quality(accept, "application/json")


def _number(value, digits: int = 0) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:,.{digits}f}"


def _text(value) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def _rows(areas, lang: str) -> list[dict]:
    """One dict per area, with the labels and formatted numbers the table shows."""
    kinds, statuses = vocabulary(lang, "renewal_kind"), vocabulary(lang, "renewal_status")
    rows = []
    for a in areas.drop(columns="geometry").to_dict("records"):
        kind, status = _text(a.get("kind")), _text(a.get("status"))
        households, mu = a.get("households"), a.get("area_mu")
        rows.append({
            "id": int(a["id"]), "name": _text(a.get("name")), "county": _text(a.get("county")),
            "kind": kind, "kind_label": kinds.get(kind, kind or "—"),
            "status": status, "status_label": statuses.get(status, status or "—"),
            "color": STATUS_COLORS.get(status, "#ccc"),
            "households": 0 if _text(households) == "" else int(households),
            "households_text": _number(households),
            "mu": 0.0 if _text(mu) == "" else float(mu), "mu_text": _number(mu, 1),
            "plan_year": _number(a.get("plan_year")).replace(",", ""),
        })
    return rows


def _summary(lang: str, rows: list[dict]) -> str:
    households, mu = sum(r["households"] for r in rows), sum(r["mu"] for r in rows)
    return t(lang, "home_summary").format(n=len(rows), households=f"{households:,}",
                                          mu=f"{mu:,.1f}")


def home_response(store: LayerStore, lang: str) -> HTMLResponse:
    """The home page: the renewal areas (search, filters, links to their maps) and the pages."""
    try:
        areas = read_layer_cached(store, store.find_kind("renewal_areas"))
    except NotFoundError:
        areas = None  # an empty store: the page says to import the areas first
    rows = _rows(areas, lang) if areas is not None else []
    kinds, statuses = vocabulary(lang, "renewal_kind"), vocabulary(lang, "renewal_status")
    present = {"kind": {r["kind"] for r in rows}, "status": {r["status"] for r in rows}}
    html = render_page(
        "home.html", lang=lang, title=t(lang, "app_title"), rows=rows, has_layer=areas is not None,
        pages=[(t(lang, key), path, t(lang, f"{key}_desc")) for key, path in NAV],
        counties=sorted({r["county"] for r in rows if r["county"]}),
        kinds=[(k, v) for k, v in kinds.items() if k in present["kind"]],
        statuses=[(k, v) for k, v in statuses.items() if k in present["status"]],
        summary=_summary(lang, rows))
    return HTMLResponse(html, headers=VARY)


@router.get("/maps", include_in_schema=False)
@router.get("/maps/", include_in_schema=False)
def maps_index(_: Reader, lang: Lang = None):
    """The maps' index is the home page."""
    return RedirectResponse(f"/?lang={lang}" if lang else "/", status_code=307)
