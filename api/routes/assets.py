"""The maps' static files (``maps.assets``): compressed once per process, answered in one
piece; a URL carrying the file's hash (``?v=``) may be kept by the browser for a year, any
other is revalidated (ETag, 304)."""

from __future__ import annotations

__all__ = ["router"]

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gis.errors import NotFoundError
from maps.assets import STATIC_PREFIX, load_static

router = APIRouter(include_in_schema=False)
#: For a versioned URL: its bytes never change (a new file gets a new URL).
IMMUTABLE = "public, max-age=31536000, immutable"


# async: a dict lookup and a stat (files are read once, at start-up by the warm-up thread)
@router.get(STATIC_PREFIX + "/{path:path}")
async def static_file(path: str, request: Request, v: str | None = None):
    asset = load_static(path)  # a file, or several as one (maps.assets.bundle_url)
    if asset is None:
        raise NotFoundError(f"no static file {path!r}")
    headers = {"ETag": asset.etag, "Vary": "Accept-Encoding",
               "Cache-Control": IMMUTABLE if v == asset.digest else "no-cache"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    if asset.packed is not None and "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"  # the middleware leaves an encoded answer alone
        return Response(asset.packed, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
