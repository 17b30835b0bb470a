"""Request dependencies: the store, the caller's role (bearer tokens from settings)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.errors import AuthError, ForbiddenError
from api.settings import Settings, get_settings
from layers.store import LayerStore, open_store


def get_store(request: Request) -> LayerStore:
    return request.app.state.store


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def reader(request: Request) -> str:
    settings: Settings = request.app.state.settings
    readers = settings.tokens("read")
    if not readers:
        return "anonymous"
    token = _token(request)
    editors = settings.tokens("edit")
    if token is None:
        raise AuthError("reads need a bearer token on this server (Authorization: Bearer …)")
    if token in readers:
        return readers[token]
    if token in editors:
        return editors[token]
    raise ForbiddenError("this token may not read")


def editor(request: Request) -> str:
    settings: Settings = request.app.state.settings
    editors = settings.tokens("edit")
    token = _token(request)
    if token is None:
        raise AuthError("changes need a bearer token with the edit role (Authorization: Bearer …)")
    if token not in editors:
        raise ForbiddenError("this token has no edit role")
    return editors[token]


def base_url(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")


Store = Annotated[LayerStore, Depends(get_store)]
Reader = Annotated[str, Depends(reader)]
Editor = Annotated[str, Depends(editor)]
BaseURL = Annotated[str, Depends(base_url)]

__all__ = ["Store", "Reader", "Editor", "BaseURL", "get_settings", "open_store"]
