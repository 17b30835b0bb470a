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
           "nav_sites": "安置选址", "nav_import": "导入图层", "nav_edit": "编辑片区",
           "nav_overview_desc": "全市更新片区的分布与进度", "nav_targets_desc": "各区县年度目标与完成情况",
           "nav_sites_desc": "为片区推荐安置地块", "nav_import_desc": "导入 Shapefile、GeoPackage、Excel 等图层",
           "nav_edit_desc": "修改片区范围与属性", "home_search": "搜索片区", "home_search_hint": "输入片区名称",
           "all": "全部", "view_on_map": "在地图上查看", "col_name": "名称", "col_county": "县市区",
           "col_kind": "改造类型", "col_status": "状态", "col_mu": "面积（亩）", "col_households": "户数",
           "col_plan_year": "计划年度", "col_map": "地图", "home_summary": "共 {n} 个片区，{households} 户，{mu} 亩",
           "home_summary_filtered": "显示 {n} / {total} 个片区，{households} 户，{mu} 亩",
           "home_none": "没有符合条件的片区", "home_no_layer": "还没有更新改造片区图层：请先导入图层。",
           "home_filters": "筛选片区", "home_pages": "功能",
           "symbol_note": "圆圈大小表示户数；放大后显示片区范围",
           "zoom_hint": "放大后显示{layers}"},
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
           "nav_edit": "Edit areas",
           "nav_overview_desc": "Where the renewal areas are and how far they have got",
           "nav_targets_desc": "Yearly targets and progress by district",
           "nav_sites_desc": "Recommended resettlement sites for an area",
           "nav_import_desc": "Import Shapefile, GeoPackage, Excel and other layers",
           "nav_edit_desc": "Change the areas' outlines and attributes", "home_search": "Search areas",
           "home_search_hint": "Type an area name", "all": "All", "view_on_map": "View on map",
           "col_name": "Name", "col_county": "County", "col_kind": "Kind", "col_status": "Status",
           "col_mu": "Area (mu)", "col_households": "Households", "col_plan_year": "Plan year",
           "col_map": "Map",
           "home_summary": "{n} areas, {households} households, {mu} mu",
           "home_summary_filtered": "{n} of {total} areas, {households} households, {mu} mu",
           "home_none": "No area matches", "home_no_layer": "No renewal areas layer yet: import one first.",
           "home_filters": "Filter areas", "home_pages": "Pages",
           "symbol_note": "Circle size: households; zoom in to see the areas' outlines",
           "zoom_hint": "Zoom in to see {layers}"},
}

# Drawing and editing renewal areas (/maps/edit) and importing layers (/maps/import). The
# Chinese labels of form controls are a contract: planners and tests find the controls by them.
TEXT["zh"].update({
    "ed_token": "令牌", "ed_signin": "登录", "ed_signout": "退出登录", "ed_signed_in": "已登录：{user}",
    "ed_token_hint": "令牌只保存在当前浏览器标签页，关闭标签页即清除",
    "ed_token_empty": "请输入令牌", "ed_token_invalid": "令牌无效", "ed_no_edit_role": "该令牌无编辑权限",
    "ed_sign_in_first": "登录后才能绘制和编辑片区", "ed_offline": "无法连接服务器，请稍后重试",
    "ed_failed": "操作失败", "ed_map": "片区地图", "ed_draw": "绘制片区",
    "ed_draw_hint": "在地图上依次单击各顶点，最后单击第一个顶点闭合",
    "ed_pick": "选择片区", "ed_pick_none": "（单击地图上的片区或在此选择）", "ed_new_area": "新片区",
    "ed_name": "名称", "ed_county": "区县", "ed_kind": "类型", "ed_households": "户数",
    "ed_units": "套数", "ed_plan_year": "计划年度", "ed_status": "状态", "ed_shape": "形状",
    "ed_choose": "请选择", "ed_area_value": "面积：{mu} 亩（服务器计算）",
    "ed_area_pending": "面积：保存后由服务器计算", "ed_save": "保存", "ed_reshape": "编辑形状",
    "ed_delete": "删除", "ed_cancel": "取消", "ed_reload": "重新加载",
    "ed_reshape_hint": "拖动顶点修改形状，完成后单击“保存”",
    "ed_confirm_delete": "确定删除片区「{name}」？删除后不能恢复。",
    "ed_saved": "已保存「{name}」，面积 {mu} 亩", "ed_deleted": "已删除「{name}」",
    "ed_reloaded": "已重新加载「{name}」的最新版本",
    "ed_problems": "未保存：{n} 处问题，请按字段旁的提示修改后重新保存",
    "ed_stale": "该片区已被他人修改，请重新加载后再编辑（您的修改未保存，也未覆盖他人的修改）",
    "ed_gone": "该片区已被删除，请刷新页面", "ed_too_large": "提交的数据超过服务器允许的大小",
    "ed_truncated": "当前视野内片区过多，只显示了前 {n} 个，请放大地图",
    "im_intro": "支持 GeoJSON、GeoPackage、Shapefile（打包为 .zip）、CSV/TXT（经纬度列）、"
                "人口栅格 .tif、OpenStreetMap .osm.pbf。文件整体校验，有问题时不写入任何数据。",
    "im_file": "文件", "im_layer": "图层", "im_kind": "图层类型", "im_kind_auto": "按图层名判断",
    "im_crs": "坐标系", "im_crs_hint": "留空则用文件自带的坐标系（CSV 默认 CGCS2000 经纬度）",
    "im_encoding": "编码", "im_encoding_auto": "自动识别", "im_mode": "导入方式",
    "im_mode_replace": "替换整个图层", "im_mode_append": "追加到图层", "im_submit": "导入",
    "im_running": "正在导入…", "im_done": "导入成功",
    "im_problems": "导入失败：{n} 处问题，请修改文件后重新导入（未写入任何数据）",
    "im_failed": "导入失败（未写入任何数据）", "im_file_missing": "请选择要导入的文件",
    "im_row": "行", "im_field": "字段", "im_problem": "问题（如何修改）", "im_count": "要素数",
    "im_source_crs": "原坐标系", "im_repaired": "已自动修复", "im_notices": "提示",
    "im_layers": "已有图层", "im_sign_in_first": "登录后才能导入",
    "im_layer_missing": "请填写要导入到的图层名称",
})
TEXT["en"].update({
    "ed_token": "Token", "ed_signin": "Sign in", "ed_signout": "Sign out",
    "ed_signed_in": "Signed in as {user}",
    "ed_token_hint": "The token is kept in this browser tab only and cleared when it closes",
    "ed_token_empty": "Enter the token", "ed_token_invalid": "Invalid token",
    "ed_no_edit_role": "This token may not edit",
    "ed_sign_in_first": "Sign in to draw and edit areas",
    "ed_offline": "The server cannot be reached; try again later", "ed_failed": "Failed",
    "ed_map": "Map of areas", "ed_draw": "Draw area",
    "ed_draw_hint": "Click each corner on the map, then the first corner to close",
    "ed_pick": "Select area", "ed_pick_none": "(click an area on the map or choose it here)",
    "ed_new_area": "New area", "ed_name": "Name", "ed_county": "County", "ed_kind": "Kind",
    "ed_households": "Households", "ed_units": "Units", "ed_plan_year": "Plan year",
    "ed_status": "Status", "ed_shape": "Shape", "ed_choose": "Choose…",
    "ed_area_value": "Area: {mu} mu (computed by the server)",
    "ed_area_pending": "Area: computed by the server on save", "ed_save": "Save",
    "ed_reshape": "Edit shape", "ed_delete": "Delete", "ed_cancel": "Cancel", "ed_reload": "Reload",
    "ed_reshape_hint": "Drag the corners, then Save",
    "ed_confirm_delete": "Delete the area “{name}”? This cannot be undone.",
    "ed_saved": "Saved “{name}”: {mu} mu", "ed_deleted": "Deleted “{name}”",
    "ed_reloaded": "Reloaded the latest version of “{name}”",
    "ed_problems": "Not saved: {n} problem(s); fix the fields marked and save again",
    "ed_stale": "Someone else changed this area first; reload it and edit again (your change was "
                "not saved and overwrote nothing)",
    "ed_gone": "This area has been deleted; reload the page",
    "ed_too_large": "The data is over the server's limit",
    "ed_truncated": "Too many areas in view: only the first {n} are shown; zoom in",
    "im_intro": "GeoJSON, GeoPackage, Shapefile (zipped), CSV/TXT (longitude/latitude columns), "
                "population rasters (.tif) and OpenStreetMap extracts (.osm.pbf). The file is "
                "checked as a whole: nothing is written when it has problems.",
    "im_file": "File", "im_layer": "Layer", "im_kind": "Layer kind",
    "im_kind_auto": "From the layer name",
    "im_crs": "CRS", "im_crs_hint": "Empty: the file's own CRS (CSV: CGCS2000 degrees)",
    "im_encoding": "Encoding", "im_encoding_auto": "Detect", "im_mode": "Mode",
    "im_mode_replace": "Replace the layer", "im_mode_append": "Append to the layer",
    "im_submit": "Import", "im_running": "Importing…", "im_done": "Imported",
    "im_problems": "Not imported: {n} problem(s); fix the file and import again "
                   "(nothing was written)",
    "im_failed": "Not imported (nothing was written)",
    "im_file_missing": "Choose the file to import", "im_row": "Row", "im_field": "Field",
    "im_problem": "Problem (what to fix)", "im_count": "Features",
    "im_source_crs": "Source CRS", "im_repaired": "Repaired", "im_notices": "Notices",
    "im_layers": "Layers in the store", "im_sign_in_first": "Sign in to import",
    "im_layer_missing": "Give the layer to import into",
})

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

# The site-selection workplace (/maps/site-selection): form, answer table, legend, AHP panel.
TEXT["zh"].update({
    "site_title": "安置选址", "rank": "排名", "candidate": "候选地块", "area_mu_h": "面积(亩)",
    "required_mu_h": "需地(亩)", "to_origin_m": "距原片区(m)", "top_contributions": "主要贡献（前三）",
    "binding_h": "约束", "removed_h": "被规则排除的地块", "empty_answer": "没有地块满足全部条件。",
    "emptied_by": "使结果为空的规则", "together": "多条规则共同作用", "running": "正在计算…",
    "ranks": "候选地块编号", "legend_grey": "灰色：无评分（限制因素排除，或步行不可达）",
    "legend_extent": "评价范围（原片区外最远距离）", "export_geojson": "导出 GeoJSON",
    "sensitivity_h": "前三名的稳定性（权重随机扰动）", "stable": "保持前三的比例",
    "ahp_refused": "一致性比率 CR ≥ 0.10，判断不一致，请修改", "ahp_ok": "一致性可以接受（CR < 0.10）",
    "failed": "出错了", "site_area": "片区", "site_units": "安置套数", "site_distance": "最远距离（米）",
    "site_weights": "权重（%）", "site_method": "组合方法", "site_require": "必须满足",
    "site_require_category": "设施", "site_require_metres": "步行距离（米）", "site_require_add": "添加条件",
    "site_require_remove": "删除条件", "site_land": "用地状态", "site_run": "开始选址",
    "site_top": "候选数量", "site_sensitivity": "显示前三名稳定性", "ahp_title": "层次分析法（AHP）",
    "ahp_use": "使用这些权重", "ahp_hint": "行比列重要程度：1 同等，3 稍重要，5 明显重要，7 强烈重要，9 极端重要；1/3 等为倒数",
    "ahp_weight": "权重", "ahp_worst": "最不一致的判断", "site_no_parcels": "没有候选地块图层：结果为适宜区域。",
    "contributions": "各项贡献", "parcel_area": "面积", "capacity_units": "可容纳套数", "land_status": "用地状态",
})
TEXT["en"].update({
    "site_title": "Resettlement site selection", "rank": "Rank", "candidate": "Candidate parcel",
    "area_mu_h": "Area (mu)", "required_mu_h": "Needed (mu)", "to_origin_m": "To origin (m)",
    "top_contributions": "Top contributions", "binding_h": "Binding rules", "removed_h": "Parcels removed by rule",
    "empty_answer": "No parcel passes every rule.", "emptied_by": "Rule that emptied the answer",
    "together": "several rules together", "running": "Computing…", "ranks": "Candidate numbers",
    "legend_grey": "Grey: no score (excluded by a constraint, or beyond walking reach)",
    "legend_extent": "Scored extent (max distance around the area)", "export_geojson": "Export GeoJSON",
    "sensitivity_h": "Stability of the top three (weights perturbed)", "stable": "share staying in the top three",
    "ahp_refused": "CR ≥ 0.10: the judgements are inconsistent, revise them",
    "ahp_ok": "Consistency acceptable (CR < 0.10)", "failed": "Failed", "site_area": "Area",
    "site_units": "Units to resettle", "site_distance": "Maximum distance (m)", "site_weights": "Weights (%)",
    "site_method": "Combination method", "site_require": "Must have", "site_require_category": "Facility",
    "site_require_metres": "Walking metres", "site_require_add": "Add a rule", "site_require_remove": "Remove rule",
    "site_land": "Land status", "site_run": "Find sites", "site_top": "Candidates", "site_sensitivity":
    "Show stability of the top three", "ahp_title": "Analytic hierarchy process (AHP)", "ahp_use": "Use these weights",
    "ahp_hint": "Row vs column: 1 equal, 3 moderate, 5 strong, 7 very strong, 9 extreme; 1/3 etc. reciprocals",
    "ahp_weight": "Weight", "ahp_worst": "Most inconsistent judgement",
    "site_no_parcels": "No candidate parcels layer: the answer is suitable regions.", "contributions": "Contributions",
    "parcel_area": "Area", "capacity_units": "Capacity (units)", "land_status": "Land status",
})

# What if: planned facilities on an area's map (issue #13, maps/static/whatif.js). The Chinese
# labels of the controls are a contract: planners and tests find the controls by them.
TEXT["zh"].update({
    "wi_add": "添加规划设施", "wi_category": "设施类型", "wi_hint": "在地图上单击放置设施（Esc 取消）",
    "wi_compare": "规划前 → 规划后", "wi_facility": "设施", "wi_walk": "步行(米)", "wi_meets": "达标",
    "wi_gap": "缺口", "wi_resolved": "已消除", "wi_planned": "规划设施", "wi_unsaved": "未保存",
    "wi_saved": "已保存", "wi_delete": "删除", "wi_token": "令牌", "wi_save": "保存为规划",
    "wi_saved_n": "已保存 {n} 处规划设施", "wi_deleted": "已删除规划设施", "wi_need_token": "请输入编辑令牌",
    "wi_no_role": "该令牌无编辑权限", "wi_failed": "操作失败", "wi_busy": "正在计算…",
    "wi_count": "规划设施 {n} 处，其中未保存 {u} 处", "wi_with_planned": "已计入已保存的规划设施",
    "wi_not_saved": "规划设施尚未保存：缺口表为假设情形", "wi_show_saved": "显示已保存的规划设施",
})
TEXT["en"].update({
    "wi_add": "Add planned facility", "wi_category": "Facility type",
    "wi_hint": "Click on the map to place it (Esc cancels)", "wi_compare": "Before → after",
    "wi_facility": "Facility", "wi_walk": "Walk (m)", "wi_meets": "Meets", "wi_gap": "Gap",
    "wi_resolved": "resolved", "wi_planned": "Planned facility", "wi_unsaved": "not saved",
    "wi_saved": "saved", "wi_delete": "Delete", "wi_token": "Token", "wi_save": "Save as plan",
    "wi_saved_n": "Saved {n} planned facilities",
    "wi_deleted": "Planned facility deleted", "wi_need_token": "Enter an editor token",
    "wi_no_role": "This token may not edit", "wi_failed": "Failed", "wi_busy": "Computing…",
    "wi_count": "{n} planned facilities, {u} not saved",
    "wi_with_planned": "Saved planned facilities are counted",
    "wi_not_saved": "Planned facilities not saved yet: the gap table is a what-if",
    "wi_show_saved": "Show saved planned facilities",
})

# Targets and progress (/maps/progress, issue #14). The Chinese labels of the controls and the
# tables' headings are a contract: planners and tests find them by these words.
TEXT["zh"].update({
    "pg_city": "城市", "pg_year": "年度", "pg_metric": "指标", "pg_as_of": "截至日期",
    "pg_form": "查询条件", "pg_map": "各县（市）区完成率地图",
    "pg_legend": "完成率", "pg_no_target": "无目标任务", "pg_unmatched": "未能在地图上着色的区域",
    "pg_unmatched_none": "所有区域均已在地图上着色", "pg_charts": "目标与完成",
    "pg_table": "分县（市）区完成情况", "pg_region": "县（市）区", "pg_target": "目标",
    "pg_actual": "完成", "pg_share": "完成率", "pg_state": "状态",
    "pg_state_done": "已完成", "pg_state_on_track": "正常推进", "pg_state_behind": "进度滞后",
    "pg_state_overdue": "已逾期",
    "pg_overdue": "逾期项目", "pg_project": "项目名称", "pg_milestone": "逾期节点",
    "pg_due": "应完成日期", "pg_days_late": "逾期天数", "pg_no_overdue": "无逾期项目",
    "pg_no_due": "无期限",
    "pg_ms_approved": "立项批复/前期手续", "pg_ms_started": "新开工", "pg_ms_basically_built": "基本建成",
    "pg_ms_delivered": "建成交付", "pg_ms_resettled": "回迁安置",
    "pg_status": "数据截至 {as_of} · {city} {year} 年度目标 · 进度节点 {events} 条",
    "pg_synthetic": "模拟数据", "pg_loading": "正在加载…", "pg_failed": "加载失败",
    "pg_notes": "说明", "pg_mismatches": "片区状态与进度节点不一致",
    "pg_mismatch_row": "{area}：登记为“{stored}”，按进度节点应为“{derived}”（{date}）",
    "pg_chart_alt": "{metric}：各县（市）区目标与完成（数值见下表）",
    "pg_not_in_table": "目标表中没有该区域", "pg_no_targets": "还没有目标任务表：请先导入图层。",
    "pg_range": "{start} 至 {end}", "pg_plan_start": "规划第一年（Y1）",
    "pg_plan_start_needed": "该目标表按规划年度（Y1、Y2…）编制：请填写规划第一年（Y1）对应的年份",
    "pg_metric_new_start_projects": "新开工项目个数", "pg_metric_new_start_units": "新开工套数",
    "pg_metric_basically_built_units": "基本建成套数", "pg_metric_delivered_units": "建成交付套数",
    "pg_metric_resettled_households": "回迁安置户数", "pg_metric_projects": "改造项目个数",
    "pg_metric_households": "改造户数", "pg_metric_floor_area_m2": "改造建筑面积(平方米)",
})
TEXT["en"].update({
    "pg_city": "City", "pg_year": "Year", "pg_metric": "Metric", "pg_as_of": "As of",
    "pg_form": "Report options", "pg_map": "Map of the share done by county",
    "pg_legend": "Share done", "pg_no_target": "No target", "pg_unmatched": "Regions not on the map",
    "pg_unmatched_none": "Every region is coloured on the map", "pg_charts": "Target and actual",
    "pg_table": "Progress by county", "pg_region": "County", "pg_target": "Target",
    "pg_actual": "Actual", "pg_share": "Share", "pg_state": "State",
    "pg_state_done": "Done", "pg_state_on_track": "On track", "pg_state_behind": "Behind",
    "pg_state_overdue": "Overdue",
    "pg_overdue": "Overdue projects", "pg_project": "Project", "pg_milestone": "Overdue milestone",
    "pg_due": "Due", "pg_days_late": "Days late", "pg_no_overdue": "No overdue project",
    "pg_no_due": "no deadline",
    "pg_ms_approved": "Approved", "pg_ms_started": "Started", "pg_ms_basically_built": "Basically built",
    "pg_ms_delivered": "Delivered", "pg_ms_resettled": "Resettled",
    "pg_status": "As of {as_of} · {city} {year} targets · {events} milestone events",
    "pg_synthetic": "Synthetic data", "pg_loading": "Loading…", "pg_failed": "Failed to load",
    "pg_notes": "Notes", "pg_mismatches": "Areas whose status disagrees with their milestones",
    "pg_mismatch_row": "{area}: stored as “{stored}”, the milestones say “{derived}” ({date})",
    "pg_chart_alt": "{metric}: target and actual by county (the numbers are in the table below)",
    "pg_not_in_table": "not in the target table",
    "pg_no_targets": "No target table yet: import one first.",
    "pg_range": "{start} to {end}", "pg_plan_start": "Calendar year of Y1",
    "pg_plan_start_needed": "This table is by plan year (Y1, Y2…): give the calendar year of Y1",
    "pg_metric_new_start_projects": "Projects started", "pg_metric_new_start_units": "Units started",
    "pg_metric_basically_built_units": "Units basically built",
    "pg_metric_delivered_units": "Units delivered",
    "pg_metric_resettled_households": "Households resettled", "pg_metric_projects": "Renewal projects",
    "pg_metric_households": "Households", "pg_metric_floor_area_m2": "Floor area (m²)",
})
