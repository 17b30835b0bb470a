"""Amap, Baidu and Tencent POI exports: every category from type codes / tags / category paths
(hand-made tables with known positions), coordinates shifted back from GCJ-02 / BD-09, unmapped
types refused or skipped and reported, CSV and xlsx; our own category column left alone."""

import numpy as np
import pandas as pd
import pytest

from gis.crs import wgs84_to_bd09, wgs84_to_gcj02
from gis.errors import ValidationError
from layers.imports import import_file
from layers.poi_exports import categorize_poi_export, poi_export_kind
from layers.store import open_store
from renewal_cli.main import main

#: (name, Amap typecode, Amap 类型, Baidu tag, expected category), one row per category.
ROWS = [
    ("阳光幼儿园", "141204", "科教文化服务;学校;幼儿园", "教育培训;幼儿园", "kindergarten"),
    ("小太阳托儿所", "141204", "科教文化服务;学校;幼儿园", "教育培训;幼儿园", "nursery"),
    ("解放路小学", "141203", "科教文化服务;学校;小学", "教育培训;小学", "primary_school"),
    ("焦作市第一中学", "141202", "科教文化服务;学校;中学", "教育培训;中学", "middle_school"),
    ("焦作市人民医院", "090100", "医疗保健服务;综合医院;综合医院", "医疗;综合医院", "hospital"),
    ("焦南社区卫生服务中心", "090102", "医疗保健服务;综合医院;卫生院", "医疗;社区医疗", "community_health"),
    ("王封诊所", "090300", "医疗保健服务;诊所;诊所", "医疗;诊所", "clinic"),
    ("幸福养老院", "071400", "生活服务;生活服务场所;生活服务场所", "生活服务;养老院", "elderly_care"),
    ("西大井菜市场", "060700", "购物服务;综合市场;综合市场", "购物;市场", "market"),
    ("丹尼斯超市", "060400", "购物服务;超级市场;超市", "购物;超市", "supermarket"),
    ("龙源湖公园", "110101", "风景名胜;公园广场;公园", "旅游景点;公园", "park"),
    ("市体育馆", "080101", "体育休闲服务;运动场馆;综合体育馆", "运动健身;体育场馆", "sports"),
    ("解放路站", "150700", "交通设施服务;公交车站;公交车站相关", "交通设施;公交车站", "bus_stop"),
    ("焦作站地铁站", "150500", "交通设施服务;地铁站;地铁站", "交通设施;地铁站", "metro"),
    ("焦南社区服务站", "120303", "商务住宅;住宅区;社区中心", "生活服务;社区服务", "community_service"),
    ("市图书馆", "140400", "科教文化服务;图书馆;图书馆", "文化传媒;图书馆", "culture"),
]
LON = 113.20 + np.arange(len(ROWS)) * 0.003
LAT = 35.22 + np.arange(len(ROWS)) * 0.002


def _amap(tmp_path, extra=(), suffix=".csv"):
    glon, glat = wgs84_to_gcj02(LON, LAT)
    frame = pd.DataFrame({"名称": [r[0] for r in ROWS], "类型": [r[2] for r in ROWS], "类型编码": [r[1] for r in ROWS],
                          "经度": glon, "纬度": glat, "地址": "焦作市"})
    frame = pd.concat([frame, pd.DataFrame(list(extra), columns=frame.columns)], ignore_index=True)
    path = tmp_path / f"amap{suffix}"
    frame.to_excel(path, index=False) if suffix == ".xlsx" else frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def _baidu(tmp_path):
    blon, blat = wgs84_to_bd09(LON, LAT)
    path = tmp_path / "baidu.csv"
    pd.DataFrame({"名称": [r[0] for r in ROWS], "标签": [r[3] for r in ROWS], "lng": blon, "lat": blat}).to_csv(
        path, index=False, encoding="utf-8-sig")
    return path


@pytest.mark.parametrize("make, crs, suffix", [(_amap, "gcj02", ".csv"), (_amap, "gcj02", ".xlsx"),
                                               (_baidu, "bd09", ".csv")])
def test_every_category_and_the_position_come_back(tmp_path, make, crs, suffix):
    path = make(tmp_path, suffix=suffix) if make is _amap else make(tmp_path)
    store = open_store(tmp_path / "s.gpkg")
    _, validated = import_file(store, path, layer="services", crs=crs)
    got = store.read("services").set_index("name")
    assert got["category"].to_dict() == {r[0]: r[4] for r in ROWS}
    order = [r[0] for r in ROWS]
    dx = (got.loc[order].geometry.x.to_numpy() - LON) * 91_000  # metres at 35°N, roughly
    dy = (got.loc[order].geometry.y.to_numpy() - LAT) * 111_000
    assert np.abs(dx).max() < 0.01 and np.abs(dy).max() < 0.01  # back to CGCS2000 within 1 cm
    assert any("POI export: 16 mapped" in str(n) for n in validated.notices)


def test_unmapped_types_are_refused_or_skipped_and_reported(tmp_path, capsys):
    unknown = [("某某KTV", "体育休闲服务;娱乐场所;KTV", "080302", 113.3, 35.3, "焦作市")] * 2
    path = _amap(tmp_path, extra=unknown)
    store = tmp_path / "s.gpkg"
    with pytest.raises(ValidationError, match="2 POIs have types that map to no category") as err:
        import_file(open_store(store), path, layer="services", crs="gcj02")
    assert "080302 体育休闲服务;娱乐场所;KTV: 2 rows" in str(err.value)
    assert not store.exists()  # nothing written
    assert main(["--store", str(store), "import", str(path), "--layer", "services", "--crs", "gcj02"]) == 2
    assert main(["--store", str(store), "import", str(path), "--layer", "services", "--crs", "gcj02",
                 "--skip-unmapped"]) == 0
    err = capsys.readouterr().err
    assert "skipped, type not mapped: 080302 体育休闲服务;娱乐场所;KTV × 2" in err
    assert open_store(store).info("services").feature_count == len(ROWS)


def test_a_user_table_replaces_the_shipped_one(tmp_path):
    table = tmp_path / "mine.csv"
    table.write_text("code,type,name,category\n080302,KTV,,culture\n", encoding="utf-8")
    frame = pd.DataFrame({"名称": ["某某KTV"], "类型编码": ["080302"], "类型": ["体育休闲服务;娱乐场所;KTV"]})
    out, report = categorize_poi_export(frame, table=table)
    assert out["category"].tolist() == ["culture"] and report.mapped == {"culture": 1}


def test_tables_with_a_category_are_not_poi_exports():
    assert poi_export_kind(pd.DataFrame({"名称": ["a"], "类别": ["park"], "类型": ["x"]})) is None
    assert poi_export_kind(pd.DataFrame({"name": ["a"], "tag": ["医疗;诊所"]})) == "baidu"
    assert poi_export_kind(pd.DataFrame({"名称": ["a"], "大类": ["医疗保健服务"], "小类": ["诊所"]})) == "amap"


#: Tencent category path of each row of ROWS (by name); the expected category is ROWS' by hand.
TENCENT = {
    "阳光幼儿园": "教育学校:幼儿园",
    "小太阳托儿所": "教育学校:幼儿园",
    "解放路小学": "教育学校:小学",
    "焦作市第一中学": "教育学校:中学",
    "焦作市人民医院": "医疗保健:综合医院",
    "焦南社区卫生服务中心": "医疗保健:综合医院",  # by its name
    "王封诊所": "医疗保健:诊所",
    "幸福养老院": "生活服务:其它生活服务",  # by its name alone
    "西大井菜市场": "购物:农贸市场",
    "丹尼斯超市": "购物:超市",
    "龙源湖公园": "旅游景点:公园",
    "市体育馆": "运动健身;综合体育场馆",  # some tools write ';' or '>' between the levels
    "解放路站": "基础设施:交通设施:公交车站",
    "焦作站地铁站": "基础设施 > 交通设施 > 地铁站",
    "焦南社区服务站": "房产小区:住宅区:社区中心",
    "市图书馆": "文化场馆:图书馆",
}
#: Coordinate columns as Tencent exports write them: the API's JSON flattened, or plain.
TENCENT_XY = {"location": ("location.lng", "location.lat"), "lnglat": ("lng", "lat"), "zh": ("经度", "纬度")}


def _tencent(tmp_path, extra=(), suffix=".csv", xy="location"):
    glon, glat = wgs84_to_gcj02(LON, LAT)
    x, y = TENCENT_XY[xy]
    frame = pd.DataFrame({"id": [str(7_000_000_000_000_000 + i) for i in range(len(ROWS))],
                          "title": [r[0] for r in ROWS], "address": "焦作市",
                          "category": [TENCENT[r[0]] for r in ROWS], "type": 0, y: glat, x: glon})
    frame = pd.concat([frame, pd.DataFrame(list(extra), columns=frame.columns)], ignore_index=True)
    path = tmp_path / f"tencent{suffix}"
    frame.to_excel(path, index=False) if suffix == ".xlsx" else frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path


@pytest.mark.parametrize("suffix, xy", [(".csv", "location"), (".csv", "lnglat"), (".xlsx", "zh"),
                                        (".xlsx", "location")])
def test_tencent_every_category_and_the_position_come_back(tmp_path, suffix, xy):
    path = _tencent(tmp_path, suffix=suffix, xy=xy)
    store = open_store(tmp_path / "s.gpkg")
    _, validated = import_file(store, path, layer="services", crs="gcj02")
    got = store.read("services").set_index("name")
    assert got["category"].to_dict() == {r[0]: r[4] for r in ROWS}
    assert got.loc["焦作站地铁站", "tencent_category"] == "基础设施 > 交通设施 > 地铁站"  # Tencent's path kept
    order = [r[0] for r in ROWS]
    dx = (got.loc[order].geometry.x.to_numpy() - LON) * 91_000  # metres at 35°N, roughly
    dy = (got.loc[order].geometry.y.to_numpy() - LAT) * 111_000
    assert np.abs(dx).max() < 0.01 and np.abs(dy).max() < 0.01  # back to CGCS2000 within 1 cm
    assert any("tencent POI export: 16 mapped" in str(n) for n in validated.notices)


def test_tencent_unmapped_categories_are_refused_or_skipped_and_reported(tmp_path, capsys):
    unknown = [("1", "某某川菜馆", "焦作市", "美食:中餐厅:川菜", 0, 35.3, 113.3)] * 2 + \
        [("2", "某某口腔诊所", "焦作市", "医疗保健:专科医院:齿科", 0, 35.3, 113.3)]
    path = _tencent(tmp_path, extra=unknown)
    store = tmp_path / "s.gpkg"
    with pytest.raises(ValidationError, match="3 POIs have types that map to no category") as err:
        import_file(open_store(store), path, layer="services", crs="gcj02")
    assert "美食:中餐厅:川菜: 2 rows" in str(err.value)
    assert "医疗保健:专科医院:齿科: 1 rows" in str(err.value)  # its own rows decide: only a 医院 counts
    assert not store.exists()  # nothing written
    assert main(["--store", str(store), "import", str(path), "--layer", "services", "--crs", "gcj02"]) == 2
    assert main(["--store", str(store), "import", str(path), "--layer", "services", "--crs", "gcj02",
                 "--skip-unmapped"]) == 0
    err = capsys.readouterr().err
    assert "skipped, type not mapped: 美食:中餐厅:川菜 × 2" in err
    assert "skipped, type not mapped: 医疗保健:专科医院:齿科 × 1" in err
    assert open_store(store).info("services").feature_count == len(ROWS)


def test_tencent_paths_fall_back_to_their_nearest_listed_parent():
    frame = pd.DataFrame({"title": ["市妇幼保健院", "市口腔医院", "某口腔诊所", "托育中心"],
                          "category": ["医疗保健:专科医院:妇产科", "医疗保健:专科医院:齿科", "医疗保健:专科医院:齿科",
                                       "教育学校:培训:幼儿教育"]})
    out, report = categorize_poi_export(frame, skip_unmapped=True)
    assert out.set_index("name")["category"].to_dict() == {"市妇幼保健院": "hospital", "市口腔医院": "hospital",
                                                           "托育中心": "nursery"}
    assert report.source == "tencent" and report.unmapped == {"医疗保健:专科医院:齿科": 1}


def test_a_user_table_replaces_the_shipped_tencent_one(tmp_path):
    table = tmp_path / "mine.csv"
    table.write_text("code,path,name,category\n141201,,,kindergarten\n,运动健身 > 健身中心,,sports\n",
                     encoding="utf-8")
    frame = pd.DataFrame({"title": ["某幼儿园", "某健身房"], "分类": ["教育学校:其它教育学校", "运动健身:健身中心"],
                          "category_code": ["141201", ""]})
    out, report = categorize_poi_export(frame, table=table)
    assert out["category"].tolist() == ["kindergarten", "sports"]
    assert report.mapped == {"kindergarten": 1, "sports": 1}


def test_tencent_coordinates_that_are_not_numbers_are_refused():
    frame = pd.DataFrame({"title": ["a", "b"], "category": ["旅游景点:公园"] * 2,
                          "location.lng": ["113.2", "x"], "location.lat": ["35.2", "35.2"]})
    with pytest.raises(ValidationError, match="coordinates missing or not numbers") as err:
        categorize_poi_export(frame)
    assert "row 2" in str(err.value) and "'x'" in str(err.value)


def test_our_own_category_column_is_not_a_tencent_export(tmp_path):
    assert poi_export_kind(pd.DataFrame({"title": ["a"], "category": ["教育学校:幼儿园"]})) == "tencent"
    assert poi_export_kind(pd.DataFrame({"名称": ["a"], "分类": ["教育学校;幼儿园"]})) == "tencent"
    assert poi_export_kind(pd.DataFrame({"name": ["a", "b"], "category": ["kindergarten", "公园"]})) is None
    # one of our codes among the paths: our own file with a wrong value, left to validation as before
    assert poi_export_kind(pd.DataFrame({"name": ["a", "b"], "category": ["park", "教育学校:幼儿园"]})) is None
    path = tmp_path / "mine.csv"
    pd.DataFrame({"name": ["阳光幼儿园", "龙源湖公园", "市体育馆"], "category": ["kindergarten", "公园", "Sports"],
                  "type": ["公办", "", ""], "lng": [113.2, 113.21, 113.22], "lat": [35.22, 35.23, 35.24]}
                 ).to_csv(path, index=False, encoding="utf-8-sig")
    store = open_store(tmp_path / "s.gpkg")
    _, validated = import_file(store, path, layer="services", crs="cgcs2000")
    got = store.read("services")
    assert got["category"].tolist() == ["kindergarten", "park", "sports"]
    assert "tencent_category" not in got.columns and not any("POI export" in str(n) for n in validated.notices)
    assert got.geometry.x.tolist() == [113.2, 113.21, 113.22]
