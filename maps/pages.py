"""Work pages (home, forms, editors) around the maps: Jinja2 templates in ``maps/templates``
sharing one shell (title, navigation, language switch). Builders take ready data and return
HTML; every visible label comes from ``maps.i18n`` so Chinese and English stay in step."""

from __future__ import annotations

__all__ = ["render_page", "NAV"]

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from maps.i18n import t

#: The navigation every page carries: (label key, path). The labels are a contract (tests and
#: planners find pages by them).
NAV = [("nav_overview", "/maps/overview"), ("nav_targets", "/maps/progress"),
       ("nav_sites", "/maps/site-selection"), ("nav_import", "/maps/import"), ("nav_edit", "/maps/edit")]


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.globals["t"] = t
    return env


def render_page(template: str, *, lang: str = "zh", title: str, **context) -> str:
    """A page in the shared shell; ``title`` is the document title and heading."""
    nav = [(t(lang, key), path) for key, path in NAV]
    return _env().get_template(template).render(lang=lang, title=title, nav=nav, **context)
