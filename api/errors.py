"""Errors → RFC 7807 ``application/problem+json``, mapped in one place.

Bad input never becomes a 500: every error the project raises on purpose maps to a 4xx,
and FastAPI's own validation errors are rewritten to say which parameter to fix.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis.errors import CRSError, InputError, NotFoundError, RenewalError, ValidationError

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


class AuthError(RenewalError):
    status = 401


class ForbiddenError(RenewalError):
    status = 403


class TooLargeError(RenewalError):
    status = 413


#: Exception class → HTTP status (first match wins, most specific first).
STATUS: list[tuple[type[Exception], int]] = [
    (AuthError, 401), (ForbiddenError, 403), (TooLargeError, 413), (NotFoundError, 404),
    (ValidationError, 422), (CRSError, 400), (InputError, 400), (FileExistsError, 409),
]


def problem(status: int, title: str, detail: str, **extra) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def add_exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(RenewalError)
    async def _renewal(request: Request, exc: RenewalError):
        status = next((s for cls, s in STATUS if isinstance(exc, cls)), 400)
        extra = {}
        if isinstance(exc, ValidationError) and exc.problems:
            extra["problems"] = [{"row": p.row, "field": p.field, "message": p.message} for p in exc.problems[:200]]
        return problem(status, type(exc).__name__, str(exc).split("\n")[0] if extra else str(exc), **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        parts = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("query", "path", "body"))
            parts.append(f"{where or 'request'}: {err.get('msg')}")
        return problem(400, "Bad request", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no resource at {request.url.path}; start at / for the links"
        return problem(exc.status_code, "HTTP error", detail)
