"""The request guard: who may send a body, and how big it may be, decided before reading it.

FastAPI reads (and spools to disk) a request body before it runs a route's dependencies,
so a token check in a dependency comes after an anonymous 300 MB upload. This ASGI
middleware checks the caller from the headers first, refuses a declared
``Content-Length`` over the limit at once, and counts the body while it streams, answering
413 the moment it passes the limit (the route sees the client gone).
"""

from __future__ import annotations

__all__ = ["RequestGuard"]

import re

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import TOKEN_COOKIE, bearer_token, check_editor, check_reader
from api.errors import TooLargeError, error_problem
from api.settings import Settings
from gis.errors import RenewalError

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
#: Paths whose changes need the edit role; their bodies get the upload limit.
_WRITES = re.compile(r"^/(imports|collections/[^/]+/items(/[^/]+)?)/?$")
#: Paths anyone may post to (signing in).
_OPEN = {"/login"}


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: Settings):
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        write = bool(_WRITES.match(scope["path"]))
        limit_mb = self.settings.upload_limit_mb if write else self.settings.json_limit_mb
        setting = "RENEWAL_UPLOAD_LIMIT_MB" if write else "RENEWAL_JSON_LIMIT_MB"
        too_large = TooLargeError(f"the request body is larger than the limit of {limit_mb:g} MB ({setting})")
        try:
            if scope["path"] in _OPEN:
                pass  # signing in: no token yet, but the body is limited all the same
            elif write:
                check_editor(self.settings, bearer_token(headers))
            else:
                cookie = cookie_parser(headers.get("cookie", "")).get(TOKEN_COOKIE)
                check_reader(self.settings, bearer_token(headers) or cookie)
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit_mb * 1e6:
                raise too_large
        except RenewalError as ex:
            await error_problem(ex)(scope, receive, send)
            return
        await self._limited(scope, receive, send, int(limit_mb * 1e6), too_large)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int, too_large) -> None:
        received = 0
        answered = False

        async def counting_receive() -> Message:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not answered:
                    answered = True
                    await error_problem(too_large)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not answered:  # after our 413 the route's own answer goes nowhere
                await send(message)

        await self.app(scope, counting_receive, guarded_send)
