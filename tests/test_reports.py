"""Printable reports (issue #15) read back with poppler's tools, as a reader would: the text
(pdftotext), the pictures (pdfimages), the fonts (pdffonts), the pages (pdfinfo), and every
page rendered to PNG (pdftoppm) in test-output/reports for a look. The numbers in the PDF
are those the API answers for the same request."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from renewal_cli.main import main
from workflows.documents import area_document, document_json

SHOTS = Path(os.environ.get("RENEWAL_TEST_OUTPUT", "test-output")) / "reports"
AREA = "西大井片区"
AS_OF = "2023-12-31"
#: The request every area report here makes (the API's site selection takes the same).
REQUEST = {"units": 800, "sensitivity": True}
MAX_BYTES = 5_000_000


@pytest.fixture(autouse=True, scope="module")
def poppler():
    missing = [t for t in ("pdftotext", "pdfinfo", "pdfimages", "pdffonts", "pdftoppm") if shutil.which(t) is None]
    assert not missing, f"poppler-utils must be installed for {', '.join(missing)} (make test installs it)"


def run(*argv: str) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
    return out.stdout


def text_of(pdf: Path) -> str:
    return run("pdftotext", "-layout", str(pdf), "-")


def pages_of(pdf: Path) -> int:
    return int(re.search(r"^Pages:\s+(\d+)", run("pdfinfo", str(pdf)), re.M).group(1))


def images_of(pdf: Path) -> list[list[str]]:
    """pdfimages -list rows (page, num, type, width, height, …) of the images (no masks)."""
    rows = [line.split() for line in run("pdfimages", "-list", str(pdf)).splitlines()[2:]]
    return [r for r in rows if r and r[2] == "image"]


def fonts_of(pdf: Path) -> list[str]:
    """pdffonts rows (name … emb sub uni object ID)."""
    return [line for line in run("pdffonts", str(pdf)).splitlines()[2:] if line.strip()]


def render_pages(pdf: Path, name: str) -> list[Path]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob(f"{name}-*.png"):
        old.unlink()
    run("pdftoppm", "-r", "60", "-png", str(pdf), str(SHOTS / name))
    return sorted(SHOTS.glob(f"{name}-*.png"))


def line_with(text: str, *words: str) -> str:
    """The first line of ``text`` holding every one of ``words``."""
    found = [line for line in text.splitlines() if all(w in line for w in words)]
    assert found, f"no line with {words!r}"
    return found[0]


@pytest.fixture(scope="module")
def client(sample_store):
    return TestClient(create_app(Settings(store=str(sample_store.path))))


@pytest.fixture(scope="module")
def area_pdf(sample_store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reports") / "西大井.pdf"
    assert main(["--store", str(sample_store.path), "report", AREA, "-o", str(out), "--units", "800",
                 "--sensitivity", "--as-of", AS_OF]) == 0
    return out


@pytest.fixture(scope="module")
def api_pdf(client, tmp_path_factory) -> Path:
    r = client.get("/reports/areas/1.pdf", params={**REQUEST, "as_of": AS_OF})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    out = tmp_path_factory.mktemp("reports-api") / "area.pdf"
    out.write_bytes(r.content)
    return out


@pytest.fixture(scope="module")
def sites_answer(client) -> dict:
    r = client.post("/analysis/site-selection", json={"for": AREA, **REQUEST})
    assert r.status_code == 200, r.text
    return r.json()


def test_area_report_text_title_block_services_and_sites(area_pdf, sites_answer):
    text = text_of(area_pdf)
    for words in ("城市更新片区规划报告", AREA, "中站区", "焦作市", "老厂区", "已批复", "2023", "500.00 亩",
                  "333,333 平方米", "3,200 户 / 2,900 套", "120,000 万元", "12.00 亿元", "数据版本",
                  "CGCS2000 / 3° GK zone (EPSG:4547)", "片区范围为近似边界", "模拟数据"):
        assert words in text, words
    # Services against GB 50180-2018: the table, its gap column and the gap lines in words.
    assert "公共服务设施（对照 GB 50180-2018）" in text
    assert all(h in text for h in ("最近设施", "步行(m)", "直线(m)", "300m内", "500m内", "1000m内", "标准(m)", "达标"))
    assert "300 m 内无托儿所" in line_with(text, "托儿所093")
    assert text.count("300 m 内无托儿所") == 2  # in the table and in the list of gaps
    # Resettlement sites: the top five as the API ranks them, weights, rules, stability.
    names = [f["properties"]["name"] for f in sites_answer["features"]]
    assert len(names) == 5 and all(n in text for n in names)
    assert "安置房选址" in text and "准则权重" in text and "被规则排除的地块" in text
    assert line_with(text, "面积不足以容纳安置套数").split()[-1] == str(sites_answer["removed_by_rule"]["capacity"])
    assert "前三名的稳定性" in text
    # The county's progress for the plan year: 中站区 has no 2023 target; 西大井 missed its start.
    assert "2023 年目标表未给中站区下达任务" in text
    assert re.search(r"西大井片区\s+新开工\s+2023-06-30\s+184", text)


def test_area_report_numbers_equal_the_apis(area_pdf, api_pdf, client, sites_answer, sample_store):
    services = client.get("/analysis/services/西大井片区").json()
    nursery = next(c for c in services["categories"] if c["category"] == "nursery")
    first = sites_answer["features"][0]["properties"]
    for pdf in (area_pdf, api_pdf):
        text = text_of(pdf)
        row = line_with(text, "托儿所", nursery["nearest_name"]).split()
        assert f"{nursery['network_m']:,.1f}" in row and f"{nursery['straight_m']:,.1f}" in row
        assert f"{services['categories_met']}/{services['categories_required']} 类设施达到" in text
        row = line_with(text, first["name"], f"{first['score']:.4f}").split()
        assert row[:6] == ["1", first["name"], f"{first['score']:.4f}", f"{first['area_mu']:,.2f}",
                           f"{first['required_mu']:,.2f}", f"{first['origin_network_m']:,.1f}"]
    # The gathered document holds the API's answers themselves.
    doc = document_json(area_document(sample_store, AREA, **REQUEST))
    assert doc["services"] == {k: v for k, v in services.items() if k != "supply"}
    assert doc["sites"]["candidates"] == [f["properties"] for f in sites_answer["features"]]


def test_area_report_pictures_fonts_pages_and_size(area_pdf):
    images = images_of(area_pdf)
    assert len(images) == 4  # location map, isochrone map, contributions chart, sites map
    assert all(int(w) >= 900 for _, _, _, w, *_ in images)
    fonts = fonts_of(area_pdf)
    assert fonts and all(re.search(r"\byes\s+yes\s+yes\b", f) for f in fonts), fonts  # emb, sub, uni
    assert 4 <= pages_of(area_pdf) <= 7
    assert area_pdf.stat().st_size <= MAX_BYTES
    pngs = render_pages(area_pdf, "area-zh")
    assert len(pngs) == pages_of(area_pdf) and all(p.stat().st_size > 5000 for p in pngs)


def test_area_report_in_english(sample_store, tmp_path):
    out = tmp_path / "area-en.pdf"
    assert main(["--store", str(sample_store.path), "report", "1", "-o", str(out), "--lang", "en",
                 "--units", "800", "--as-of", AS_OF, "--with-planned"]) == 0
    text = text_of(out)
    for words in ("Urban renewal area report", "1. The area", "500.00 mu", "no nursery within 300 m",
                  "planned facilities: counted",
                  "4. Resettlement sites", "Parcels removed by rule", "too small for the units",
                  "The 2023 table sets 中站区 no target", "Add --sensitivity"):
        assert words in text, words
    assert "城市更新片区规划报告" not in text
    assert all(re.search(r"\byes\s+yes\s+yes\b", f) for f in fonts_of(out))
    render_pages(out, "area-en")


def test_progress_report(sample_store, client, tmp_path):
    out = tmp_path / "progress.pdf"
    assert main(["--store", str(sample_store.path), "report", "--progress", "--city", "焦作市", "--year", "2023",
                 "--as-of", AS_OF, "-o", str(out)]) == 0
    text = text_of(out)
    assert "焦作市 2023 年度目标任务完成情况" in text and f"截至 {AS_OF}" in text
    for county in ("沁阳市", "孟州市", "武陟县", "修武县", "解放区", "示范区", "合计"):
        assert county in text
    answer = client.get("/analysis/progress", params={"city": "焦作市", "year": "2023", "as_of": AS_OF}).json()
    for row in answer["rows"]:  # every target as the API counts it, on its county's line
        label = answer["labels"][row["metric"]]
        line = line_with(text, row["region"], label + " ")
        assert f"{row['target']:,.0f}" in line.split() and f"{row['actual']:,.0f}" in line.split()
    assert line_with(text, "合计", "基本建成套数").split()[2] == "6,525"
    assert f"逾期项目（{len(answer['overdue'])}）" in text
    for o in answer["overdue"]:
        assert re.search(rf"{re.escape(o['area'])}\s+{o['county']}\s+\S+\s+{o['due']}\s+{o['days_late']}", text)
    assert "示范区" in line_with(text, "* 示范区")  # a development zone, not a district
    assert len(images_of(out)) == 1 and all(re.search(r"\byes\s+yes\s+yes\b", f) for f in fonts_of(out))
    render_pages(out, "progress-zh")


def test_api_progress_pdf_and_errors(client):
    r = client.get("/reports/progress.pdf", params={"city": "焦作市", "year": "2023", "lang": "en"})
    assert r.status_code == 200 and r.content.startswith(b"%PDF-")
    for url, params, status, fragment in (
            ("/reports/areas/不存在.pdf", {}, 404, "no renewal area"),
            ("/reports/areas/1.pdf", {"units": 0}, 400, "units"),
            ("/reports/areas/1.pdf", {"units": "many"}, 400, "units"),
            ("/reports/areas/1.pdf", {"lang": "fr"}, 400, "lang"),
            ("/reports/progress.pdf", {"city": "北京市", "year": "2023"}, 404, "no targets for city")):
        r = client.get(url, params=params)
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert fragment in r.json()["detail"]


@pytest.mark.parametrize("argv, message", [
    (["report", "不存在", "--units", "800"], "no renewal area '不存在'"),
    (["report", AREA, "--template", "no/such/folder"], "no such folder"),
    (["report", "--progress", "--city", "焦作市"], "missing --year"),
    (["report", "--progress", "--city", "北京市", "--year", "2023"], "no targets for city"),
    (["report"], "give an AREA"),
])
def test_bad_input_exits_2_and_writes_nothing(sample_store, tmp_path, capsys, argv, message):
    out = tmp_path / "report.pdf"
    assert main(["--store", str(sample_store.path), *argv, "-o", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("units", ["0", "-3", "many", "2000000"])
def test_bad_units_are_refused_before_any_work(sample_store, tmp_path, capsys, units):
    out = tmp_path / "report.pdf"
    out.write_bytes(b"the older report")
    with pytest.raises(SystemExit) as exit_:
        main(["--store", str(sample_store.path), "report", AREA, "--units", units, "-o", str(out)])
    assert exit_.value.code == 2
    assert "argument --units: expected a whole number of units" in capsys.readouterr().err
    assert out.read_bytes() == b"the older report" and len(list(tmp_path.iterdir())) == 1


def test_a_planners_template_folder_and_ahp_weights(sample_store, tmp_path):
    from PIL import Image

    folder = tmp_path / "our-templates"
    folder.mkdir()
    (folder / "labels.yaml").write_text("zh:\n  unit: 焦作市城乡规划设计研究院\n  title: 片区更新评估报告\n",
                                        encoding="utf-8")
    Image.new("RGB", (120, 60), "#b2182b").save(folder / "logo.png")
    weights = tmp_path / "weights.yaml"
    weights.write_text("ahp:\n  names: [origin, hospital, bus_stop]\n"
                       "  matrix: [[1, 2, 4], [0.5, 1, 2], [0.25, 0.5, 1]]\n", encoding="utf-8")
    out = tmp_path / "ours.pdf"
    assert main(["--store", str(sample_store.path), "report", AREA, "-o", str(out), "--template", str(folder),
                 "--weights", str(weights), "--as-of", AS_OF]) == 0
    text = text_of(out)
    assert "焦作市城乡规划设计研究院" in text and "片区更新评估报告" in text and "城市更新片区规划报告" not in text
    assert "层次分析法（AHP）：一致性比率 CR = 0.000" in text
    assert len(images_of(out)) == 5  # the logo and the four figures
    render_pages(out, "area-template")


def test_a_store_without_parcels_reports_grown_regions(sample_store, tmp_path):
    from layers.store import open_store
    from maps.report_pdf import render_area_pdf, write_atomic
    from tests.conftest import copy_sample

    store = open_store(copy_sample(sample_store, tmp_path))
    store.delete("parcels")
    doc = area_document(store, AREA, units=1000)
    assert doc["sites"]["mode"] == "regions" and doc["sites"]["candidates"]
    out = write_atomic(render_area_pdf(doc), tmp_path / "regions.pdf")
    text = text_of(out)
    assert "无地块图层，按适宜性生长的区域" in text and "紧凑度" in text
    assert len(images_of(out)) == 3  # no contributions chart: regions have no per-criterion scores
