"""The progress layer on import, the CLI report and the API (issue #14).

Imports are checked whole against the renewal areas; a refused file names each problem with
its row and leaves the store byte for byte as it was.
"""

import json
from datetime import date, datetime

import openpyxl
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from gis.errors import ValidationError
from layers.imports import import_file
from layers.store import open_store
from renewal_cli.main import main
from tests.conftest import copy_sample, sha256

TOKEN = {"Authorization": "Bearer s3cret"}
WBW, NANZHU = "西大井片区", "中南路（南朱村）安置项目"  # 2900 and 880 units in the sample


@pytest.fixture
def store(sample_store, tmp_path):
    return open_store(copy_sample(sample_store, tmp_path))


def write(tmp_path, text: str, name="events.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_chinese_headers_and_event_names_are_read(store, tmp_path):
    path = write(tmp_path, "项目名称,日期,节点,套数,户数,备注\n"
                           f"{WBW},2023/3/20,前期手续,2900,,批复\n"
                           f"{WBW},2023年7月2日,新开工,1500,,一期\n"
                           f"{WBW},2023-09-01,开工,1400,,二期\n"
                           "6,2023-03-28,立项批复,880,800,\n", encoding="gbk")
    info, validated = import_file(store, path, layer="progress", kind="progress")
    got = store.read("progress")
    assert info.feature_count == 4 and list(got.event) == ["approved", "started", "started", "approved"]
    assert list(got.date) == ["2023-03-20", "2023-07-02", "2023-09-01", "2023-03-28"]
    assert list(got.area_id) == [1, 1, 1, 6] and got.area.iloc[3] == "6"
    # 西大井 is stored as approved; its events now say started: noticed, not refused.
    assert any("西大井片区: stored status approved" in str(n) and "started" in str(n) for n in validated.notices)


def test_an_xlsx_with_date_cells(store, tmp_path):
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["项目名称", "日期", "节点", "套数"])
    ws.append([NANZHU, datetime(2023, 3, 28), "立项批复", 880])
    ws.append([NANZHU, datetime(2023, 8, 1), "新开工", 880])
    book.save(tmp_path / "events.xlsx")
    import_file(store, tmp_path / "events.xlsx", layer="progress", kind="progress")
    assert list(store.read("progress").date) == ["2023-03-28", "2023-08-01"]


BAD = [  # (rows, expected (row, field, fragment) problems)
    (f"{WBW},2023-03-20,approved,2900\n某某片区,2023-03-20,approved,10\n", [(2, "area", "no renewal area named '某某片区'")]),
    (f"{WBW},2023-02-30,approved,2900\n", [(1, "date", "'2023-02-30' is not a date")]),
    (f"{WBW},2023-03-20,竣工验收,2900\n", [(1, "event", "unknown value '竣工验收'")]),
    (f"{WBW},2023-03-20,approved,0\n", [(1, "units", "0 units")]),
    (f"{NANZHU},2023-03-28,approved,880\n{NANZHU},2023-08-01,started,500\n{NANZHU},2023-09-01,started,400\n",
     [(3, "units", "900 units in total (rows 2, 3) are more than the area's 880 units")]),
    (f"{NANZHU},2023-03-28,started,880\n{NANZHU},2023-02-01,delivered,880\n",
     [(2, "date", "delivered (建成交付) on 2023-02-01 is before its started (新开工) on 2023-03-28")]),
]


@pytest.mark.parametrize(("rows", "expected"), BAD)
def test_bad_files_are_refused_with_their_rows_and_nothing_changes(store, tmp_path, rows, expected):
    path = write(tmp_path, "area,date,event,units\n" + rows)
    before = sha256(store.path), store.info("progress").version
    with pytest.raises(ValidationError) as ex:
        import_file(store, path, layer="progress", kind="progress")
    got = [(p.row, p.field, p.message) for p in ex.value.problems]
    for row, field, fragment in expected:
        assert any(r == row and f == field and fragment in m for r, f, m in got), got
    assert len(got) == len(expected)
    assert (sha256(store.path), store.info("progress").version) == before


def test_every_problem_of_a_file_is_reported_at_once(store, tmp_path):
    path = write(tmp_path, "area,date,event,units\n" + "".join(rows for rows, _ in BAD[:4]))
    with pytest.raises(ValidationError) as ex:
        import_file(store, path, layer="progress", kind="progress")
    assert {(p.row, p.field) for p in ex.value.problems} == {(2, "area"), (3, "date"), (4, "event"), (5, "units")}


def test_appending_counts_the_events_already_stored(store, tmp_path):
    # The sample already holds 南朱村's approval of 880 units; 100 more approved units exceed it.
    path = write(tmp_path, f"area,date,event,units\n{NANZHU},2023-05-01,approved,100\n")
    with pytest.raises(ValidationError, match="problem"):
        import_file(store, path, layer="progress", kind="progress", mode="append")
    ok = write(tmp_path, f"area,date,event,units\n{NANZHU},2023-09-01,started,880\n", name="ok.csv")
    import_file(store, ok, layer="progress", kind="progress", mode="append")
    assert (store.read("progress").area_id == 6).sum() == 2


def test_progress_needs_the_renewal_areas(tmp_path):
    empty = open_store(tmp_path / "empty.gpkg")
    path = write(tmp_path, f"area,date,event,units\n{WBW},2023-03-20,approved,2900\n")
    with pytest.raises(ValueError, match="import the renewal areas before"):
        import_file(empty, path, layer="progress", kind="progress")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_table_json_and_xlsx_agree(sample_store, tmp_path, capsys):
    args = ["--store", str(sample_store.path), "progress", "--city", "焦作市", "--year", "2023", "--as-of", "2023-10-15"]
    code, table, _ = run(capsys, *args)
    assert code == 0
    assert "焦作市 2023 年度目标任务完成情况（截至 2023-10-15）" in table and "逾期项目（2 个）" in table
    assert "示范区*" in table and "development zone" in table
    code, text, _ = run(capsys, *args, "--json")
    report = json.loads(text)
    assert set(report) >= {"city", "year", "as_of", "rows", "overdue"}
    assert set(report["rows"][0]) >= {"region", "metric", "target", "actual", "share", "due", "state"}
    assert set(report["overdue"][0]) == {"area", "area_id", "county", "milestone", "due", "days_late"}
    assert [(o["area"], o["milestone"], o["days_late"]) for o in report["overdue"]] == [
        (WBW, "started", 107), (NANZHU, "started", 107)]
    assert run(capsys, *args, "--xlsx", str(tmp_path / "p.xlsx"))[0] == 0
    ws = openpyxl.load_workbook(tmp_path / "p.xlsx")["焦作市 2023"]
    metrics = report["metrics"]
    for row in ws.iter_rows(min_row=4):
        region = row[1].value
        if region not in report["regions"]:
            continue
        for k, metric in enumerate(metrics):
            want = next(r for r in report["rows"] if r["region"] == region and r["metric"] == metric)
            target, actual, share = (c.value for c in row[2 + 3 * k: 5 + 3 * k])
            assert (target, actual) == (want["target"], want["actual"])
            assert share == pytest.approx(want["share"])
    assert run(capsys, *args, "--csv", str(tmp_path / "p.csv"))[0] == 0
    lines = (tmp_path / "p.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("城市,年度,截至日期,县（市）区,指标") and len(lines) == 1 + len(report["rows"])


def test_cli_errors_say_what_to_fix(sample_store, capsys):
    base = ["--store", str(sample_store.path), "progress", "--city", "焦作市"]
    code, _, err = run(capsys, *base, "--year", "2031")
    assert code == 2 and "its years: 2023" in err
    code, _, err = run(capsys, "--store", str(sample_store.path), "progress", "--city", "XX区", "--year", "Y1")
    assert code == 2 and "--plan-start" in err
    code, out, _ = run(capsys, "--store", str(sample_store.path), "progress", "--city", "XX区", "--year", "Y1",
                       "--plan-start", "2024", "--json")
    rows = json.loads(out)["rows"]
    assert {r["metric"]: r["target"] for r in rows} == {"projects": 8, "households": 3926, "floor_area_m2": 385700}


@pytest.fixture(scope="module")
def client(sample_store, tmp_path_factory):
    path = copy_sample(sample_store, tmp_path_factory.mktemp("progress-api"))
    return TestClient(create_app(Settings(store=str(path), edit_tokens="alice:s3cret")))


def test_api_answers_the_workflows_report(client, sample_store):
    from workflows.progress import progress_report

    r = client.get("/analysis/progress", params={"city": "焦作市", "year": "2023", "as_of": "2023-07-31"})
    assert r.status_code == 200, r.text
    assert r.json() == json.loads(json.dumps(progress_report(sample_store, city="焦作市", year="2023",
                                                             as_of=date(2023, 7, 31)), ensure_ascii=False))
    today = client.get("/analysis/progress", params={"city": "焦作市", "year": "2023"}).json()
    assert today["as_of"] == date.today().isoformat()
    x = client.get("/analysis/progress", params={"city": "焦作市", "year": "2023", "f": "xlsx"})
    assert x.status_code == 200 and x.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert client.get("/analysis/progress/choices").json()["cities"]["焦作市"] == ["2023"]


@pytest.mark.parametrize(("params", "status", "fragment"), [
    ({"city": "焦作市", "year": "2031"}, 404, "its years"),
    ({"city": "北京市", "year": "2023"}, 404, "cities"),
    ({"city": "焦作市", "year": "2023", "as_of": "2023-02-30"}, 400, "as_of"),
    ({"city": "焦作市", "year": "twenty"}, 400, "year"),
    ({"city": "XX区", "year": "Y1"}, 400, "plan_start"),
    ({"year": "2023"}, 400, "city"),
])
def test_api_bad_queries_are_4xx_with_what_to_fix(client, params, status, fragment):
    r = client.get("/analysis/progress", params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert fragment in r.text


def test_api_import_of_progress_is_checked_too(client):
    bad = f"area,date,event,units\n{WBW},2023-02-30,approved,2900\n".encode()
    r = client.post("/imports", data={"layer": "progress", "kind": "progress"},
                    files={"file": ("p.csv", bad, "text/csv")}, headers=TOKEN)
    assert r.status_code == 422 and "'2023-02-30' is not a date" in r.text
    good = f"项目名称,日期,节点,套数\n{WBW},2023-03-20,立项批复,2900\n".encode()
    r = client.post("/imports", data={"layer": "progress", "kind": "progress"},
                    files={"file": ("p.csv", good, "text/csv")}, headers=TOKEN)
    assert r.status_code == 201, r.text
