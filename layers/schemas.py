"""Layer kinds and their schemas: English field names in code and API, Chinese labels here.

This is the one place that knows the Chinese display labels (``label_zh``) of fields and
vocabulary values; maps, exports and the CLI read them from here.
"""

from __future__ import annotations

__all__ = [
    "Field",
    "LayerSchema",
    "SCHEMAS",
    "VOCABULARIES",
    "VOCABULARY_ALIASES",
    "METRIC_LABELS_ZH",
    "LABELS_ZH",
    "schema_for",
    "label_zh",
    "value_label_zh",
    "shp_field_name",
]

from dataclasses import dataclass, field

from gis.errors import NotFoundError


@dataclass(frozen=True)
class Field:
    """One attribute of a layer kind.

    ``dtype`` is one of ``str``, ``int``, ``float``, ``bool``. ``choices`` names a
    vocabulary in :data:`VOCABULARIES`. ``aliases`` are other column names accepted on
    import (Chinese headers from office spreadsheets, common English variants).
    """

    name: str
    dtype: str
    label_zh: str
    required: bool = False
    choices: str | None = None
    default: object = None
    aliases: tuple[str, ...] = ()
    shp_name: str | None = None  # dBASE limits names to 10 characters


@dataclass(frozen=True)
class LayerSchema:
    kind: str
    label_zh: str
    geometry: str | None  # "polygon", "point", "line" or None for tables
    fields: tuple[Field, ...] = field(default_factory=tuple)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]


#: Controlled vocabularies: code → Chinese label.
VOCABULARIES: dict[str, dict[str, str]] = {
    "renewal_kind": {
        "shantytown": "棚户区",
        "urban_village": "城中村",
        "old_compound": "老旧小区",
        "old_factory": "老厂区",
        "old_street": "老街区",
        "dilapidated": "城市危房",
        "subsidence": "采煤塌陷区",
    },
    "renewal_status": {
        "planned": "计划",
        "approved": "已批复",
        "started": "已开工",
        "basically_built": "基本建成",
        "delivered": "建成交付",
        "resettled": "已回迁安置",
    },
    # Milestones of a renewal project, in the order a project passes them (the progress layer).
    "progress_event": {
        "approved": "立项批复",
        "started": "新开工",
        "basically_built": "基本建成",
        "delivered": "建成交付",
        "resettled": "回迁安置",
    },
    "service_category": {
        "kindergarten": "幼儿园",
        "nursery": "托儿所",
        "primary_school": "小学",
        "middle_school": "中学",
        "hospital": "医院",
        "community_health": "社区卫生服务中心",
        "clinic": "卫生站",
        "elderly_care": "养老服务设施",
        "market": "菜市场",
        "supermarket": "便利店/超市",
        "park": "公园",
        "sports": "体育场地",
        "bus_stop": "公交站",
        "metro": "地铁站",
        "community_service": "社区服务站",
        "culture": "文化活动中心",
    },
    "land_status": {
        "state_reserve": "国有储备用地",
        "state_idle": "国有闲置用地",
        "state_in_use": "国有在用地",
        "collective": "集体土地",
        "other": "其他",
    },
    "constraint_kind": {
        "subsidence": "采煤塌陷区",
        "flood": "洪涝风险区",
        "farmland": "永久基本农田",
        "ecological_redline": "生态保护红线",
        "geohazard": "地质灾害隐患区",
        "heritage": "文物保护范围",
    },
    "severity": {"exclude": "禁止", "penalize": "限制"},
    "road_class": {
        "expressway": "快速路",
        "arterial": "主干路",
        "secondary": "次干路",
        "branch": "支路",
        "footway": "步行道",
    },
}

#: Other words the offices write for a vocabulary value (accepted on import, mapped to the code).
VOCABULARY_ALIASES: dict[str, dict[str, str]] = {
    "progress_event": {"前期手续": "approved", "立项": "approved", "批复": "approved", "开工": "started",
                       "已开工": "started", "交付": "delivered", "回迁": "resettled", "安置": "resettled",
                       "已回迁安置": "resettled", "已批复": "approved", "已建成交付": "delivered"},
}

_NAME = Field("name", "str", "名称", required=True, aliases=("名称", "项目名称", "NAME", "mc"))
_COMMON_TAIL = (
    Field("area_m2", "float", "面积(平方米)", shp_name="area_m2"),
    Field("area_mu", "float", "面积(亩)", shp_name="area_mu"),
)

SCHEMAS: dict[str, LayerSchema] = {
    s.kind: s
    for s in (
        LayerSchema(
            "districts",
            "行政区划",
            "polygon",
            (
                _NAME,
                Field("city", "str", "所属城市", aliases=("城市", "市")),
                Field("adcode", "str", "行政区划代码", aliases=("代码",)),
                Field("level", "str", "级别"),
                *_COMMON_TAIL,
            ),
        ),
        LayerSchema(
            "renewal_areas",
            "更新改造片区",
            "polygon",
            (
                _NAME,
                Field("county", "str", "县市区", required=True, aliases=("县（市、区）", "县区", "区县")),
                Field("kind", "str", "改造类型", required=True, choices="renewal_kind", aliases=("类型", "改造类型")),
                Field("households", "int", "户数", aliases=("户数",)),
                Field("units", "int", "套数", aliases=("套数",)),
                Field("floor_area_m2", "float", "建筑面积(平方米)", aliases=("建筑面积",), shp_name="floor_m2"),
                Field("built_year", "int", "建成年代", aliases=("建成年份",), shp_name="built_year"),
                Field("plan_year", "int", "计划年度", aliases=("年度", "计划年份")),
                Field("status", "str", "状态", choices="renewal_status", default="planned", aliases=("状态", "进度")),
                Field("investment", "float", "总投资(万元)", aliases=("总投资",)),
                Field("approximate", "bool", "几何为示意", default=False, shp_name="approx"),
                Field("note", "str", "备注", aliases=("备注",)),
                *_COMMON_TAIL,
            ),
        ),
        LayerSchema(
            "services",
            "公共服务设施",
            "point",
            (
                _NAME,
                Field("category", "str", "设施类别", required=True, choices="service_category", aliases=("类别", "设施类型")),
                Field("capacity", "float", "规模(床位/学位)", aliases=("规模", "学位", "床位")),
            ),
        ),
        # Planned facilities ("what if", issue #13): the services fields in a kind of their own,
        # so that analyses reading the services layer never count a plan as an existing
        # facility; reports add them only when asked (with_planned). See workflows/planned.py.
        LayerSchema(
            "planned_services",
            "规划公共服务设施",
            "point",
            (
                _NAME,
                Field("category", "str", "设施类别", required=True, choices="service_category",
                      aliases=("类别", "设施类型")),
                Field("capacity", "float", "规模(床位/学位)", aliases=("规模", "学位", "床位")),
                Field("area_id", "int", "规划所属片区编号", aliases=("片区编号",)),
                Field("note", "str", "备注", aliases=("备注",)),
            ),
        ),
        LayerSchema(
            "parcels",
            "候选地块",
            "polygon",
            (
                _NAME,
                Field("land_status", "str", "土地状态", choices="land_status", default="other", aliases=("土地状态",), shp_name="land_stat"),
                Field("current_use", "str", "现状用途", aliases=("现状用途",), shp_name="cur_use"),
                Field("max_far", "float", "容积率上限", aliases=("容积率",)),
                *_COMMON_TAIL,
            ),
        ),
        LayerSchema(
            "constraints",
            "限制因素",
            "polygon",
            (
                _NAME,
                Field("kind", "str", "限制类型", required=True, choices="constraint_kind", aliases=("类型",)),
                Field("severity", "str", "限制程度", choices="severity", default="exclude", aliases=("程度",)),
                Field("buffer_m", "float", "缓冲距离(米)", default=0.0),
                *_COMMON_TAIL,
            ),
        ),
        LayerSchema(
            "roads",
            "道路",
            "line",
            (
                Field("name", "str", "道路名称", aliases=("名称", "道路名称")),
                Field("road_class", "str", "道路等级", choices="road_class", default="branch", aliases=("class", "等级", "道路等级"), shp_name="road_class"),
            ),
        ),
        LayerSchema(
            "population",
            "人口分布",
            "polygon",
            (
                Field("name", "str", "名称", aliases=("名称", "小区名称")),
                Field("population", "float", "人口(人)", aliases=("人口", "常住人口", "pop")),
                Field("households", "int", "户数", aliases=("户数",)),
                *_COMMON_TAIL,
            ),
        ),
        LayerSchema(
            "targets",
            "年度目标任务",
            None,
            (
                Field("city", "str", "城市", required=True),
                Field("region", "str", "县（市、区）", required=True),
                Field("year", "str", "年度", required=True),
                Field("metric", "str", "指标", required=True),
                Field("value", "float", "数值", required=True),
                Field("source", "str", "来源"),
                Field("note", "str", "备注", aliases=("备注",)),
            ),
        ),
        # Milestone events of renewal areas (issue #14): one row per event; checked against the
        # renewal areas on import (layers/progress.py), counted against the targets.
        LayerSchema(
            "progress",
            "项目进度节点",
            None,
            (
                Field("area", "str", "项目名称", required=True, aliases=("项目名称", "项目", "片区", "片区名称")),
                Field("date", "str", "日期", required=True, aliases=("日期", "时间", "节点日期")),
                Field("event", "str", "节点", required=True, choices="progress_event", aliases=("节点", "事件")),
                Field("units", "int", "套数", required=True, aliases=("套数",)),
                Field("households", "int", "户数", aliases=("户数",)),
                Field("note", "str", "备注", aliases=("备注",)),
                Field("area_id", "int", "片区编号", aliases=("片区编号",)),
            ),
        ),
    )
}

#: Chinese labels of target metrics and of generic columns that appear in outputs.
LABELS_ZH: dict[str, str] = {
    "new_start_projects": "新开工项目个数",
    "new_start_units": "新开工套数",
    "basically_built_units": "基本建成套数",
    "delivered_units": "建成交付套数",
    "resettled_households": "回迁安置户数",

    "id": "编号",
    "synthetic": "模拟数据",
}


#: Chinese labels of every target metric (the target tables' ``metric`` codes).
METRIC_LABELS_ZH: dict[str, str] = {
    "new_start_projects": "新开工项目个数",
    "new_start_units": "新开工套数",
    "basically_built_units": "基本建成套数",
    "delivered_units": "建成交付套数",
    "resettled_households": "回迁安置户数",
    "projects": "改造项目个数",
    "households": "改造户数",
    "floor_area_m2": "改造建筑面积(平方米)",
}


def schema_for(kind: str) -> LayerSchema:
    """The schema of a layer kind, or a NotFoundError listing the known kinds."""
    try:
        return SCHEMAS[kind]
    except KeyError:
        raise NotFoundError(
            f"unknown layer kind {kind!r}; known kinds: {', '.join(SCHEMAS)}"
        ) from None


def label_zh(kind: str, field_name: str) -> str:
    """Chinese display label of a field (falls back to the field name)."""
    schema = SCHEMAS.get(kind)
    if schema is not None:
        for f in schema.fields:
            if f.name == field_name:
                return f.label_zh
    return LABELS_ZH.get(field_name, field_name)


def value_label_zh(vocabulary: str, code: str) -> str:
    """Chinese label of a vocabulary code (the code itself if unknown)."""
    return VOCABULARIES.get(vocabulary, {}).get(code, code)


def shp_field_name(f: Field) -> str:
    return f.shp_name or f.name[:10]
