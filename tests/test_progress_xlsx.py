"""The progress workbook: bureau table layout, values round-trip, overdue sheet, atomic write."""

from __future__ import annotations

import os
from datetime import datetime

import openpyxl
import pytest

from layers.progress_xlsx import write_progress_xlsx

METRICS = ["new_start_projects", "new_start_units", "basically_built_units", "delivered_units"]
LABELS = {"new_start_projects": "新开工项目个数", "new_start_units": "新开工套数",
          "basically_built_units": "基本建成套数", "delivered_units": "建成交付套数"}
# 焦作市 2023 targets from 附件1 of the seed document, in metric order.
JIAOZUO_TARGETS = {
    "沁阳市": (0, 0, 70, 0), "孟州市": (0, 0, 1416, 1416), "武陟县": (0, 0, 558, 558),
    "修武县": (0, 0, 150, 150), "解放区": (1, 880, 415, 0), "示范区": (0, 0, 3916, 3916),
    "合计": (1, 880, 6525, 6040),
}
STATES = ["done", "on_track", "behind", "overdue"]
FILLS = {"done": "C6EFCE", "behind": "FFEB9C", "overdue": "FFC7CE"}
SHIFAN_NOTE = "焦作市城乡一体化示范区 (development zone, not an administrative district)"


def _row(region, metric, target, actual, state, **extra):
    share = 1.0 if target == 0 else actual / target
    return {"region": region, "metric": metric, "target": float(target), "actual": float(actual),
            "share": share, "due": "2023-12-31", "state": state, "district_match": True,
            "note": "", **extra}


def jiaozuo(overdue=True):
    rows = []
    for k, (region, targets) in enumerate(JIAOZUO_TARGETS.items()):
        for i, (metric, target) in enumerate(zip(METRICS, targets, strict=True)):
            actual = round(target * (0.25 * ((k + i) % 5)))  # made-up, some above target
            extra = {"district_match": False, "note": SHIFAN_NOTE} if region == "示范区" else {}
            rows.append(_row(region, metric, target, actual, STATES[(k + i) % 4], **extra))
    return {
        "city": "焦作市", "year": "2023", "as_of": "2023-07-31", "metrics": METRICS,
        "labels": LABELS, "regions": list(JIAOZUO_TARGETS), "rows": rows,
        "overdue": [
            {"area": "中南路（南朱村）安置项目", "area_id": 5, "county": "解放区",
             "milestone": "started", "due": "2023-06-30", "days_late": 31},
            {"area": "示范区某安置房", "area_id": 9, "county": "示范区",
             "milestone": "delivered", "due": "2023-07-01", "days_late": 30},
        ] if overdue else [],
        "status_mismatches": [], "notes": [], "events": 57, "synthetic": True,
    }


def ganzhou(overdue=True):
    metrics = ["projects", "households", "floor_area_m2"]
    targets = {"章贡区": (3, 1200, 150000.5), "南康区": (2, 800, 98000.25), "合计": (5, 2000, 248000.75)}
    rows = [_row(region, m, t, t / 2, "behind")
            for region, ts in targets.items() for m, t in zip(metrics, ts, strict=True)]
    return {
        "city": "赣州市", "year": "2023-2024", "as_of": "2024-03-31", "metrics": metrics,
        "labels": {"projects": "项目个数", "households": "户数"},  # floor_area_m2 left unlabelled
        "regions": ["合计", "章贡区", "南康区"],  # 合计 not last: the writer must move it
        "rows": rows,
        "overdue": [{"area": "水南片区", "area_id": 12, "county": "章贡区",
                     "milestone": "approved", "due": "2023-12-31", "days_late": 91}] if overdue else [],
        "status_mismatches": [], "notes": [], "events": 12, "synthetic": False,
    }


@pytest.fixture
def book(tmp_path):
    path = tmp_path / "progress.xlsx"
    write_progress_xlsx([jiaozuo(), ganzhou()], path)
    return openpyxl.load_workbook(path)


def _merged(ws):
    return {str(r) for r in ws.merged_cells.ranges}


def _table(ws):
    """Data rows: {region: row cells}, in sheet order, stopping at the blank row."""
    out = {}
    r = 4
    while ws.cell(r, 2).value is not None:
        out[ws.cell(r, 2).value] = ws[r]
        r += 1
    return out


def test_sheet_names(book):
    assert book.sheetnames == ["焦作市 2023", "赣州市 2023-2024", "逾期项目"]


def test_title_and_merged_headers(book):
    ws = book["焦作市 2023"]
    assert ws["A1"].value == "焦作市 2023 年度目标任务完成情况（截至 2023-07-31）"
    ncols = 2 + 3 * 4 + 1  # 序号, 县（市）区, 4 metric groups, 备注
    merged = _merged(ws)
    assert f"A1:{openpyxl.utils.get_column_letter(ncols)}1" in merged
    assert {"A2:A3", "B2:B3", "C2:E2", "F2:H2", "I2:K2", "L2:N2", "O2:O3"} <= merged
    assert [ws.cell(2, c).value for c in (1, 2, 3, 6, 9, 12, 15)] == [
        "序号", "县（市）区", "新开工项目个数", "新开工套数", "基本建成套数", "建成交付套数", "备注"]
    assert [ws.cell(3, c).value for c in range(3, 15)] == ["目标", "完成", "完成率"] * 4
    assert ws.freeze_panes == "C4"


@pytest.mark.parametrize("make", [jiaozuo, ganzhou])
def test_every_json_row_is_in_the_table(book, make):
    report = make()
    ws = book[f"{report['city']} {report['year']}"]
    table = _table(ws)
    assert list(table)[-1] == "合计"
    assert set(table) == {r["region"] for r in report["rows"]}
    for r in report["rows"]:
        c0 = 2 + 3 * report["metrics"].index(r["metric"])  # 0-based index of 目标
        target, actual, share = table[r["region"]][c0:c0 + 3]
        assert target.value == r["target"] and isinstance(target.value, int | float)
        assert actual.value == r["actual"]
        assert share.value == pytest.approx(r["share"]) and share.number_format == "0.0%"
        rgb = FILLS.get(r["state"])
        if rgb:
            assert share.fill.fgColor.rgb.endswith(rgb)
        else:
            assert share.fill.fill_type is None


def test_whole_numbers_have_no_decimals_and_total_is_bold(book):
    table = _table(book["焦作市 2023"])
    assert table["示范区"][8].value == 3916 and isinstance(table["示范区"][8].value, int)
    assert table["示范区"][8].number_format == "0"
    assert all(c.font.bold for c in table["合计"][:14])
    assert not table["沁阳市"][1].font.bold
    area = _table(book["赣州市 2023-2024"])["章贡区"][8]
    assert area.value == 150000.5 and area.number_format == "0.00"


def test_numbering_skips_total_and_notes_only_for_unmatched_districts(book):
    ws = book["焦作市 2023"]
    table = _table(ws)
    assert [cells[0].value for cells in table.values()] == [1, 2, 3, 4, 5, 6, None]
    assert table["示范区"][14].value == SHIFAN_NOTE
    assert all(cells[14].value is None for region, cells in table.items() if region != "示范区")
    assert ws.max_column == 15
    assert book["赣州市 2023-2024"].cell(2, 12).value is None  # no 备注 column when all match


def test_legend_and_notes_lines(book):
    ws = book["焦作市 2023"]
    legend_row = 4 + 7 + 1
    assert ws.cell(legend_row, 1).value == "图例："
    assert [ws.cell(legend_row, c).value for c in range(2, 6)] == ["已完成", "正常推进", "进度滞后", "已逾期"]
    assert ws.cell(legend_row, 2).fill.fgColor.rgb.endswith(FILLS["done"])
    assert ws.cell(legend_row + 1, 1).value == (
        "数据截至 2023-07-31；完成数按项目节点（progress 图层）统计（示例数据为模拟数据）")
    gz = book["赣州市 2023-2024"]
    assert gz.cell(4 + 3 + 2, 1).value == "数据截至 2024-03-31；完成数按项目节点（progress 图层）统计"


def test_unlabelled_metric_falls_back(book):
    ws = book["赣州市 2023-2024"]
    assert [ws.cell(2, c).value for c in (3, 6, 9)] == ["项目个数", "户数", "改造建筑面积(平方米)"]


def test_overdue_sheet_rows_equal_the_json(book):
    ws = book["逾期项目"]
    assert [c.value for c in ws[1]] == [
        "序号", "城市", "年度", "项目名称", "县（市）区", "逾期节点", "应完成日期", "逾期天数"]
    milestones = {"started": "新开工", "delivered": "建成交付", "approved": "立项批复/前期手续"}
    expected = [(rep["city"], rep["year"], o) for rep in (jiaozuo(), ganzhou()) for o in rep["overdue"]]
    assert ws.max_row == 1 + len(expected) == 4
    for n, (city, year, o) in enumerate(expected, start=1):
        row = [c.value for c in ws[1 + n]]
        assert row == [n, city, year, o["area"], o["county"], milestones[o["milestone"]],
                       datetime.fromisoformat(o["due"]), o["days_late"]]
        assert ws.cell(1 + n, 7).number_format == "yyyy-mm-dd"


def test_no_overdue_projects(tmp_path):
    path = tmp_path / "p.xlsx"
    write_progress_xlsx([jiaozuo(overdue=False), ganzhou(overdue=False)], path)
    ws = openpyxl.load_workbook(path)["逾期项目"]
    assert ws.max_row == 2 and ws["A2"].value == "无逾期项目"


def test_english_variant(tmp_path):
    path = tmp_path / "en.xlsx"
    write_progress_xlsx([jiaozuo(), ganzhou()], path, lang="en")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["焦作市 2023", "赣州市 2023-2024", "Overdue projects"]
    ws = wb["焦作市 2023"]
    assert ws["A1"].value == "焦作市 2023 targets and progress (as of 2023-07-31)"
    assert [ws.cell(2, c).value for c in (1, 2, 3, 6, 9, 12, 15)] == [
        "No.", "County", "New-start projects", "New-start units", "Units basically built",
        "Units delivered", "Note"]
    assert [ws.cell(3, c).value for c in range(3, 6)] == ["Target", "Actual", "Share"]
    gz = wb["赣州市 2023-2024"]
    assert [gz.cell(2, c).value for c in (3, 6, 9)] == ["Projects", "Households", "Floor area (m²)"]
    over = wb["Overdue projects"]
    assert over["A1"].value == "No." and over["F2"].value == "Started"


def test_sheet_names_are_sanitised_and_unique(tmp_path):
    odd = dict(jiaozuo(), city="某[市]:*?/\\很长很长很长很长很长很长很长很长很长的城市名字")
    path = tmp_path / "odd.xlsx"
    write_progress_xlsx([odd, odd], path)
    names = openpyxl.load_workbook(path).sheetnames
    assert len(names) == 3 and len(set(names)) == 3
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)
    assert names[1].endswith(" (2)")


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    missing = tmp_path / "nope" / "p.xlsx"
    with pytest.raises(FileNotFoundError):
        write_progress_xlsx([jiaozuo()], missing)
    assert not missing.parent.exists()

    # A crash mid-save keeps the previous workbook and leaves no temporary file behind.
    path = tmp_path / "p.xlsx"
    path.write_bytes(b"old")

    def broken_save(self, filename):
        with open(filename, "wb") as fh:
            fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(openpyxl.Workbook, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_progress_xlsx([jiaozuo()], path)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["p.xlsx"]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="lang"):
        write_progress_xlsx([jiaozuo()], tmp_path / "x.xlsx", lang="fr")
    with pytest.raises(ValueError, match="no progress reports"):
        write_progress_xlsx([], tmp_path / "x.xlsx")
    assert not (tmp_path / "x.xlsx").exists()
