"""Labels, colours and glyphs of the maps (Chinese by default, English with lang=en)."""

from __future__ import annotations

from layers.schemas import SCHEMAS, VOCABULARIES

TEXT = {
    "zh": {"search": "按名称搜索…", "download": "下载当前图层 GeoJSON", "nothing": "当前没有可下载的要素",
           "status": "状态", "overview": "城市更新片区总览", "area_link": "打开片区地图", "local": "本地底图（离线）",
           "osm": "OpenStreetMap（在线）", "tianditu": "天地图（在线）", "amap": "高德地图（在线，GCJ-02）",
           "districts": "行政区划", "roads": "道路", "areas": "更新改造片区", "parcels": "候选地块",
           "services": "公共服务设施", "rings": "300/500/1000 米圈", "isochrones": "步行等时圈", "nearest": "最近设施连线",
           "gaps": "缺口（对照 GB 50180-2018）", "no_gaps": "各类设施均达标", "constraints": "限制因素",
           "surface": "适宜性评价", "candidates": "推荐安置地块", "origin": "原片区", "score": "得分",
           "unmatched": "未匹配行政区的区域（开发区等）", "amap_mode": "切换高德底图（GCJ-02）", "mu": "亩",
           "app_title": "城市更新规划", "nav": "导航", "nav_overview": "总览地图", "nav_targets": "目标与进度",
           "nav_sites": "安置选址", "nav_import": "导入图层", "nav_edit": "编辑片区"},
    "en": {"search": "Search by name…", "download": "Download visible layer (GeoJSON)", "nothing": "No features to download",
           "status": "Status", "overview": "Urban renewal overview", "area_link": "Open the area map",
           "local": "Local basemap (offline)", "osm": "OpenStreetMap (online)", "tianditu": "Tianditu (online)",
           "amap": "Amap (online, GCJ-02)", "districts": "Districts", "roads": "Roads", "areas": "Renewal areas",
           "parcels": "Candidate parcels", "services": "Public services", "rings": "300/500/1000 m rings",
           "isochrones": "Walking isochrones", "nearest": "Lines to nearest facilities",
           "gaps": "Gaps against GB 50180-2018", "no_gaps": "Every category meets the standard",
           "constraints": "Constraints", "surface": "Suitability", "candidates": "Recommended sites",
           "origin": "Origin area", "score": "Score", "unmatched": "Regions matching no district (development zones)",
           "amap_mode": "Switch to Amap (GCJ-02)", "mu": "mu",
           "app_title": "Urban renewal planning", "nav": "Navigation", "nav_overview": "Overview map",
           "nav_targets": "Targets and progress", "nav_sites": "Resettlement sites", "nav_import": "Import layers",
           "nav_edit": "Edit areas"},
}

STATUS_COLORS = {"planned": "#9ecae1", "approved": "#4292c6", "started": "#fdae6b", "basically_built": "#e6550d",
                 "delivered": "#31a354", "resettled": "#006d2c"}

GLYPHS = {  # one character and a colour per service category (no icon font needed offline)
    "kindergarten": ("幼", "#e7298a"), "nursery": ("托", "#f781bf"), "primary_school": ("小", "#1b9e77"),
    "middle_school": ("中", "#0b6e4f"), "hospital": ("医", "#d7301f"), "community_health": ("卫", "#fc8d59"),
    "clinic": ("诊", "#ef6548"), "elderly_care": ("养", "#7570b3"), "market": ("菜", "#a6761d"),
    "supermarket": ("超", "#e6ab02"), "park": ("园", "#66a61e"), "sports": ("体", "#1f78b4"),
    "bus_stop": ("公", "#666666"), "metro": ("地", "#386cb0"), "community_service": ("社", "#984ea3"),
    "culture": ("文", "#b15928")}


def t(lang: str, key: str) -> str:
    return TEXT.get(lang, TEXT["zh"]).get(key, key)


def field_label(lang: str, kind: str, field: str) -> str:
    if lang == "en":
        return field.replace("_", " ")
    schema = SCHEMAS.get(kind)
    if schema:
        for f in schema.fields:
            if f.name == field:
                return f.label_zh
    return field


def vocabulary(lang: str, name: str) -> dict[str, str]:
    codes = VOCABULARIES[name]
    return dict(codes) if lang != "en" else {c: c.replace("_", " ") for c in codes}
