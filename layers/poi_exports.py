"""POI exports copied from Amap (高德), Baidu (百度) and Tencent (腾讯) maps → the ``services``
layer's categories.

Planners export facilities from those maps as tables: Amap's 名称, 大类/中类/小类, 类型 ("科教文化
服务;学校;幼儿园") and 类型编码 (typecode), 经度/纬度 in GCJ-02; Baidu's 名称, 标签/tag ("教育培训;
幼儿园"), lng/lat in BD-09; Tencent's (WebService place search, lbs.qq.com) title/名称,
category/分类 ("教育学校:幼儿园"; some tools write ';' or '>' between the levels), sometimes
category_code/分类编码, lng/lat, location.lng/location.lat or 经度/纬度 in GCJ-02. Tencent's
``category`` column has our own column's name, so it counts as Tencent only when its values are
category paths and none is one of our categories; the path is kept as ``tencent_category``.
The category comes from the shipped tables (:file:`data/amap_typecodes.csv`,
:file:`data/baidu_tags.csv`, :file:`data/tencent_categories.csv`; a user's CSV replaces them).
Rows whose type maps to nothing are listed by type with their counts, and the import is refused
unless the caller skips them (then they are reported). The coordinates' datum is the import's
``--crs`` (gcj02, bd09), shifted back with ``gis.crs``'s converters by validation.
"""

from __future__ import annotations

__all__ = ["poi_export_kind", "categorize_poi_export", "PoiReport"]

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import geopandas as gpd
import pandas as pd

from gis.errors import InputError, Problem, ValidationError
from layers.schemas import VOCABULARIES

_AMAP_CODE = ("类型编码", "typecode", "type_code", "poi类型编码")
_AMAP_TYPE = ("类型", "type", "poi类型")
_AMAP_PARTS = ("大类", "中类", "小类")
_BAIDU_TAG = ("标签", "tag", "行业分类")
_NAME = ("名称", "name", "poi名称")
_TENCENT_CATEGORY = ("category", "分类", "poi分类")
_TENCENT_CODE = ("category_code", "分类编码")
_TENCENT_NAME = (*_NAME, "title")
_TENCENT_XY = (("location.lng", "location_lng"), ("location.lat", "location_lat"))
#: Level separators in Tencent category paths: ':' from the API, ';', '>' and full-width forms from tools.
_TENCENT_LEVELS = re.compile(r"\s*[:：;；>]\s*")
_SOURCES = {"amap": "Amap", "baidu": "Baidu", "tencent": "tencent"}


@dataclass
class PoiReport:
    source: str
    mapped: Counter = field(default_factory=Counter)
    unmapped: Counter = field(default_factory=Counter)

    def lines(self) -> list[str]:
        zh = VOCABULARIES["service_category"]
        out = [f"{self.source} POI export: {sum(self.mapped.values())} mapped"]
        out += [f"  {c} ({zh[c]}): {n}" for c, n in sorted(self.mapped.items())]
        out += [f"  skipped, type not mapped: {t} × {n}" for t, n in self.unmapped.most_common()]
        return out


def _column(frame: pd.DataFrame, names) -> str | None:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    return next((lower[n.lower()] for n in names if n.lower() in lower), None)


def poi_export_kind(frame: pd.DataFrame) -> str | None:
    """"amap", "baidu", "tencent" or None, from the columns of a table: a ``category``/分类 column
    of Tencent category paths makes it Tencent; any other category column makes it our own."""
    col = _column(frame, _TENCENT_CATEGORY)
    if col is not None and _tencent_paths(frame[col]):
        return "tencent"
    if _column(frame, ("category", "类别", "设施类型", "设施类别")) is not None:
        return None
    if _column(frame, _AMAP_CODE) or (_column(frame, _AMAP_TYPE) and not _column(frame, _BAIDU_TAG)) \
            or _column(frame, ("小类",)):
        return "amap"
    if _column(frame, _BAIDU_TAG):
        return "baidu"
    return None


def _tencent_paths(values: pd.Series) -> bool:
    """Whether a category column holds Tencent paths: some value has levels ("教育学校:幼儿园")
    and none is one of our categories (code or Chinese label, as validation reads them)."""
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""].unique()
    vocab = VOCABULARIES["service_category"]
    ours = {c.lower() for c in vocab} | set(vocab.values())
    if any(v.lower().replace(" ", "_").replace("-", "_") in ours or v in ours for v in text):
        return False
    return any(_TENCENT_LEVELS.search(v) for v in text)


def _tencent_path(text: str) -> str:
    """'教育学校;幼儿园', '教育学校 > 幼儿园' → '教育学校:幼儿园'."""
    return ":".join(p for p in _TENCENT_LEVELS.split(text.strip()) if p)


def _table(path, default: str) -> list[dict]:
    text = Path(path).read_text(encoding="utf-8-sig") if path else \
        resources.files("layers").joinpath(f"data/{default}").read_text(encoding="utf-8")
    rows = list(csv.DictReader(line for line in io.StringIO(text) if line.strip() and not line.startswith("#")))
    allowed = set(VOCABULARIES["service_category"])
    for i, row in enumerate(rows, start=1):
        if row.get("category") not in allowed:
            raise InputError(f"POI table row {i}: unknown category {row.get('category')!r}; use one of "
                             f"{', '.join(sorted(allowed))}")
    return rows


def _pick(candidates: list[dict], name: str) -> str | None:
    for row in candidates:
        words = [w for w in (row.get("name") or "").split("|") if w]
        if not words or any(w in name for w in words):
            return row["category"]
    return None


def categorize_poi_export(frame: pd.DataFrame, *, table=None, skip_unmapped: bool = False
                          ) -> tuple[pd.DataFrame, PoiReport]:
    """``frame`` with ``name`` and ``category`` columns filled from its Amap or Baidu type or
    Tencent category; unmapped rows refused (ValidationError listing each type and count) or,
    with ``skip_unmapped``, dropped and reported."""
    kind = poi_export_kind(frame)
    if kind is None:
        raise InputError("not an Amap, Baidu or Tencent POI export: no 类型编码/typecode, 类型 or 标签/tag "
                         "column, nor a category/分类 column of paths such as 教育学校:幼儿园")
    name_col = _column(frame, _TENCENT_NAME if kind == "tencent" else _NAME)
    names = frame[name_col].fillna("").astype(str) if name_col else pd.Series("", index=frame.index)
    code_col = _column(frame, {"amap": _AMAP_CODE, "baidu": (), "tencent": _TENCENT_CODE}[kind])
    codes = frame[code_col].fillna("").astype(str) if code_col else pd.Series("", index=frame.index)
    if kind == "tencent":
        category_col = _column(frame, _TENCENT_CATEGORY)
        types = frame[category_col].fillna("").astype(str).map(_tencent_path)
        if category_col.lower() == "category":  # keep Tencent's path beside the category it gives
            frame = frame.rename(columns={category_col: "tencent_category"})
        frame = _tencent_points(frame)
    else:
        types = _amap_types(frame) if kind == "amap" else frame[_column(frame, _BAIDU_TAG)].fillna("").astype(str)
    rows = _table(table, {"amap": "amap_typecodes.csv", "baidu": "baidu_tags.csv",
                          "tencent": "tencent_categories.csv"}[kind])
    if kind == "tencent":
        rows = [{**r, "path": _tencent_path(r.get("path") or "")} for r in rows]
    categories, shown = [], []
    for code, type_text, name in zip(codes, types, names, strict=True):
        category, label = _categorize(kind, rows, code.split("|")[0].strip(), type_text.split("|")[0].strip(), name)
        categories.append(category)
        shown.append(label)
    out = frame.copy()
    out["category"] = categories
    if name_col and name_col != "name":
        out = out.rename(columns={name_col: "name"})
    report = PoiReport(_SOURCES[kind])
    unmapped = out["category"].isna().to_numpy()
    report.unmapped = Counter(label for label, bad in zip(shown, unmapped, strict=True) if bad)
    if unmapped.any() and not skip_unmapped:
        problems = [Problem(None, "type", f"{t}: {n} rows map to no category") for t, n in report.unmapped.most_common()]
        raise ValidationError(f"{int(unmapped.sum())} POIs have types that map to no category; add them to the "
                              "table (--poi-table) or pass --skip-unmapped; nothing was written", problems)
    out = out[~unmapped].reset_index(drop=True)
    report.mapped = Counter(out["category"])
    return out, report


def _amap_types(frame: pd.DataFrame) -> pd.Series:
    col = _column(frame, _AMAP_TYPE)
    if col is not None:
        return frame[col].fillna("").astype(str)
    parts = [_column(frame, (p,)) for p in _AMAP_PARTS]
    present = [frame[c].fillna("").astype(str) for c in parts if c is not None]
    return pd.Series([";".join(v for v in vals if v) for vals in zip(*present, strict=True)], index=frame.index)


def _tencent_points(frame: pd.DataFrame) -> pd.DataFrame:
    """Points from Tencent's ``location.lng``/``location.lat`` columns (JSON flattened by the
    exporting tool) when the reader found no lon/lat; degrees read as CGCS2000 unless the
    import's ``--crs`` (gcj02) says otherwise, as :func:`layers.readers.read_layer_file` does."""
    x_col, y_col = (_column(frame, names) for names in _TENCENT_XY)
    if isinstance(frame, gpd.GeoDataFrame) or x_col is None or y_col is None:
        return frame
    x, y = (pd.to_numeric(frame[c], errors="coerce") for c in (x_col, y_col))
    problems = [Problem(int(i) + 1, col, f"not a number: {frame[col].iloc[i]!r}")
                for col, values in ((x_col, x), (y_col, y))
                for i in (values.isna().to_numpy().nonzero()[0][:50])]
    if problems:
        raise ValidationError("Tencent POI export: coordinates missing or not numbers; nothing was written", problems)
    return gpd.GeoDataFrame(frame.drop(columns=[x_col, y_col]), geometry=gpd.points_from_xy(x, y), crs=4490)


def _categorize(kind: str, rows: list[dict], code: str, type_text: str, name: str) -> tuple[str | None, str]:
    """(category or None, the type as reported when unmapped)."""
    last = type_text.split(":" if kind == "tencent" else ";")[-1].strip()
    if kind == "tencent":
        # The most specific listed path decides: 医疗保健:专科医院:齿科 has its own rows, so a
        # dental practice does not fall back to 医疗保健:专科医院 (hospital).
        levels = type_text.split(":")
        listed = {r.get("path") for r in rows}
        nearest = next((p for p in (":".join(levels[:i]) for i in range(len(levels), 0, -1)) if p and p in listed), None)
        tries = [[r for r in rows if r.get("code") and r["code"] == code],
                 [r for r in rows if nearest and r.get("path") == nearest],
                 [r for r in rows if last and (r.get("path") or "").split(":")[-1] == last]]
        label = f"{code} {type_text}".strip() or "(no category)"
    elif kind == "amap":
        tries = [[r for r in rows if r.get("code") and r["code"] == code],
                 [r for r in rows if r.get("code") and len(code) == 6 and r["code"] == code[:4] + "00"],
                 [r for r in rows if r.get("type") and r["type"] == last]]
        label = f"{code} {type_text}".strip() or "(no type)"
    else:
        tries = [[r for r in rows if r.get("tag") == type_text],
                 [r for r in rows if (r.get("tag") or "").split(";")[-1] == last and last]]
        label = type_text or "(no tag)"
    for candidates in tries:
        category = _pick(candidates, name) if candidates else None
        if category:
            return category, label
    by_name = [r for r in rows if not any(r.get(k) for k in ("code", "type", "tag", "path"))]
    return _pick([r for r in by_name if r.get("name")], name), label
