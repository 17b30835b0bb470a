"""Transform criterion values (metres, degrees, any unit) to suitability in [0, 1].

Functions follow ArcGIS Pro's Suitability Modeler: linear, MSSmall/MSLarge (mean and
standard deviation based), Gaussian (an ideal value), near/far (logistic around a
midpoint) and classes (value ranges → scores). NaN (NoData) stays NaN.
"""

from __future__ import annotations

__all__ = ["Transform", "TRANSFORMS", "apply_transform", "linear", "ms_small", "ms_large", "gaussian",
           "near", "far", "classes"]

from dataclasses import dataclass, field

import numpy as np

from gis.errors import InputError


def linear(x, low: float, high: float, increasing: bool = True) -> np.ndarray:
    """0 at ``low``, 1 at ``high`` (reversed when ``increasing`` is False), clipped.

    Examples
    --------
    >>> linear([0, 250, 500, 900], 0, 500, increasing=False).tolist()
    [1.0, 0.5, 0.0, 0.0]
    """
    if high <= low:
        raise InputError(f"linear: 'high' ({high}) must be greater than 'low' ({low})")
    y = np.clip((np.asarray(x, dtype=np.float32) - low) / np.float32(high - low), 0, 1)
    return y if increasing else 1 - y


def _mean_std(x, mean, std):
    arr = np.asarray(x, dtype=np.float32)
    m = float(np.nanmean(arr)) if mean is None else float(mean)
    s = float(np.nanstd(arr)) if std is None else float(std)
    if s <= 0:
        raise InputError("ms_small/ms_large need a positive standard deviation")
    return arr, m, s


def ms_small(x, mean: float | None = None, std: float | None = None, a: float = 1.0, b: float = 1.0) -> np.ndarray:
    """ArcGIS MSSmall: 1 up to a·mean, then b·s / (x − a·m + b·s): small values favoured.

    Examples
    --------
    >>> ms_small([100, 200, 300], mean=100, std=100).tolist()
    [1.0, 0.5, 0.3333333432674408]
    """
    arr, m, s = _mean_std(x, mean, std)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(arr > a * m, (b * s) / (arr - a * m + b * s), 1.0)
    return y.astype(np.float32)


def ms_large(x, mean: float | None = None, std: float | None = None, a: float = 1.0, b: float = 1.0) -> np.ndarray:
    """ArcGIS MSLarge: 0 up to a·mean, then 1 − b·s / (x − a·m + b·s): large values favoured."""
    arr, m, s = _mean_std(x, mean, std)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(arr > a * m, 1.0 - (b * s) / (arr - a * m + b * s), 0.0)
    return y.astype(np.float32)


def gaussian(x, ideal: float, width: float) -> np.ndarray:
    """1 at the ideal value, exp(−½) ≈ 0.607 at ideal ± width.

    Examples
    --------
    >>> [round(v, 3) for v in gaussian([5, 7, 9], ideal=5, width=2).tolist()]
    [1.0, 0.607, 0.135]
    """
    if width <= 0:
        raise InputError("gaussian: 'width' must be positive")
    z = (np.asarray(x, dtype=np.float32) - ideal) / np.float32(width)
    return np.exp(-0.5 * z * z).astype(np.float32)


def near(x, midpoint: float, spread: float) -> np.ndarray:
    """Logistic, high when near: 1/(1 + exp((x − midpoint)/spread)); 0.5 at the midpoint.

    Examples
    --------
    >>> [round(v, 3) for v in near([0, 500, 1000], midpoint=500, spread=100).tolist()]
    [0.993, 0.5, 0.007]
    """
    if spread <= 0:
        raise InputError("near/far: 'spread' must be positive")
    z = np.clip((np.asarray(x, dtype=np.float32) - midpoint) / np.float32(spread), -60, 60)
    return (1.0 / (1.0 + np.exp(z))).astype(np.float32)


def far(x, midpoint: float, spread: float) -> np.ndarray:
    """Logistic, high when far (the complement of :func:`near`)."""
    return (1.0 - near(x, midpoint, spread)).astype(np.float32)


def classes(x, breaks: list[float], values: list[float]) -> np.ndarray:
    """Ranges → scores: ``values[i]`` for breaks[i-1] <= x < breaks[i] (len(values) = len(breaks) + 1).

    Examples
    --------
    >>> classes([1, 4, 9, 20], breaks=[2, 5, 10], values=[1.0, 0.8, 0.4, 0.0]).tolist()
    [1.0, 0.800000011920929, 0.4000000059604645, 0.0]
    """
    breaks = list(breaks)
    if len(values) != len(breaks) + 1:
        raise InputError(f"classes: need {len(breaks) + 1} values for {len(breaks)} breaks, got {len(values)}")
    if any(b2 <= b1 for b1, b2 in zip(breaks, breaks[1:], strict=False)):
        raise InputError("classes: breaks must increase")
    arr = np.asarray(x, dtype=np.float32)
    out = np.asarray(values, dtype=np.float32)[np.digitize(arr, breaks)]
    return np.where(np.isnan(arr), np.float32(np.nan), out)


TRANSFORMS = {"linear": linear, "ms_small": ms_small, "ms_large": ms_large, "gaussian": gaussian,
              "near": near, "far": far, "classes": classes}


@dataclass(frozen=True)
class Transform:
    """A named transform with its parameters, e.g. ``Transform("near", {"midpoint": 500, "spread": 100})``."""

    kind: str
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in TRANSFORMS:
            raise InputError(f"unknown transform {self.kind!r}; use one of {', '.join(TRANSFORMS)}")


def apply_transform(values, transform: Transform) -> np.ndarray:
    """Apply ``transform`` to ``values`` (float32 out, NaN kept, clipped to [0, 1])."""
    try:
        out = TRANSFORMS[transform.kind](values, **transform.params)
    except TypeError as ex:
        raise InputError(f"transform {transform.kind!r}: bad parameters {transform.params}: {ex}") from ex
    arr = np.asarray(values, dtype=np.float32)
    return np.where(np.isnan(arr), np.float32(np.nan), np.clip(out, 0, 1)).astype(np.float32)
