"""The maps' static files (``maps/static``: our scripts and styles, vendored Leaflet and its
plugins), each read and gzip-compressed once per process, with a content hash for versioned
URLs (``asset_url``).

Why not a plain static mount: it compressed leaflet.js (147 kB) again on every request
(the gzip middleware, level 5, streamed in 64 kB chunks) while the same worker was busy with
the page's data, so the library a map waits for came 60–150 ms after the page on a warm
server; and its URLs could not be cached for long, since a new version of a file keeps its
name. A versioned URL (``?v=`` + hash) can be kept by the browser for a year.

Every map page loads Leaflet and our own script and styles as two bundles (``bundle_url``):
one script and one style sheet, as a plain folium page loads Leaflet's. As four files, the
last of them came 10–25 ms after the first (a connection each; the page's script waits for
every style sheet and script before it). First parcel, 1,000 parcels, 40 interleaved warm
loads each: 174 ms as two bundles, 194 ms as four files, 190 ms for plain folium (medians).
"""

from __future__ import annotations

__all__ = ["STATIC_PREFIX", "STATIC_ROOT", "Asset", "asset_url", "load_asset", "PAGE_START", "early_head",
           "BASE_SCRIPTS", "BASE_STYLES", "TILE_SCRIPTS", "bundle_url", "load_bundle", "load_static"]

import gzip
import hashlib
import mimetypes
import re
import threading
from collections import OrderedDict
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
_bundles: OrderedDict[tuple[tuple[str, str], ...], Asset] = OrderedDict()
#: Where bundles live: ``/static/maps/bundle/a.js+b.js``. One names at most ``BUNDLE_MAX_FILES``
#: files, each once (a URL repeating one file thousands of times would make a server compress
#: megabytes), and any combination may be asked for: only the last ``BUNDLES_KEPT`` are kept.
BUNDLE, BUNDLE_MAX_FILES, BUNDLES_KEPT = "bundle/", 8, 16
_lock = threading.Lock()
#: What every map page loads, each list as one file (``bundle_url``), in this order.
BASE_SCRIPTS = ("vendor/leaflet/leaflet.js", "labels.js", "renewal.js")
BASE_STYLES = ("vendor/leaflet/leaflet.css", "renewal.css")
#: What a page drawing vector tiles adds (with its first view, or when it first needs them).
TILE_SCRIPTS = ("vendor/vectorgrid/Leaflet.VectorGrid.bundled.min.js", "tiles.js")


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
    asset = _asset(path.read_bytes(), path.suffix, path.name)
    with _lock:
        _cache[path] = (mtime, asset)
    return asset


def _asset(body: bytes, suffix: str, name: str) -> Asset:
    packed = gzip.compress(body, compresslevel=9, mtime=0) if suffix in _TEXT and len(body) >= 1024 else None
    media = _MEDIA.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Asset(body, packed, hashlib.sha1(body).hexdigest()[:12], media)


def load_bundle(files: tuple[str, ...]) -> Asset | None:
    """The scripts (or the style sheets) ``files`` as one file, in their order; None when one
    is missing or they are not all ``.js`` or all ``.css``. Scripts are joined as separate
    statements, without their source-map comments (which would point into the wrong file);
    style sheets get their relative ``url(...)`` references made absolute, as each file's own
    folder resolved them."""
    suffixes = {Path(f).suffix for f in files}
    if not files or len(files) > BUNDLE_MAX_FILES or len(set(files)) != len(files) or len(suffixes) != 1 \
            or suffixes - {".js", ".css"}:
        return None
    parts = [load_asset(f) for f in files]
    if any(p is None for p in parts):
        return None
    key = tuple(zip(files, (p.digest for p in parts), strict=True))
    with _lock:
        hit = _bundles.get(key)
        if hit is not None:
            _bundles.move_to_end(key)
            return hit
    if suffixes == {".js"}:
        body = b"\n;\n".join(_SOURCE_MAP.sub(b"", p.body) for p in parts)
    else:
        body = b"\n".join(_absolute_urls(p.body, f"{STATIC_PREFIX}/{Path(f).parent.as_posix()}/".replace("/./", "/"))
                          for f, p in zip(files, parts, strict=True))
    asset = _asset(body, suffixes.pop(), files[-1])
    with _lock:
        _bundles[key] = asset
        while len(_bundles) > BUNDLES_KEPT:
            _bundles.popitem(last=False)
    return asset


_SOURCE_MAP = re.compile(rb"^//# sourceMappingURL=.*$", re.M)
_CSS_URL = re.compile(rb"""url\((['"]?)(?!data:|https?:|/|#)([^'")]+)\1\)""")


def _absolute_urls(css: bytes, base: str) -> bytes:
    return _CSS_URL.sub(lambda m: b"url(" + m[1] + base.encode() + m[2] + m[1] + b")", css)


def bundle_url(files: tuple[str, ...]) -> str:
    """The versioned URL of ``files`` as one file (:func:`load_bundle`), their paths joined by
    ``+`` under ``bundle/``; a new version of any of them gets a new URL.

    >>> bundle_url(BASE_SCRIPTS).startswith("/static/maps/bundle/vendor/leaflet/leaflet.js+labels.js+renewal.js?v=")
    True
    """
    asset = load_bundle(files)
    if asset is None:
        raise FileNotFoundError(f"no bundle of {files!r} under {STATIC_ROOT}")
    return f"{STATIC_PREFIX}/{BUNDLE}{'+'.join(files)}?v={asset.digest}"


def load_static(path: str) -> Asset | None:
    """The static file or the bundle at ``path`` (under ``STATIC_PREFIX``)."""
    if path.startswith(BUNDLE):
        return load_bundle(tuple(path[len(BUNDLE):].split("+")))
    return load_asset(path)


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
    """The start of a map page with preload hints for the files every map page loads (the two
    bundles), for a server to send while it renders the rest (which follows from inside its
    ``<head>``)."""
    return PAGE_START.decode() + "\n" + "".join(f'<link rel="preload" href="{bundle_url(files)}" as="{kind}">\n'
                                               for files, kind in ((BASE_SCRIPTS, "script"), (BASE_STYLES, "style")))
