"""Errors → RFC 7807 ``application/problem+json``, mapped in one place by class.

Bad input never becomes a 500: every error the project raises on purpose maps to a 4xx by
its class (first match in :data:`STATUS`, most specific first), and FastAPI's own
validation errors are rewritten to say which parameter to fix. Anything else is a bug: it
is logged with an id, and the client gets a 500 naming that id, without a traceback.
Messages never show the server's folders: the store's and temporary paths are cut to
their file names.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import uuid
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis.errors import (
    ConflictError,
    CRSError,
    InputError,
    MalformedError,
    NotFoundError,
    PreconditionError,
    RenewalError,
    ValidationError,
)

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


class AuthError(RenewalError):
    """No credentials where they are needed (401)."""


class ForbiddenError(RenewalError):
    """Credentials without the role the request needs (403)."""


class TooLargeError(RenewalError):
    """A request body over the configured limit (413)."""


#: Exception class → HTTP status (first match wins, most specific first).
STATUS: list[tuple[type[Exception], int]] = [
    (AuthError, 401), (ForbiddenError, 403), (TooLargeError, 413), (NotFoundError, 404),
    (PreconditionError, 412), (ConflictError, 409), (MalformedError, 400), (ValidationError, 422), (CRSError, 400),
    (InputError, 400), (FileExistsError, 409), (RenewalError, 400),
]
#: The statuses the API answers on purpose (listed in the OpenAPI document).
ERROR_STATUSES = {400: "Bad request: the detail says what to fix", 401: "A bearer token is needed",
                  403: "The token lacks the role", 404: "No such collection, feature, area or layer",
                  409: "Conflicts with what is stored", 412: "If-Match: the feature changed since it was read",
                  413: "The request body is over the limit", 422: "The features failed validation (problems listed)"}


def status_for(exc: BaseException) -> int:
    return next((s for cls, s in STATUS if isinstance(exc, cls)), 500)


def scrub(text: str, folders: list[str] | tuple = ()) -> str:
    """``text`` with any path under the temporary folder or ``folders`` (absolute) cut to its
    last part."""
    prefixes = {os.path.realpath(tempfile.gettempdir()), tempfile.gettempdir(), *folders}
    for prefix in sorted((p.rstrip("/") + "/" for p in prefixes if os.path.isabs(p) and p != "/"),
                         key=len, reverse=True):
        text = re.sub(re.escape(prefix) + r"[^\s'\"]*", lambda m: os.path.basename(m.group(0)) or "…", text)
    return text


def problem(status: int, title: str, detail: str, **extra) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def error_problem(exc: RenewalError, folders: list[str] | tuple = ()) -> JSONResponse:
    """The problem document of one of our errors (used by the handlers and the body guard)."""
    extra = {}
    detail = str(exc)
    if isinstance(exc, ValidationError) and exc.problems:
        extra["problems"] = [{"row": None if p.row is None else int(p.row), "field": p.field,
                              "message": scrub(p.message, folders)}
                             for p in exc.problems[:200]]
        detail = exc.summary
    return problem(status_for(exc), type(exc).__name__, scrub(detail, folders), **extra)


def _store_folders(request: Request) -> list[str]:
    path = getattr(request.app.state.store, "path", None)
    return [os.path.dirname(os.path.realpath(path)), os.path.dirname(os.path.abspath(path))] if path else []


def add_exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(RenewalError)
    async def _renewal(request: Request, exc: RenewalError):
        if isinstance(exc, AuthError) and request.method == "GET" and \
                "text/html" in request.headers.get("accept", ""):  # a browser: to the sign-in page
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        return error_problem(exc, _store_folders(request))

    @app.exception_handler(FileExistsError)
    async def _exists(request: Request, exc: FileExistsError):
        return problem(409, "Conflict", scrub(f"{exc.filename or exc} exists", _store_folders(request)))

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

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        error_id = uuid.uuid4().hex[:12]
        log.error("error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
        return problem(500, "Internal error", f"the server failed on this request (error id {error_id}); "
                       "the operator finds the details in the server log under that id", error_id=error_id)
