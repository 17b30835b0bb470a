"""Progress reports (issue #14 contract) as an .xlsx workbook in the bureaus' target-table layout,
and as a flat CSV (one row per region and metric).

Housing bureaus publish targets as 序号 | 县（市）区 | per metric a merged header over 目标/完成/完成率
(e.g. 焦作市 2023 附件1), so the report is written back in that shape: officials can lay it next to
the document they were given.  Numbers stay numbers (完成率 is a real fraction with a percent
format) so the sheet can be summed and re-computed in a spreadsheet.
"""

from __future__ import annotations

__all__ = ["write_progress_xlsx", "write_progress_csv", "METRIC_LABELS_EN", "STATE_LABELS", "MILESTONE_LABELS"]

import os
import re
import tempfile
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from layers.schemas import METRIC_LABELS_ZH

TOTAL = "合计"

METRIC_LABELS_EN: dict[str, str] = {
    "new_start_projects": "New-start projects",
    "new_start_units": "New-start units",
    "basically_built_units": "Units basically built",
    "delivered_units": "Units delivered",
    "resettled_households": "Households resettled",
    "projects": "Projects",
    "households": "Households",
    "floor_area_m2": "Floor area (m²)",
}

_TEXT = {
    "zh": {"no": "序号", "region": "县（市）区", "target": "目标", "actual": "完成", "share": "完成率",
           "note": "备注", "overdue_sheet": "逾期项目", "none": "无逾期项目",
           "overdue_cols": ["序号", "城市", "年度", "项目名称", "县（市）区", "逾期节点", "应完成日期", "逾期天数"],
           "title": "{city} {year} 年度目标任务完成情况", "as_of": "（截至 {as_of}）",
           "notes": "数据截至 {as_of}；完成数按项目节点（progress 图层）统计",
           "synthetic": "（示例数据为模拟数据）", "legend": "图例："},
    "en": {"no": "No.", "region": "County", "target": "Target", "actual": "Actual", "share": "Share",
           "note": "Note", "overdue_sheet": "Overdue projects", "none": "No overdue projects",
           "overdue_cols": ["No.", "City", "Year", "Project", "County", "Milestone", "Due", "Days late"],
           "title": "{city} {year} targets and progress", "as_of": " (as of {as_of})",
           "notes": "Data as of {as_of}; actuals counted from project milestones (progress layer)",
           "synthetic": " (sample data is synthetic)", "legend": "Legend:"},
}
STATE_LABELS = {
    "zh": {"done": "已完成", "on_track": "正常推进", "behind": "进度滞后", "overdue": "已逾期"},
    "en": {"done": "Done", "on_track": "On track", "behind": "Behind", "overdue": "Overdue"},
}
MILESTONE_LABELS = {
    "zh": {"approved": "立项批复/前期手续", "started": "新开工", "basically_built": "基本建成",
           "delivered": "建成交付", "resettled": "回迁安置"},
    "en": {"approved": "Approved", "started": "Started", "basically_built": "Basically built",
           "delivered": "Delivered", "resettled": "Resettled"},
}
# Conventional spreadsheet "good/neutral/bad" fills; on_track stays unfilled so colour means "look here".
_FILLS = {"done": "C6EFCE", "behind": "FFEB9C", "overdue": "FFC7CE"}

_BOLD = Font(bold=True)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_THIN = Side(style="thin")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_ROWS = 3  # title + metric group row + 目标/完成/完成率 row


def _fill(state: str | None) -> PatternFill | None:
    rgb = _FILLS.get(state or "")
    return PatternFill("solid", start_color=rgb, end_color=rgb) if rgb else None


def _metric_label(report: dict, metric: str, lang: str) -> str:
    if lang == "en" and metric in METRIC_LABELS_EN:
        return METRIC_LABELS_EN[metric]
    own = (report.get("labels") or {}).get(metric)
    return own or METRIC_LABELS_ZH.get(metric) or metric


def _sheet_name(wanted: str, taken: set[str]) -> str:
    """Excel refuses []:*?/\\ and names over 31 chars; duplicates get a (2), (3)... suffix."""
    base = re.sub(r"[\[\]:*?/\\]", "_", wanted).strip("'") or "Sheet"
    name, n = base[:31], 1
    while name.casefold() in {t.casefold() for t in taken}:  # Excel compares names case-blind
        n += 1
        suffix = f" ({n})"
        name = base[: 31 - len(suffix)] + suffix
    taken.add(name)
    return name


def _put_number(cell, value) -> None:
    """Whole numbers as ints with format "0" so 880 does not show as 880.0."""
    if value is not None:
        whole = float(value).is_integer()
        cell.value = int(value) if whole else float(value)
        cell.number_format = "0" if whole else "0.00"


def _shown_width(cell) -> int:
    """Roughly the characters Excel displays: percent cells show "75.0%", not 0.7500383...;
    CJK glyphs take two columns in the default fonts."""
    if isinstance(cell.value, int | float):
        return 7 if cell.number_format.endswith("%") else len(f"{cell.value:,.2f}")
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in str(cell.value))


def _autosize(ws: Worksheet, skip_rows: set[int]) -> None:
    spans = {(r.min_row, r.min_col): r.max_col - r.min_col + 1 for r in ws.merged_cells.ranges}
    widths: dict[int, float] = {}
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None or cell.row in skip_rows:
                continue  # title/notes lines span many columns; they must not widen column A
            n = spans.get((cell.row, cell.column), 1)  # a group header shares its three columns
            for col in range(cell.column, cell.column + n):
                widths[col] = max(widths.get(col, 0), _shown_width(cell) / n)
    for col, w in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = min(max(round(w) + 2, 8), 60)


def _region_sheet(ws: Worksheet, report: dict, lang: str) -> None:
    t = _TEXT[lang]
    metrics, regions, notes = _sheet_layout(report)
    by_key = {(r["region"], r["metric"]): r for r in report.get("rows") or []}
    ncols = 2 + 3 * len(metrics) + (1 if notes else 0)

    title = t["title"].format(city=report.get("city", ""), year=report.get("year", ""))
    if report.get("as_of"):
        title += t["as_of"].format(as_of=report["as_of"])
    ws.cell(1, 1, title).font, ws.cell(1, 1).alignment = Font(bold=True, size=14), _CENTER
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncols)
    ws.row_dimensions[1].height = 28

    _table_header(ws, report, lang, metrics, ncols, with_notes=bool(notes))
    for k, region in enumerate(regions):
        rr = _HEADER_ROWS + 1 + k
        ws.cell(rr, 1, None if region == TOTAL else k + 1)  # 合计 is last, so k+1 stays dense
        ws.cell(rr, 2, region)
        for i, metric in enumerate(metrics):
            r = by_key.get((region, metric))
            if r is None:
                continue  # no target for this pair: an empty cell, not a made-up zero
            _put_metric(ws, rr, 3 + 3 * i, r)
        if notes:
            ws.cell(rr, ncols, "；".join(notes.get(region, [])) or None)
        for cell in ws[rr][:ncols]:
            cell.border = _BORDER
            if region == TOTAL:
                cell.font = _BOLD

    below = _HEADER_ROWS + len(regions) + 2  # one blank row between table and footer
    _footer(ws, report, lang, below)
    ws.freeze_panes = ws.cell(_HEADER_ROWS + 1, 3)  # keep headers and 序号/县区 in view
    _autosize(ws, {1, below, below + 1})


def _sheet_layout(report: dict) -> tuple[list[str], list[str], dict[str, dict[str, None]]]:
    """The metrics and regions in sheet order (合计 last), and each region's distinct notes."""
    rows = report.get("rows") or []
    # The lists give the order; rows they omit are still shown (appended) rather than dropped.
    metrics = list(dict.fromkeys([*(report.get("metrics") or []), *(r["metric"] for r in rows)]))
    regions = list(dict.fromkeys([*(report.get("regions") or []), *(r["region"] for r in rows)]))
    regions = [g for g in regions if g != TOTAL] + ([TOTAL] if TOTAL in regions else [])
    notes: dict[str, dict[str, None]] = {}  # region -> distinct notes, in row order
    for r in rows:
        if r.get("district_match") is False and r.get("note"):
            notes.setdefault(r["region"], {})[r["note"]] = None
    return metrics, regions, notes


def _table_header(ws: Worksheet, report: dict, lang: str, metrics: list[str], ncols: int, *,
                  with_notes: bool) -> None:
    t = _TEXT[lang]
    singles = [(1, t["no"]), (2, t["region"])] + ([(ncols, t["note"])] if with_notes else [])
    for col, text in singles:  # single-column headers span both header rows, as in 附件1
        ws.cell(2, col, text)
        ws.merge_cells(start_row=2, start_column=col, end_row=3, end_column=col)
    for i, metric in enumerate(metrics):
        c0 = 3 + 3 * i
        ws.cell(2, c0, _metric_label(report, metric, lang))
        ws.merge_cells(start_row=2, start_column=c0, end_row=2, end_column=c0 + 2)
        for j, key in enumerate(("target", "actual", "share")):
            ws.cell(3, c0 + j, t[key])
    for row in ws.iter_rows(min_row=2, max_row=3, max_col=ncols):
        for cell in row:
            cell.font, cell.alignment, cell.border = _BOLD, _CENTER, _BORDER


def _put_metric(ws: Worksheet, row_no: int, first_col: int, entry: dict) -> None:
    """One metric's 目标/完成/完成率 cells, the share filled by its state."""
    _put_number(ws.cell(row_no, first_col), entry.get("target"))
    _put_number(ws.cell(row_no, first_col + 1), entry.get("actual"))
    if entry.get("share") is not None:
        share = ws.cell(row_no, first_col + 2, float(entry["share"]))
        share.number_format = "0.0%"
        if (fill := _fill(entry.get("state"))) is not None:
            share.fill = fill


def _footer(ws: Worksheet, report: dict, lang: str, below: int) -> None:
    """The state legend on row ``below`` and the data note under it."""
    t = _TEXT[lang]
    ws.cell(below, 1, t["legend"])
    for j, state in enumerate(("done", "on_track", "behind", "overdue")):
        cell = ws.cell(below, 2 + j, STATE_LABELS[lang][state])
        cell.alignment, cell.border = _CENTER, _BORDER
        if (fill := _fill(state)) is not None:
            cell.fill = fill
    note = t["notes"].format(as_of=report.get("as_of") or "—")
    if report.get("synthetic"):
        note += t["synthetic"]
    ws.cell(below + 1, 1, note)


def _as_date(value):
    # Real dates, so a spreadsheet can compute with 应完成日期; odd strings are kept verbatim.
    try:
        return date.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        return value


def _overdue_sheet(ws: Worksheet, reports: list[dict], lang: str) -> None:
    t = _TEXT[lang]
    for col, text in enumerate(t["overdue_cols"], start=1):
        cell = ws.cell(1, col, text)
        cell.font, cell.alignment, cell.border = _BOLD, _CENTER, _BORDER
    entries = [(rep, o) for rep in reports for o in rep.get("overdue") or []]
    if not entries:
        ws.cell(2, 1, t["none"])
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(t["overdue_cols"]))
    for n, (rep, o) in enumerate(entries, start=1):
        values = [n, rep.get("city"), rep.get("year"), o.get("area"), o.get("county"),
                  MILESTONE_LABELS[lang].get(o.get("milestone"), o.get("milestone")),
                  _as_date(o.get("due")), o.get("days_late")]
        for col, value in enumerate(values, start=1):
            cell = ws.cell(1 + n, col, value)
            cell.border = _BORDER
            if isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
    ws.freeze_panes = "A2"
    _autosize(ws, set() if entries else {2})


def write_progress_xlsx(reports: list[dict], path: str | os.PathLike, *, lang: str = "zh") -> None:
    """Write progress reports: one sheet per city-year, then one sheet of overdue projects.

    The file is written to a temporary sibling and moved into place, so readers never see a
    half-written workbook and a failed write leaves any previous file untouched.
    """
    if lang not in _TEXT:
        raise ValueError(f"unknown lang {lang!r}; expected one of {', '.join(_TEXT)}")
    if not reports:
        raise ValueError("no progress reports to write")
    wb = Workbook()
    wb.remove(wb.active)
    taken: set[str] = set()
    for rep in reports:
        name = _sheet_name(f"{rep.get('city', '')} {rep.get('year', '')}".strip(), taken)
        _region_sheet(wb.create_sheet(name), rep, lang)
    _overdue_sheet(wb.create_sheet(_sheet_name(_TEXT[lang]["overdue_sheet"], taken)), reports, lang)

    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".xlsx")
    os.close(fd)
    os.remove(tmp)  # let save() create it with the usual umask permissions, not mkstemp's 0600
    try:
        wb.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_progress_csv(report: dict, path: str | os.PathLike, *, lang: str = "zh") -> None:
    """One row per region and metric (UTF-8 with a BOM, so spreadsheet programs read the Chinese);
    the metric and state codes stay beside their labels for programs."""
    import csv

    if lang not in _TEXT:
        raise ValueError(f"unknown lang {lang!r}; expected one of {', '.join(_TEXT)}")
    zh = lang == "zh"
    head = (["城市", "年度", "截至日期", "县（市）区", "指标", "指标名称", "目标", "完成", "完成率", "应完成日期", "状态",
             "状态说明"] if zh else ["city", "year", "as_of", "region", "metric", "metric_label", "target", "actual",
                                   "share", "due", "state", "state_label"])
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".csv")
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as f:
            out = csv.writer(f)
            out.writerow(head)
            for r in report["rows"]:
                out.writerow([report["city"], report["year"], report["as_of"], r["region"], r["metric"],
                              _metric_label(report, r["metric"], lang), r["target"], r["actual"], r["share"],
                              r["due"] or "", r["state"], STATE_LABELS[lang][r["state"]]])
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
