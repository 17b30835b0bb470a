"""The bundled sample city (Jiaozuo 焦作市, with Ganzhou 赣州市 district targets) and a synthetic province."""

from layers.sample.build import SAMPLE_GK_EPSG, TAOSAN, WEST_BIG_WELL, build_sample_store
from layers.sample.province import PROVINCE_SIZES, build_province_store, city_name

__all__ = ["build_sample_store", "WEST_BIG_WELL", "TAOSAN", "SAMPLE_GK_EPSG", "build_province_store",
           "PROVINCE_SIZES", "city_name"]
