"""Request dependencies: the store, the caller's role (bearer tokens from settings).

Reads accept the token as ``Authorization: Bearer …`` or as the ``renewal_token`` cookie
that ``/login`` sets for browsers (map pages, their data and tiles are fetched by the
browser, which cannot add a header to a page or an image); changes take the header only,
so a page on another site cannot make a browser edit with its cookie.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.errors import AuthError, ForbiddenError
from api.settings import Settings, get_settings
from layers.store import LayerStore, open_store

TOKEN_COOKIE = "renewal_token"


def get_store(request: Request) -> LayerStore:
    return request.app.state.store


def bearer_token(headers) -> str | None:
    header = headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def check_reader(settings: Settings, token: str | None) -> str:
    """The reader's name; AuthError/ForbiddenError when reads are closed to this caller."""
    if not settings.tokens("read"):
        return "anonymous"
    if token is None:
        raise AuthError("reads need a bearer token on this server (Authorization: Bearer …, or sign in at "
                        "/login in a browser)")
    user = settings.user_for(token, "read")
    if user is None:
        raise ForbiddenError("this token may not read")
    return user


def check_editor(settings: Settings, token: str | None) -> str:
    """The editor's name; AuthError/ForbiddenError unless the token has the edit role."""
    if token is None:
        raise AuthError("changes need a bearer token with the edit role (Authorization: Bearer …)")
    user = settings.user_for(token, "edit")
    if user is None:
        raise ForbiddenError("this token has no edit role")
    return user


def reader(request: Request) -> str:
    token = bearer_token(request.headers) or request.cookies.get(TOKEN_COOKIE)
    return check_reader(request.app.state.settings, token)


def editor(request: Request) -> str:
    return check_editor(request.app.state.settings, bearer_token(request.headers))


def base_url(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")


Store = Annotated[LayerStore, Depends(get_store)]
Reader = Annotated[str, Depends(reader)]
Editor = Annotated[str, Depends(editor)]
BaseURL = Annotated[str, Depends(base_url)]

__all__ = ["Store", "Reader", "Editor", "BaseURL", "get_settings", "open_store", "check_reader", "check_editor",
           "bearer_token", "TOKEN_COOKIE"]
