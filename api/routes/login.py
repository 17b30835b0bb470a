"""Signing a browser in when reads are closed: the token goes into an HttpOnly cookie that
the map pages, their data and their tiles then carry (never into a URL)."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import TOKEN_COOKIE, check_reader

router = APIRouter(tags=["Sign in"])


def _safe_next(target: str | None) -> str:
    # Only paths of this server: never an open redirect to another site.
    return target if target and target.startswith("/") and not target.startswith("//") else "/maps/overview"


@router.get("/login", response_class=HTMLResponse, summary="Sign-in page (browsers, when reads are closed)")
def login_page(next: str | None = None, error: str | None = None) -> str:
    message = f'<p role="alert" class="error">{escape(error)}</p>' if error else ""
    return f"""<!doctype html><html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>登录 · 城市更新规划</title>
<link rel="stylesheet" href="/static/maps/renewal.css"></head>
<body class="login"><main><h1>城市更新规划</h1>{message}
<form method="post" action="/login"><input type="hidden" name="next" value="{escape(_safe_next(next))}">
<label for="token">访问令牌 (access token)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<button type="submit">登录</button></form></main></body></html>"""


@router.post("/login", summary="Sign in with a reader or editor token (sets an HttpOnly cookie)")
def login(request: Request, token: Annotated[str, Form()], next: Annotated[str | None, Form()] = None):
    settings = request.app.state.settings
    response = RedirectResponse(_safe_next(next), status_code=303)
    if not settings.tokens("read"):
        return response  # reads are open: nothing to sign in to
    check_reader(settings, token)  # 401/403 with the reason when the token does not read
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response
