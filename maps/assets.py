"""The maps' static files (``maps/static``: our scripts and styles, vendored Leaflet and its
plugins), each read and gzip-compressed once per process, with a content hash for versioned
URLs (``asset_url``).

Why not a plain static mount: it compressed leaflet.js (147 kB) again on every request
(the gzip middleware, level 5, streamed in 64 kB chunks) while the same worker was busy with
the page's data, so the library a map waits for came 60–150 ms after the page on a warm
server; and its URLs could not be cached for long, since a new version of a file keeps its
name. A versioned URL (``?v=`` + hash) can be kept by the browser for a year.
"""

from __future__ import annotations

__all__ = ["STATIC_PREFIX", "STATIC_ROOT", "Asset", "asset_url", "load_asset", "PAGE_START", "early_head"]

import gzip
import hashlib
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path

STATIC_PREFIX = "/static/maps"
STATIC_ROOT = Path(__file__).parent / "static"
#: Types worth compressing (images and fonts are compressed already).
_TEXT = (".js", ".css", ".json", ".svg", ".html", ".txt", ".md")
_MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    """One static file: its bytes, their gzip (None when not worth it), hash and media type."""

    body: bytes
    packed: bytes | None
    digest: str
    media_type: str

    @property
    def etag(self) -> str:
        return f'"{self.digest}"'


_cache: dict[Path, tuple[int, Asset]] = {}
_lock = threading.Lock()


def load_asset(rel: str) -> Asset | None:
    """The file ``rel`` under ``STATIC_ROOT`` (None when there is none, or the path leaves the
    folder), read again only when its modification time changes (an edited file in a
    development checkout is served at once)."""
    path = (STATIC_ROOT / rel).resolve()
    if not path.is_relative_to(STATIC_ROOT.resolve()) or not path.is_file():
        return None
    mtime = path.stat().st_mtime_ns
    with _lock:
        hit = _cache.get(path)
    if hit is not None and hit[0] == mtime:
        return hit[1]
    body = path.read_bytes()
    packed = gzip.compress(body, compresslevel=9, mtime=0) if path.suffix in _TEXT and len(body) >= 1024 else None
    media = _MEDIA.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    asset = Asset(body, packed, hashlib.sha1(body).hexdigest()[:12], media)
    with _lock:
        _cache[path] = (mtime, asset)
    return asset


def asset_url(rel: str) -> str:
    """The versioned URL of ``rel`` (``/static/maps/renewal.js?v=3f2a…``): a new version of
    the file gets a new URL, so the browser may keep each one for good.

    >>> asset_url("renewal.js").startswith("/static/maps/renewal.js?v=")
    True
    """
    asset = load_asset(rel)
    if asset is None:
        raise FileNotFoundError(f"no static file {rel!r} under {STATIC_ROOT}")
    return f"{STATIC_PREFIX}/{rel}?v={asset.digest}"


#: How every map page begins (``maps.builders``): what a server may send before rendering it.
PAGE_START = b"<!DOCTYPE html>\n<html>\n<head>"


def early_head() -> str:
    """The start of a map page with preload hints for the files every map page loads, for a
    server to send while it renders the rest (which follows from inside its ``<head>``)."""
    files = (("vendor/leaflet/leaflet.js", "script"), ("renewal.js", "script"),
             ("vendor/leaflet/leaflet.css", "style"), ("renewal.css", "style"))
    return PAGE_START.decode() + "\n" + "".join(f'<link rel="preload" href="{asset_url(path)}" as="{kind}">\n'
                                               for path, kind in files)
