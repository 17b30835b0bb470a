"""The HTTP API: a thin FastAPI shell over ``layers``, ``gis`` and ``maps``."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response

from api.errors import ERROR_STATUSES, PROBLEM, add_exception_handlers
from api.guard import RequestGuard
from api.openapi import to_openapi_30
from api.routes import (
    analysis,
    assets,
    edits,
    exports,
    features,
    home,
    login,
    maps,
    planned,
    progress,
    progress_page,
    rasters,
    reports,
    tiles,
    workpages,
)
from api.settings import Settings, get_settings
from api.warm import start_warming
from layers.store import open_store

_PROBLEM_SCHEMA = {"type": "object", "properties": {
    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "detail": {"type": "string"}, "problems": {"type": "array", "items": {"type": "object"}}}}
#: The error statuses each router's operations can answer (documented in the OpenAPI document).
_ROUTER_STATUSES = {features: (400, 401, 403, 404), edits: (400, 401, 403, 404, 409, 412, 413, 422),
                    analysis: (400, 401, 403, 404, 413, 422), exports: (400, 401, 403, 404),
                    rasters: (400, 401, 403, 404), maps: (400, 401, 403, 404), login: (400, 401, 403, 413),
                    home: (400, 401, 403), planned: (400, 401, 403, 404, 413, 422),
                    workpages: (400, 401, 403, 404), progress: (400, 401, 403, 404),
                    progress_page: (400, 401, 403, 404), tiles: (400, 401, 403, 404),
                    reports: (400, 401, 403, 404)}


def _responses(statuses) -> dict:
    return {s: {"description": ERROR_STATUSES[s], "content": {PROBLEM: {"schema": _PROBLEM_SCHEMA}}}
            for s in statuses}


@asynccontextmanager
async def _lifespan(app: FastAPI):
    if app.state.settings.warm:
        start_warming(app)
    yield


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="renewal-gis", version="0.1.0", docs_url="/docs", openapi_url="/openapi.json",
                  description="城市更新规划: layers (OGC API – Features), analyses, site selection, exports",
                  lifespan=_lifespan)
    app.state.settings = settings
    app.state.store = open_store(settings.store)
    app.state.warming = "off"
    add_exception_handlers(app)
    # GeoJSON compresses ~6x: maps loading thousands of parcels by view stay light.
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)
    app.add_middleware(RequestGuard, settings=settings)  # outermost: before any body is read
    for module, statuses in _ROUTER_STATUSES.items():
        app.include_router(module.router, responses=_responses(statuses))
    app.include_router(assets.router)

    @app.get("/health", include_in_schema=False)
    async def health():
        """For load balancers and scripts: this worker answers; its warm-up (api/warm.py) is
        "running", "done", "stopped" (an error, logged) or "off"."""
        return {"status": "ok", "worker": os.getpid(), "warming": app.state.warming}

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return Response(status_code=204)

    @app.get("/api", include_in_schema=False)
    def openapi_30():
        return JSONResponse(to_openapi_30(app.openapi()), media_type="application/vnd.oai.openapi+json;version=3.0")

    return app
