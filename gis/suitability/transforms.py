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


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


# Every transform takes ``out``: the array to write into, which may be the input itself. The
# raster pipeline passes its own window buffers so 10⁸-cell surfaces are transformed in place
# instead of allocating (and page-faulting) fresh arrays for each of several passes. Those
# ending in a multiplication also take ``scale`` (a criterion's weight), which a weighted sum
# would otherwise spend one more pass over the window on.

def linear(x, low: float, high: float, increasing: bool = True, out: np.ndarray | None = None,
           scale: float = 1.0) -> np.ndarray:
    """0 at ``low``, 1 at ``high`` (reversed when ``increasing`` is False), clipped.

    Examples
    --------
    >>> linear([0, 250, 500, 900], 0, 500, increasing=False).tolist()
    [1.0, 0.5, 0.0, 0.0]
    """
    if high <= low:
        raise InputError(f"linear: 'high' ({high}) must be greater than 'low' ({low})")
    y = np.clip(_f32(x), np.float32(low), np.float32(high), out=out)
    if increasing:
        np.subtract(y, np.float32(low), out=y)
    else:
        np.subtract(np.float32(high), y, out=y)
    y *= np.float32(scale / (high - low))
    return y


def _mean_std(x, mean, std):
    arr = _f32(x)
    m = float(np.nanmean(arr)) if mean is None else float(mean)
    s = float(np.nanstd(arr)) if std is None else float(std)
    if s <= 0:
        raise InputError("ms_small/ms_large need a positive standard deviation ('std')")
    return arr, m, s


def ms_small(x, mean: float | None = None, std: float | None = None, a: float = 1.0, b: float = 1.0,
             out: np.ndarray | None = None) -> np.ndarray:
    """ArcGIS MSSmall: 1 up to a·mean, then b·s / (x − a·m + b·s): small values favoured.

    Without ``mean``/``std`` they are taken from ``x``; the raster pipeline passes those of
    the whole criterion raster.

    Examples
    --------
    >>> ms_small([100, 200, 300], mean=100, std=100).tolist()
    [1.0, 0.5, 0.3333333432674408]
    """
    arr, m, s = _mean_std(x, mean, std)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(arr > a * m, np.float32(b * s) / (arr - np.float32(a * m - b * s)), np.float32(1.0))
    y[np.isnan(arr)] = np.nan  # NoData stays NoData, not "most suitable"
    return _into(y, out)


def ms_large(x, mean: float | None = None, std: float | None = None, a: float = 1.0, b: float = 1.0,
             out: np.ndarray | None = None) -> np.ndarray:
    """ArcGIS MSLarge: 0 up to a·mean, then 1 − b·s / (x − a·m + b·s): large values favoured."""
    arr, m, s = _mean_std(x, mean, std)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(arr > a * m, 1 - np.float32(b * s) / (arr - np.float32(a * m - b * s)), np.float32(0.0))
    y[np.isnan(arr)] = np.nan
    return _into(y, out)


def _into(y: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    if out is None:
        return y.astype(np.float32, copy=False)
    np.copyto(out, y)
    return out


def gaussian(x, ideal: float, width: float, out: np.ndarray | None = None) -> np.ndarray:
    """1 at the ideal value, exp(−½) ≈ 0.607 at ideal ± width.

    Examples
    --------
    >>> [round(v, 3) for v in gaussian([5, 7, 9], ideal=5, width=2).tolist()]
    [1.0, 0.607, 0.135]
    """
    if width <= 0:
        raise InputError("gaussian: 'width' must be positive")
    z = np.subtract(_f32(x), np.float32(ideal), out=out)
    np.square(z, out=z)
    z *= np.float32(-0.5 / width**2)
    return np.exp(z, out=z)


def near(x, midpoint: float, spread: float, out: np.ndarray | None = None, scale: float = 1.0) -> np.ndarray:
    """Logistic, high when near: 1/(1 + exp((x − midpoint)/spread)); 0.5 at the midpoint.

    Examples
    --------
    >>> [round(v, 3) for v in near([0, 500, 1000], midpoint=500, spread=100).tolist()]
    [0.993, 0.5, 0.007]
    """
    return _logistic(x, midpoint, spread, 1.0, out, scale)


def far(x, midpoint: float, spread: float, out: np.ndarray | None = None, scale: float = 1.0) -> np.ndarray:
    """Logistic, high when far (the complement of :func:`near`).

    >>> [round(v, 3) for v in far([0, 500, 1000], midpoint=500, spread=100).tolist()]
    [0.007, 0.5, 0.993]
    """
    return _logistic(x, midpoint, spread, -1.0, out, scale)


def _logistic(x, midpoint: float, spread: float, sign: float, out: np.ndarray | None, scale: float) -> np.ndarray:
    if spread <= 0:
        raise InputError("near/far: 'spread' must be positive")
    # 1/(1 + e^z) with one exp pass (float32 exp is ~1.6x cheaper than tanh). Large z gives
    # e^z = inf and 1/inf = 0 exactly, so the overflow is harmless.
    z = np.subtract(_f32(x), np.float32(midpoint), out=out)
    z *= np.float32(sign / spread)
    with np.errstate(over="ignore"):
        np.exp(z, out=z)
    z += np.float32(1)
    return np.divide(np.float32(scale), z, out=z)


def classes(x, breaks: list[float], values: list[float], out: np.ndarray | None = None,
            scale: float = 1.0) -> np.ndarray:
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
        raise InputError("classes: 'breaks' must increase")
    if len(breaks) > 254:
        raise InputError("classes: at most 254 breaks")
    if not all(0 <= v <= 1 for v in values):  # scores, and _BOUNDED relies on it
        raise InputError(f"classes: 'values' are scores from 0 to 1, got {list(values)}")
    arr = _f32(x)
    # The class index is the number of breaks at or below x; one take() maps it to scores
    # (4x faster than np.digitize or masked assignment on large rasters, and exact, which
    # adding up the steps between classes in float32 is not).
    idx = np.zeros(arr.shape, dtype=np.uint8)
    mask = np.empty(arr.shape, dtype=bool)
    for b in breaks:
        np.greater_equal(arr, np.float32(b), out=mask)
        idx += mask.view(np.uint8)
    np.isnan(arr, out=mask)
    scores = (np.asarray(values, dtype=np.float64) * scale).astype(np.float32)
    result = scores.take(idx, out=out, mode="clip")  # idx is in range: skip the bounds check
    if mask.any():  # a masked copy costs 5x a plain pass; most windows have no NoData
        np.copyto(result, np.float32(np.nan), where=mask)
    return result


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


_BOUNDED = {"linear", "gaussian", "near", "far", "classes"}  # already within [0, 1] by construction
_SCALED = {"linear", "near", "far", "classes"}  # take ``scale`` themselves


def apply_transform(values, transform: Transform, out: np.ndarray | None = None, scale: float = 1.0) -> np.ndarray:
    """``scale`` × ``transform`` of ``values``: float32, [0, 1] × scale, NaN (NoData) kept.

    A new array unless ``out`` is given; ``out`` may be ``values`` itself (float32) to
    transform in place.
    """
    folds = transform.kind in _SCALED
    extra = {"out": out, "scale": scale} if folds else {"out": out}
    try:
        result = TRANSFORMS[transform.kind](values, **transform.params, **extra)
    except TypeError as ex:
        raise InputError(f"transform {transform.kind!r}: bad parameters {transform.params}: {ex}") from ex
    if out is None and result is values:  # never hand back the caller's array unasked
        result = result.copy()
    if transform.kind not in _BOUNDED:
        np.clip(result, 0, 1, out=result)
    if not folds and scale != 1.0:
        result *= np.float32(scale)
    return result
