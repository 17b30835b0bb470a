"""Work pages for editors: drawing and editing renewal areas (``/maps/edit``), importing a
file as a layer (``/maps/import``), and ``/whoami``, which tells those pages whether the
token typed into their sign-in form may edit.

The pages are shells: they read and write through the API (``/collections/…/items``,
``/imports``) with the editor's token in an ``Authorization`` header, kept in the browser
tab's ``sessionStorage``; it never goes into a URL or a cookie. When reads are closed the
pages themselves need the reader cookie of ``/login``, like the other maps.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import Reader, Store, bearer_token
from api.errors import AuthError
from api.routes.maps import Lang
from layers.features import read_layer_cached
from layers.schemas import SCHEMAS
from maps.i18n import STATUS_COLORS, t, vocabulary
from maps.pages import render_page

router = APIRouter(tags=["Maps"])

#: Where the edit map opens when the store has no renewal areas yet (mainland China).
_CHINA = (73.5, 18.0, 135.0, 53.6)
#: Context layers drawn under the areas (never edited): kind → (properties, minimum zoom).
_CONTEXT = {"districts": ("name", 0), "roads": ("name,road_class", 14)}
#: Messages the pages' scripts show (keys of ``maps.i18n.TEXT``).
_SCRIPT_TEXT = ("ed_signed_in", "ed_token_empty", "ed_token_invalid", "ed_no_edit_role",
                "ed_sign_in_first", "ed_offline", "ed_failed", "ed_draw_hint", "ed_new_area",
                "ed_shape", "ed_area_value", "ed_area_pending", "ed_reshape_hint",
                "ed_confirm_delete", "ed_saved", "ed_deleted", "ed_reloaded", "ed_problems",
                "ed_stale", "ed_gone", "ed_too_large", "ed_truncated", "ed_pick_none",
                "im_running", "im_done", "im_problems", "im_failed", "im_file_missing", "im_row",
                "im_field", "im_problem", "im_layer", "im_kind", "im_count", "im_source_crs",
                "im_encoding", "im_repaired", "im_notices", "im_sign_in_first", "im_layer_missing")
#: CRS suggestions of the import form (any EPSG code is accepted as well).
_CRS_CHOICES = (("4490", "CGCS2000 经纬度 (EPSG:4490)"),
                ("4326", "WGS 84 经纬度 (EPSG:4326)"), ("gcj02", "GCJ-02 高德/腾讯"), ("bd09", "BD-09 百度"),
                ("4546", "CGCS2000 3° 带 111°E (EPSG:4546)"),
                ("4547", "CGCS2000 3° 带 114°E (EPSG:4547)"),
                ("4548", "CGCS2000 3° 带 117°E (EPSG:4548)"))
_ENCODINGS = ("utf-8", "gbk", "gb18030")


def _script_text(lang: str) -> dict[str, str]:
    return {key: t(lang, key) for key in _SCRIPT_TEXT}


def _field_labels(lang: str) -> dict[str, dict[str, str]]:
    """kind → field → Chinese label, to name the fields of import problems (none in English)."""
    if lang == "en":
        return {}
    return {kind: {f.name: f.label_zh for f in schema.fields} for kind, schema in SCHEMAS.items()}


def _edit_config(store, lang: str) -> dict:
    layer = store.find_kind("renewal_areas")
    areas = read_layer_cached(store, layer)
    west, south, east, north = areas.total_bounds if len(areas) else _CHINA
    present = {i.kind for i in store.layers() if i.is_vector}
    context = [{"id": kind, "url": f"/maps/data/{store.find_kind(kind)}?properties={props}",
                "minZoom": zoom} for kind, (props, zoom) in _CONTEXT.items() if kind in present]
    return {"lang": lang, "collection": layer, "bounds": [[south, west], [north, east]],
            "context": context, "statusColors": STATUS_COLORS,
            "kinds": vocabulary(lang, "renewal_kind"),
            "statuses": vocabulary(lang, "renewal_status"),
            "text": _script_text(lang)}


@router.get("/maps/edit", response_class=HTMLResponse, summary="Draw and edit renewal areas")
def edit_page(store: Store, _: Reader, lang: Lang = "zh"):
    config = _edit_config(store, lang)
    return render_page("edit.html", lang=lang, title=t(lang, "nav_edit"), config=config,
                       kinds=config["kinds"], statuses=config["statuses"])


@router.get("/maps/import", response_class=HTMLResponse, summary="Import a file as a layer")
def import_page(store: Store, _: Reader, lang: Lang = "zh"):
    kinds = {k: (s.label_zh if lang != "en" else k) for k, s in SCHEMAS.items()}
    layers = [(i.name, kinds.get(i.kind, i.kind)) for i in store.layers()]
    return render_page("import.html", lang=lang, title=t(lang, "nav_import"), kinds=kinds,
                       layers=layers, crs_choices=_CRS_CHOICES, encodings=_ENCODINGS,
                       config={"lang": lang, "text": _script_text(lang),
                               "fieldLabels": _field_labels(lang)})


@router.get("/whoami", summary="Whom the bearer token belongs to and its roles (the edit pages' "
            "sign-in); 401 for a missing or unknown token")
def whoami(request: Request) -> dict:
    settings = request.app.state.settings
    token = bearer_token(request.headers)
    if token is None:
        raise AuthError("send the token as Authorization: Bearer …")
    editor = settings.user_for(token, "edit")
    user = editor or settings.user_for(token, "read")
    if user is None:
        raise AuthError("this token is not known to the server; check it with the administrator")
    return {"user": user, "roles": ["read", "edit"] if editor else ["read"]}


__all__ = ["router"]
