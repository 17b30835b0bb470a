"""The bundled sample city (Jiaozuo 焦作市, with Ganzhou 赣州市 district targets)."""

from layers.sample.build import SAMPLE_GK_EPSG, TAOSAN, WEST_BIG_WELL, build_sample_store

__all__ = ["build_sample_store", "WEST_BIG_WELL", "TAOSAN", "SAMPLE_GK_EPSG"]
