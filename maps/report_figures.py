"""Static maps and charts of the printable reports (issue #15), drawn with matplotlib (Agg)
from our own layers: no tile service, nothing fetched. Each function returns PNG bytes.

Chinese text needs a CJK font: :func:`cjk_font` finds one installed on the system
(Noto Sans CJK or WenQuanYi Micro Hei, the Debian packages ``fonts-noto-cjk`` /
``fonts-wqy-microhei``); the PDF embeds the same file. Figures are drawn with the
object-oriented API (no pyplot state) under one lock, since matplotlib's rc settings, which
pick the font, are process-wide.

Choices measured on the sample city's report (bench_reports):
- Pictures are RGB PNGs at 150 dpi, zlib level 6: Pillow's ``optimize`` took 2 s for 8 %
  smaller files; an alpha channel made WeasyPrint add a soft mask per picture; JPEG blurs
  thin roads and labels; SVG would keep the text as vector but pdfimages (and the "pictures
  present" test a reader would run) would not see the maps.
- Roads (about 10 000 lines) are one compound path per line width: a LineCollection of one
  path per road took 0.4 s per map, ``add_patch`` of compound paths 0.35 s (its limit
  update walks every vertex), a PathCollection without autoscaling 0.004 s.
"""

from __future__ import annotations

__all__ = ["cjk_font", "location_map", "isochrone_map", "sites_map", "contributions_chart", "progress_chart"]

import io
import math
import subprocess
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import matplotlib
import numpy as np
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.path import Path as MplPath

from gis.errors import RenewalError
from maps.i18n import GLYPHS

#: CJK fonts looked for first (Debian paths), before asking fontconfig.
FONT_CANDIDATES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                   "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                   "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
CM = 1 / 2.54
WIDTH_CM = 17.0
DPI = 150
ROAD_WIDTHS = {"expressway": 1.4, "arterial": 1.0, "secondary": 0.7, "branch": 0.35, "footway": 0.2}
ISO_COLORS = {1000.0: "#c6dbef", 500.0: "#6baed6", 300.0: "#2171b5"}
_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def cjk_font() -> Path:
    """The file of a CJK font on this system (the first of :data:`FONT_CANDIDATES`, else the
    first fontconfig lists for ``:lang=zh``)."""
    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            return Path(path)
    try:
        out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    files = sorted(line.split(":")[0].strip() for line in out.splitlines() if line.strip())
    if not files:
        raise RenewalError("no Chinese (CJK) font on this machine: install fonts-noto-cjk or fonts-wqy-microhei "
                           "(scripts/system-deps.sh) to write reports")
    return Path(files[0])


@lru_cache(maxsize=1)
def _font_name() -> str:
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(cjk_font()))
    return font_manager.FontProperties(fname=str(cjk_font())).get_name()


@contextmanager
def _drawing():
    with _LOCK, matplotlib.rc_context({"font.family": [_font_name(), "DejaVu Sans"], "font.size": 7,
                                       "axes.unicode_minus": False, "hatch.linewidth": 0.6}):
        yield


def _png(fig: Figure) -> bytes:
    """The figure as an RGB PNG (no alpha channel: the PDF then needs no soft mask)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    from PIL import Image

    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def _polygon_path(geom) -> MplPath | None:
    """One compound path (holes included) of a polygon or multipolygon."""
    paths = []
    for part in shapely.get_parts(geom):
        if not isinstance(part, shapely.Polygon) or part.is_empty:
            continue
        for ring in (part.exterior, *part.interiors):
            xy = np.asarray(ring.coords)[:, :2]
            codes = np.full(len(xy), MplPath.LINETO, dtype=np.uint8)
            codes[0], codes[-1] = MplPath.MOVETO, MplPath.CLOSEPOLY
            paths.append(MplPath(xy, codes))
    return MplPath.make_compound_path(*paths) if paths else None


def _polygons(ax, geoms, **style) -> None:
    paths = [p for p in (_polygon_path(g) for g in geoms) if p is not None]
    if paths:
        ax.add_collection(PathCollection(paths, **style))


def _lines(ax, geoms, *, widths=None, **style) -> None:
    """Lines as one compound path per width (thousands of roads draw in milliseconds)."""
    geoms = np.asarray(geoms, dtype=object)
    widths = np.broadcast_to(np.asarray(0.5 if widths is None else widths, dtype=float), geoms.shape)
    for width in np.unique(widths):
        parts = shapely.get_parts(geoms[widths == width])
        parts = parts[shapely.get_type_id(parts) == 1]  # LineStrings
        if not len(parts):
            continue
        coords, index = shapely.get_coordinates(parts, return_index=True)
        codes = np.full(len(coords), MplPath.LINETO, dtype=np.uint8)
        codes[np.r_[0, np.flatnonzero(np.diff(index)) + 1]] = MplPath.MOVETO
        ax.add_collection(PathCollection([MplPath(coords, codes)], facecolors="none", linewidths=float(width),
                                         **style), autolim=False)


def _frame(ax, box) -> tuple[float, float, float, float]:
    """Fit ``box`` (metres) to the axes' shape on an equal-aspect map; the box shown."""
    fig_w, fig_h = ax.figure.get_size_inches()
    pos = ax.get_position(original=True)
    ratio = (pos.height * fig_h) / (pos.width * fig_w)
    x0, y0, x1, y1 = box
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    w, h = max(w, h / ratio), max(h, w * ratio)
    shown = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    ax.set_xlim(shown[0], shown[2])
    ax.set_ylim(shown[1], shown[3])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    return shown


def _scale_bar(ax, shown, text: dict) -> None:
    width = shown[2] - shown[0]
    raw = width / 5
    step = 10 ** math.floor(math.log10(raw))
    length = max(m * step for m in (1, 2, 5) if m * step <= raw)
    x, y = shown[0] + width * 0.04, shown[1] + (shown[3] - shown[1]) * 0.05
    for i in range(2):
        ax.add_patch(Rectangle((x + i * length / 2, y), length / 2, width * 0.006,
                                                  facecolor="black" if i == 0 else "white", edgecolor="black",
                                                  linewidth=0.6, zorder=20))
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} {text['metres']}"
    ax.text(x, y + width * 0.012, "0", fontsize=6, zorder=20)
    ax.text(x + length, y + width * 0.012, label, fontsize=6, ha="center", zorder=20)


def _north_arrow(ax) -> None:
    ax.annotate("N", xy=(0.95, 0.95), xytext=(0.95, 0.86), xycoords="axes fraction", ha="center", va="center",
                fontsize=9, zorder=20,
                arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 1.2})


def _crs_note(ax, note: str) -> None:
    ax.text(0.99, 0.01, note, transform=ax.transAxes, ha="right", va="bottom", fontsize=5.5, zorder=20,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.5})


def _map_figure(height_cm: float):
    fig = Figure(figsize=(WIDTH_CM * CM, height_cm * CM), dpi=DPI)
    ax = fig.add_axes((0.01, 0.16, 0.98, 0.83))
    return fig, ax


def _base(ax, layers, box, text: dict, *, roads_alpha: float = 0.8):
    shown = _frame(ax, box)
    if layers.districts is not None:
        _polygons(ax, layers.districts.geometry, facecolor="none", edgecolor="#7f7f7f", linewidth=0.9,
                  linestyle="--", zorder=2)
    if layers.roads is not None and len(layers.roads):
        cls = layers.roads.get("road_class")
        widths = [ROAD_WIDTHS.get(c, 0.35) for c in (cls if cls is not None else ["branch"] * len(layers.roads))]
        _lines(ax, layers.roads.geometry.values, widths=widths, edgecolors="#b0b0b0", alpha=roads_alpha, zorder=3)
    _polygons(ax, layers.area.geometry, facecolor="#e41a1c33", edgecolor="#e41a1c", linewidth=1.6, zorder=8)
    _scale_bar(ax, shown, text)
    _north_arrow(ax)
    return shown


def _services(ax, services, shown, text: dict, within=None) -> list:
    """Services inside the map (or inside ``within``) by category; their legend handles."""
    x0, y0, x1, y1 = shown
    svc = services.cx[x0:x1, y0:y1]
    if within is not None:
        svc = svc[svc.intersects(within)]
    handles = []
    for cat, (_, color) in GLYPHS.items():
        pts = svc[svc.category == cat]
        if not len(pts):
            continue
        planned = pts["planned"].astype(bool).to_numpy() if "planned" in pts else np.zeros(len(pts), bool)
        xy = shapely.get_coordinates(pts.geometry.values)
        ax.scatter(xy[~planned, 0], xy[~planned, 1], s=9, c=color, edgecolors="white", linewidths=0.3, zorder=10)
        if planned.any():
            ax.scatter(xy[planned, 0], xy[planned, 1], s=18, facecolors="none", edgecolors=color, linewidths=1.0,
                       zorder=11)
        handles.append(Line2D([], [], marker="o", linestyle="", markersize=4, markerfacecolor=color,
                              markeredgecolor="white", label=text["categories"].get(cat, cat)))
    return handles


def _legend(fig, handles, ncol: int = 6) -> None:
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=6, frameon=False,
                   bbox_to_anchor=(0.5, 0.0), handlelength=1.4, columnspacing=1.0)


def _district_labels(ax, districts, shown) -> None:
    if districts is None:
        return
    view = shapely.box(*shown)
    for name, geom in zip(districts["name"], districts.geometry, strict=True):
        part = geom.intersection(view)
        if not part.is_empty and part.area > view.area * 0.03:
            p = part.representative_point()
            ax.text(p.x, p.y, name, fontsize=9, color="#555555", ha="center", va="center", alpha=0.8, zorder=4)


def _inset(fig, layers, city: str | None) -> None:
    d = layers.districts
    if d is None or not len(d):
        return
    if city and "city" in d:
        d = d[d.city == city]
    ax = fig.add_axes((0.015, 0.70, 0.2, 0.28))
    ax.set_facecolor("white")
    _polygons(ax, d.geometry, facecolor="#f2f2f2", edgecolor="#888888", linewidth=0.4)
    c = layers.area.geometry.union_all().centroid
    ax.plot([c.x], [c.y], marker="*", color="#e41a1c", markersize=7)
    _frame(ax, _grown(d.total_bounds, 0.03))
    for spine in ax.spines.values():
        spine.set_linewidth(0.5)


def _grown(box, share: float):
    x0, y0, x1, y1 = (float(v) for v in box)
    m = max(x1 - x0, y1 - y0) * share
    return x0 - m, y0 - m, x1 + m, y1 + m


def location_map(layers, text: dict, crs_note: str, city: str | None = None) -> bytes:
    """The area among districts, roads and nearby services, with a city inset."""
    with _drawing():
        fig, ax = _map_figure(12.5)
        shown = _base(ax, layers, layers.location_box, text)
        _district_labels(ax, layers.districts, shown)
        handles = [Patch(facecolor="#e41a1c33", edgecolor="#e41a1c", label=text["area"]),
                   Line2D([], [], color="#b0b0b0", linewidth=1, label=text["roads"]),
                   Line2D([], [], color="#7f7f7f", linestyle="--", linewidth=0.9, label=text["districts"])]
        handles += _services(ax, layers.services, shown, text)
        _crs_note(ax, crs_note)
        _inset(fig, layers, city)
        _legend(fig, handles, ncol=7)
        return _png(fig)


def isochrone_map(layers, text: dict, crs_note: str) -> bytes | None:
    """300/500/1000 m walking isochrones with the services inside them."""
    if layers.isochrones is None or not len(layers.isochrones):
        return None
    iso = layers.isochrones.sort_values("threshold_m", ascending=False)
    with _drawing():
        fig, ax = _map_figure(13.0)
        box = _grown(iso.total_bounds, 0.04)
        handles = []
        for t, geom in zip(iso.threshold_m, iso.geometry, strict=True):
            color = ISO_COLORS.get(float(t), "#9ecae1")
            _polygons(ax, [geom], facecolor=color, edgecolor=color, alpha=0.45, linewidth=0.8, zorder=5)
            handles.append(Patch(facecolor=color, alpha=0.6, label=text["walk_within"].format(m=f"{t:g}")))
        shown = _base(ax, layers, box, text, roads_alpha=0.6)
        handles.insert(0, Patch(facecolor="#e41a1c33", edgecolor="#e41a1c", label=text["area"]))
        handles += _services(ax, layers.services, shown, text, within=iso.geometry.union_all())
        _crs_note(ax, crs_note)
        _legend(fig, handles, ncol=7)
        return _png(fig)


def sites_map(layers, text: dict, crs_note: str) -> bytes | None:
    """Candidates (numbered) over the suitability surface, constraints and roads."""
    if layers.candidates is None:
        return None
    with _drawing():
        fig, ax = _map_figure(13.0)
        handles = []
        if layers.surface is not None:
            x0, y0, x1, y1 = layers.surface_box
            img = ax.imshow(layers.surface, extent=(x0, x1, y0, y1), cmap="RdYlGn", vmin=0, vmax=1, alpha=0.7,
                            interpolation="nearest", zorder=1)
            cax = fig.add_axes((0.80, 0.105, 0.15, 0.018))
            bar = fig.colorbar(img, cax=cax, orientation="horizontal")
            bar.ax.tick_params(labelsize=5)
            bar.set_label(text["suitability"], fontsize=6)
        if layers.constraints is not None and len(layers.constraints):
            c = layers.constraints
            excl = c[c.severity == "exclude"] if "severity" in c else c
            pen = c[c.severity != "exclude"] if "severity" in c else c.iloc[:0]
            _polygons(ax, excl.geometry, facecolor="none", edgecolor="#7f0000", hatch="////", linewidth=0.5, zorder=6)
            _polygons(ax, pen.geometry, facecolor="none", edgecolor="#d95f0e", hatch="..", linewidth=0.5, zorder=6)
            handles += [Patch(facecolor="none", edgecolor="#7f0000", hatch="////", label=text["excluded"]),
                        Patch(facecolor="none", edgecolor="#d95f0e", hatch="..", label=text["penalized"])]
        _base(ax, layers, layers.sites_box, text, roads_alpha=0.5)
        _polygons(ax, layers.candidates.geometry, facecolor="#2b8cbe40", edgecolor="#08519c", linewidth=1.4, zorder=9)
        for rank, geom in zip(layers.candidates["rank"], layers.candidates.geometry, strict=True):
            p = geom.representative_point()
            ax.text(p.x, p.y, str(int(rank)), fontsize=8, ha="center", va="center", zorder=12,
                    bbox={"boxstyle": "circle,pad=0.2", "facecolor": "white", "edgecolor": "#08519c"})
        handles = [Patch(facecolor="#e41a1c33", edgecolor="#e41a1c", label=text["area"]),
                   Patch(facecolor="#2b8cbe40", edgecolor="#08519c", label=text["candidates"]), *handles]
        _crs_note(ax, crs_note)
        _legend(fig, handles, ncol=5)
        return _png(fig)


def contributions_chart(sites: dict, text: dict, lang: str) -> bytes | None:
    """One stacked bar per candidate: each criterion's weighted contribution to its score."""
    rows = [c for c in sites.get("candidates", []) if c.get("contributions")]
    if not rows:
        return None
    names = list(rows[0]["contributions"])
    labels = sites.get("criteria_zh", {}) if lang == "zh" else {}
    colors = matplotlib.colormaps["tab10"].colors
    with _drawing():
        fig = Figure(figsize=(WIDTH_CM * CM, (2.6 + 0.75 * len(rows)) * CM), dpi=DPI)
        ax = fig.add_axes((0.2, 0.34 if len(rows) < 3 else 0.25, 0.74, 0.7 if len(rows) < 3 else 0.72))
        y = np.arange(len(rows))[::-1]
        left = np.zeros(len(rows))
        for k, name in enumerate(names):
            values = np.array([r["contributions"][name] for r in rows])
            ax.barh(y, values, left=left, height=0.6, color=colors[k % len(colors)], label=labels.get(name, name))
            left += values
        for yi, r in zip(y, rows, strict=True):
            ax.text(r["score"] + 0.01, yi, f"{r['score']:.4f}", va="center", fontsize=6)
        ax.set_yticks(y, [f"{r['rank']}  {r.get('name') or ''}" for r in rows])
        ax.set_xlim(0, max(1.0, float(left.max()) + 0.12))
        ax.set_xlabel(text["score"])
        ax.spines[["top", "right"]].set_visible(False)
        fig.legend(loc="lower center", ncol=min(len(names), 7), fontsize=6, frameon=False, bbox_to_anchor=(0.5, 0))
        return _png(fig)


def progress_chart(report: dict, text: dict, lang: str, regions: list[str] | None = None) -> bytes | None:
    """Completion (%) per county and metric (bars beyond 150 % are cut there, their value
    written); no bar where the target is zero."""
    rows = [r for r in report["rows"] if regions is None or r["region"] in regions]
    if not rows:
        return None
    regions = list(dict.fromkeys(r["region"] for r in rows))
    metrics = report["metrics"]
    by = {(r["region"], r["metric"]): r for r in rows}
    colors = matplotlib.colormaps["Set2"].colors
    height = 0.8 / len(metrics)
    with _drawing():
        fig = Figure(figsize=(WIDTH_CM * CM, (3 + 0.9 * len(regions)) * CM), dpi=DPI)
        ax = fig.add_axes((0.14, 0.2 if len(regions) > 3 else 0.3, 0.82, 0.77 if len(regions) > 3 else 0.67))
        handles = []
        for k, metric in enumerate(metrics):
            color = colors[k % len(colors)]
            label = report["labels"].get(metric, metric) if lang == "zh" else metric.replace("_", " ")
            handles.append(Patch(facecolor=color, label=label))
            for i, region in enumerate(regions):
                r = by.get((region, metric))
                if r is None or not r["target"]:
                    continue
                yi = len(regions) - 1 - i + 0.4 - (k + 0.5) * height
                share = 100 * r["share"]
                ax.barh(yi, min(share, 150), height=height * 0.9, color=color)
                ax.text(min(share, 150) + 1, yi, f"{share:.0f}%", va="center", fontsize=5)
        ax.axvline(100, color="#444444", linewidth=0.8, linestyle="--")
        ax.set_yticks(np.arange(len(regions))[::-1], regions)
        ax.set_ylim(-0.6, len(regions) - 0.4)
        ax.set_xlim(0, 165)
        ax.set_xlabel(text["completion"])
        ax.spines[["top", "right"]].set_visible(False)
        fig.legend(handles=handles, loc="lower center", ncol=len(metrics), fontsize=6, frameon=False)
        return _png(fig)
