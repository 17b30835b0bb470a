"""folium's part of a map page — the document, the map's element and the script that makes
the map — rendered once per title and set of files, the opening view filled in per page.

Why: rendering a ``folium.Map`` through its Jinja templates took 1.4 ms of a 1,000-parcel
overview's ~3 ms (hot; more on a server's first page after a pause), and a page that is not
kept yet is rendered while its first visitor waits. The map is made at a placeholder view
whose two values occur once each in folium's output; :func:`folium_page` writes the real
ones in their place, as folium writes them (``tests/test_maps_first_view.py`` compares).
"""

from __future__ import annotations

__all__ = ["FoliumPage", "folium_page"]

import functools
import json
from html import escape
from typing import NamedTuple

import folium

_CENTER, _ZOOM = [-89.123456789, -179.123456789], 21  # a view no page opens at


class FoliumPage(NamedTuple):
    """folium's output split where a map page adds its own parts (``maps.builders._render``)."""

    head: str  #: the document up to its title's end
    body: str  #: the rest of the head, and the body up to ``</body>``
    tail: str  #: ``</body>`` and folium's map script up to its ``</script>``
    after: str  #: ``</script>`` and the end of the document
    map_name: str  #: the map's variable in the page's scripts


@functools.lru_cache(maxsize=32)
def _template(title: str, scripts: tuple[tuple[str, str], ...], styles: tuple[tuple[str, str], ...]) -> tuple:
    m = folium.Map(location=_CENTER, zoom_start=_ZOOM, tiles=None, control_scale=False, max_zoom=20)
    m.default_js, m.default_css = list(scripts), list(styles)
    root = m.get_root()
    root.header.add_child(folium.Element(f"<title>{escape(title)}</title>"))
    html = root.render()
    center, zoom = f"center: {json.dumps(_CENTER)},", f'"zoom": {_ZOOM},'
    if html.count(center) != 1 or html.count(zoom) != 1:
        raise AssertionError("folium's map script changed: the opening view cannot be filled in")
    return html, center, zoom, m.get_name()


def folium_page(title: str, center: tuple[float, float], zoom: int, scripts: list[tuple[str, str]],
                styles: list[tuple[str, str]]) -> FoliumPage:
    """folium's page for a map titled ``title`` opening at ``center`` (lat, lon) and ``zoom``,
    loading ``scripts`` and ``styles`` (folium's ``default_js``/``default_css``)."""
    html, center_text, zoom_text, name = _template(title, tuple(scripts), tuple(styles))
    html = html.replace(center_text, f"center: {json.dumps([float(center[0]), float(center[1])])},").replace(
        zoom_text, f'"zoom": {int(zoom)},')
    head, end, rest = html.partition("</title>")
    body, end_body, tail = rest.rpartition("</body>")
    tail, closing, after = tail.rpartition("</script>")
    if not closing:
        raise AssertionError("folium wrote no script after the page's body: nothing would start the map")
    return FoliumPage(head + end, body, end_body + tail, closing + after, name)
