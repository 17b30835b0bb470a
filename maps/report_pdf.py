"""Printable reports (issue #15): a document from :mod:`workflows.documents` laid out with
Jinja2 templates (``maps/templates/reports``) and printed to PDF by WeasyPrint, A4 portrait,
with a CJK font embedded from the system (:func:`maps.report_figures.cjk_font`).

A planner changes the look without touching code: ``renewal report … --template DIR`` reads
each template (``letterhead.html``, ``report.css``, ``area.html``, ``progress.html``, …) and
``labels.yaml`` entry (``unit``, ``title``, …) from ``DIR`` first, the defaults for the rest;
a ``logo.png`` there is printed in the letterhead, and other pictures are found by relative URL.
"""

from __future__ import annotations

__all__ = ["TEMPLATES", "RENDER_STEPS", "LANGS", "labels", "render_area_pdf", "render_progress_pdf",
           "write_atomic"]

import base64
import os
import uuid
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import jinja2
import yaml

from gis.errors import InputError
from gis.units import M2_PER_MU
from layers.progress_xlsx import MILESTONE_LABELS, STATE_LABELS
from layers.schemas import VOCABULARIES

#: The default templates and labels.
TEMPLATES = Path(__file__).parent / "templates" / "reports"
#: The drawing steps of :func:`render_area_pdf` (``on_step`` is called after each).
RENDER_STEPS = ("location map", "isochrone map", "contributions chart", "sites map", "pdf")
LANGS = ("zh", "en")


@lru_cache(maxsize=8)
def _read_labels(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected zh: and en: mappings of labels")
    return data


def _check(lang: str, template_dir) -> Path | None:
    if lang not in LANGS:
        raise InputError(f"lang must be one of {', '.join(LANGS)}; got {lang!r}")
    if template_dir is None:
        return None
    folder = Path(template_dir)
    if not folder.is_dir():
        raise InputError(f"--template {folder}: no such folder (copy {TEMPLATES} and edit the copy)")
    return folder


def labels(lang: str = "zh", template_dir=None) -> dict:
    """The report's words in ``lang``: the defaults, with those of ``template_dir``'s labels.yaml."""
    folder = _check(lang, template_dir)
    out = dict(_read_labels(str(TEMPLATES / "labels.yaml"))[lang])
    own = folder / "labels.yaml" if folder is not None else None
    if own is not None and own.is_file():
        out.update(_read_labels(str(own.resolve())).get(lang) or {})
    out["categories"] = (dict(VOCABULARIES["service_category"]) if lang == "zh"
                         else {c: c.replace("_", " ") for c in VOCABULARIES["service_category"]})
    return out


def _num(value, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    return f"{value:,.{digits}f}"


def _environment(folder: Path | None) -> jinja2.Environment:
    loaders = [jinja2.FileSystemLoader(str(folder))] if folder is not None else []
    env = jinja2.Environment(loader=jinja2.ChoiceLoader([*loaders, jinja2.FileSystemLoader(str(TEMPLATES))]),
                             autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=_num, pct=lambda v: "—" if v is None else f"{100 * v:.1f}%",
                       f=lambda text, **kw: text.format(**kw))
    return env


def _font_face() -> str:
    """The @font-face rule of the CJK font, read from its file on this system."""
    from maps import report_figures as figures

    return (f'@font-face {{ font-family: "ReportCJK"; src: url("{figures.cjk_font().resolve().as_uri()}"); }}')


def _data_uri(png: bytes | None) -> str | None:
    return None if png is None else "data:image/png;base64," + base64.b64encode(png).decode()


def _vocab(lang: str, name: str) -> dict[str, str]:
    codes = VOCABULARIES[name]
    return dict(codes) if lang == "zh" else {c: c.replace("_", " ") for c in codes}


def _rule(text: dict, key: str) -> str:
    if key.startswith("require_"):
        cat = key[len("require_"):]
        return text["rule_require"].format(category=text["categories"].get(cat, cat))
    return text.get(f"rule_{key}", key.replace("_", " "))


def _sites_view(sites: dict, lang: str) -> dict:
    """The site-selection answer with what the tables show beside it: criterion labels, each
    candidate's top three contributions, the stability of the top three."""
    names = sites.get("criteria_zh", {}) if lang == "zh" else {}
    label = {k: names.get(k, k) for k in sites.get("weights", {})}
    rows = []
    for c in sites.get("candidates", []):
        top = sorted((c.get("contributions") or {}).items(), key=lambda kv: -kv[1])[:3]
        rows.append({**c, "top_contrib": ", ".join(f"{label.get(k, k)} {v:.2f}" for k, v in top)})
    by_name = {s["name"]: s for s in sites.get("sensitivity", [])}
    stable = [{"rank": c["rank"], "name": c.get("name"), "oat_top": by_name.get(c.get("name"), {}).get("oat_top"),
               "mc_top": by_name.get(c.get("name"), {}).get("mc_top")} for c in rows[:3]]
    required = sites.get("required_m2")
    return {"candidates": rows, "criteria": label, "required_mu": None if required is None else required / M2_PER_MU,
            "stable": stable if sites.get("sensitivity") is not None else []}


def _html_to_pdf(html: str, base: Path) -> bytes:
    from weasyprint import HTML

    return HTML(string=html, base_url=str(base) + "/").write_pdf()


def _common(doc: dict, lang: str, folder: Path | None) -> dict:
    logo = "logo.png" if folder is not None and (folder / "logo.png").is_file() else None
    return {"lang": lang, "logo": logo, "t": labels(lang, folder), "font_face": _font_face(), "data": doc["data"],
            "generated_at": doc["generated_at"], "states": STATE_LABELS[lang], "milestones": MILESTONE_LABELS[lang],
            "kinds": _vocab(lang, "renewal_kind"), "statuses": _vocab(lang, "renewal_status")}


def render_area_pdf(doc: dict, *, lang: str = "zh", template_dir=None,
                    on_step: Callable[[str], None] | None = None) -> bytes:
    """The area report (a document from :func:`workflows.documents.area_document`) as PDF bytes."""
    from maps import report_figures as figures  # matplotlib: only when a report is drawn

    folder = _check(lang, template_dir)
    step = on_step or (lambda name: None)
    context = _common(doc, lang, folder)
    text, layers, note = context["t"], doc["map"], doc["area"]["crs"]["note"]
    figs = {"location": _data_uri(figures.location_map(layers, text, note, doc["area"]["city"]))}
    step("location map")
    figs["isochrones"] = _data_uri(figures.isochrone_map(layers, text, note))
    step("isochrone map")
    figs["contributions"] = _data_uri(figures.contributions_chart(doc["sites"], text, lang))
    step("contributions chart")
    figs["sites"] = _data_uri(figures.sites_map(layers, text, note))
    step("sites map")
    iso_areas = ", ".join(f"{i['threshold_m']:g} m {i['area_m2'] / 1e4:,.1f} {text['ha']}" for i in doc["isochrones"])
    context.update(doc={k: v for k, v in doc.items() if k != "map"}, figs=figs, iso_areas=iso_areas,
                   sites=_sites_view(doc["sites"], lang), rule=lambda key: _rule(text, key))
    html = _environment(folder).get_template("area.html").render(context)
    pdf = _html_to_pdf(html, folder or TEMPLATES)
    step("pdf")
    return pdf


def render_progress_pdf(doc: dict, *, lang: str = "zh", template_dir=None,
                        on_step: Callable[[str], None] | None = None) -> bytes:
    """The city's progress report (:func:`workflows.documents.progress_document`) as PDF bytes."""
    from maps import report_figures as figures

    folder = _check(lang, template_dir)
    step = on_step or (lambda name: None)
    context = _common(doc, lang, folder)
    report = doc["report"]
    chart = _data_uri(figures.progress_chart(report, context["t"], lang))
    step("progress chart")
    metric_labels = report["labels"] if lang == "zh" else {m: m.replace("_", " ") for m in report["metrics"]}
    context.update(report=report, chart=chart, metric_labels=metric_labels)
    html = _environment(folder).get_template("progress.html").render(context)
    pdf = _html_to_pdf(html, folder or TEMPLATES)
    step("pdf")
    return pdf


def write_atomic(data: bytes, path) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, renamed over
    it at the end: a failed write leaves no file (and an older one as it was)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(21, "is a folder, not a file name", str(path))
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as f:  # the umask's mode, as the file itself will have
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
