"""Criterion weights: percentages, or the analytic hierarchy process (AHP).

AHP (Saaty): weights are the principal eigenvector of a reciprocal pairwise comparison
matrix; consistency index CI = (λmax − n)/(n − 1) and consistency ratio CR = CI / RI(n)
with Saaty's random indices. CR >= 0.10 is refused unless explicitly allowed, naming the
pair whose judgement departs most from the weights.

λmax >= n for every positive reciprocal matrix, with equality exactly when it is consistent;
an eigensolver returns n ± a few ulps for such a matrix (the sign depends on the BLAS), so
λmax − n within rounding of 0 (:data:`LAMBDA_RTOL` · n) counts as 0: CI and CR are never
negative and are exactly 0.0 for a consistent matrix.
"""

from __future__ import annotations

__all__ = ["AHPResult", "ahp_weights", "normalize_weights", "RANDOM_INDEX", "CR_LIMIT",
           "LAMBDA_RTOL"]

from dataclasses import dataclass

import numpy as np

from gis.errors import InputError

#: Saaty's random consistency index by matrix size.
RANDOM_INDEX = {1: 0.0, 2: 0.0, 3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41, 9: 1.45, 10: 1.49}
CR_LIMIT = 0.10
#: λmax − n below this × n is eigensolver rounding, not inconsistency (CR ~1e-9 at most).
LAMBDA_RTOL = 1e-9


@dataclass(frozen=True)
class AHPResult:
    names: list[str]
    weights: np.ndarray
    lambda_max: float
    ci: float
    cr: float
    worst_pair: tuple[str, str] | None
    consistent: bool

    def to_dict(self) -> dict:
        return {"weights": {n: round(float(w), 4) for n, w in zip(self.names, self.weights, strict=True)},
                "lambda_max": round(self.lambda_max, 4), "ci": round(self.ci, 4), "cr": round(self.cr, 4),
                "consistent": self.consistent, "most_inconsistent_pair": list(self.worst_pair) if self.worst_pair else None}


def ahp_weights(matrix, names: list[str] | None = None, *, allow_inconsistent: bool = False) -> AHPResult:
    """Weights and consistency of a pairwise comparison matrix.

    Parameters
    ----------
    matrix : (n, n) array-like
        ``matrix[i][j]`` says how much more important criterion i is than j (1–9 scale);
        it must be positive with ``matrix[j][i] == 1 / matrix[i][j]``.
    names : list of str, optional
    allow_inconsistent : bool
        Return weights even when CR >= 0.10.

    Raises
    ------
    InputError
        Not square, not positive, not reciprocal, n > 10, or inconsistent (CR >= 0.10).

    Examples
    --------
    >>> r = ahp_weights([[1, 2, 4], [1/2, 1, 2], [1/4, 1/2, 1]], ["a", "b", "c"])
    >>> [round(float(w), 4) for w in r.weights], r.cr == 0.0, r.worst_pair
    ([0.5714, 0.2857, 0.1429], True, None)
    """
    a, names = _checked_matrix(matrix, names)
    n = a.shape[0]
    vals, vecs = np.linalg.eig(a)
    k = int(np.argmax(vals.real))
    w = np.abs(vecs[:, k].real)
    w = w / w.sum()
    lam = float(vals[k].real)
    excess = lam - n
    if excess <= LAMBDA_RTOL * n:  # consistent: rounding either side of n, never a negative CR
        lam, excess = float(n), 0.0
    ci = excess / (n - 1) if n > 2 else 0.0
    ri = RANDOM_INDEX[n]
    cr = ci / ri if ri > 0 else 0.0
    # The judgement that departs most from what the weights imply: max |ln(a_ij · w_j / w_i)|.
    dev = np.abs(np.log(a * w[None, :] / w[:, None]))
    i, j = np.unravel_index(int(np.argmax(np.triu(dev, 1))), dev.shape)
    worst = (names[i], names[j]) if n > 2 and excess > 0 else None  # else argmax of rounding noise
    consistent = cr < CR_LIMIT
    if not consistent and not allow_inconsistent:
        raise InputError(f"the comparisons are inconsistent: CR = {cr:.3f} >= {CR_LIMIT} (λmax {lam:.3f}); "
                         f"revisit {names[i]} vs {names[j]} (judged {a[i, j]:g}, the weights imply "
                         f"{w[i] / w[j]:.2f}), or allow an inconsistent matrix explicitly")
    return AHPResult(names, w, lam, ci, cr, worst, consistent)


def _checked_matrix(matrix, names: list[str] | None) -> tuple[np.ndarray, list[str]]:
    """``matrix`` as a float array and the criterion names (``c1``, ``c2`` … by default), after
    checking it is a square, positive, reciprocal matrix of 1 to 10 criteria."""
    try:
        a = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError) as ex:
        raise InputError(f"the AHP matrix must be n rows of n numbers: {ex}") from None
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise InputError(f"the AHP matrix must be square, got shape {a.shape}")
    n = a.shape[0]
    names = list(names) if names is not None else [f"c{i + 1}" for i in range(n)]
    if len(names) != n:
        raise InputError(f"{len(names)} names for a {n}×{n} matrix")
    if not 1 <= n <= 10:
        raise InputError(f"AHP needs 1 to 10 criteria (Saaty's random index), got {n}")
    if not np.isfinite(a).all() or (a <= 0).any():
        raise InputError("AHP judgements must be positive numbers (1/9 … 9)")
    bad = np.argwhere(~np.isclose(a * a.T, 1.0, rtol=1e-3))
    if len(bad):
        i, j = bad[0]
        raise InputError(f"the matrix is not reciprocal: {names[i]} vs {names[j]} is {a[i, j]:g} but "
                         f"{names[j]} vs {names[i]} is {a[j, i]:g} (should be {1 / a[i, j]:g})")
    return a, names


def normalize_weights(weights: dict[str, float]) -> dict[str, float]:
    """Percentages (or any positive numbers) → weights summing to 1.

    Examples
    --------
    >>> normalize_weights({"a": 60, "b": 40})
    {'a': 0.6, 'b': 0.4}
    """
    if not weights:
        raise InputError("no weights given")
    bad = {k: v for k, v in weights.items() if not np.isfinite(v) or v < 0}
    if bad:
        raise InputError(f"weights must be non-negative numbers: {bad}")
    total = float(sum(weights.values()))
    if total <= 0:
        raise InputError("weights sum to zero")
    return {k: float(v) / total for k, v in weights.items()}
