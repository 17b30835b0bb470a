"""The HTTP API: a thin FastAPI shell over ``layers``, ``gis`` and ``maps``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse

from api.errors import add_exception_handlers
from api.openapi import to_openapi_30
from api.routes import analysis, edits, exports, features, maps, rasters
from api.settings import Settings, get_settings
from layers.store import open_store


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="renewal-gis", version="0.1.0", docs_url="/docs", openapi_url="/openapi.json",
                  description="城市更新规划: layers (OGC API – Features), analyses, site selection, exports")
    app.state.settings = settings
    app.state.store = open_store(settings.store)
    add_exception_handlers(app)
    # GeoJSON compresses ~6x: maps loading thousands of parcels by view stay light.
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)
    for module in (features, edits, analysis, exports, rasters, maps):
        app.include_router(module.router)
    maps.mount_static(app)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        from fastapi.responses import Response

        return Response(status_code=204)

    @app.get("/api", include_in_schema=False)
    def openapi_30():
        return JSONResponse(to_openapi_30(app.openapi()), media_type="application/vnd.oai.openapi+json;version=3.0")

    return app
