"""How robust is the ranking to the weights? One-at-a-time changes (±20%) and Monte Carlo draws.

For the weighted sum, a parcel's score is Σ wᵢ·mᵢ with mᵢ its mean transformed value of
criterion i (the contributions of :func:`gis.suitability.sites.score_parcels`), so new
weights re-rank parcels exactly without recomputing any raster.
"""

from __future__ import annotations

__all__ = ["weight_sensitivity"]

import numpy as np
import pandas as pd

from gis.errors import InputError


def weight_sensitivity(candidates: pd.DataFrame, weights: dict[str, float], *, top: int = 3,
                       change: float = 0.2, draws: int = 200, seed: int = 0, label: str = "name") -> pd.DataFrame:
    """Per parcel: how often it stays in the top ``top`` under weight changes.

    ``candidates`` holds the parcels that passed every rule, with ``v_<criterion>`` columns.
    Returns, per parcel, ``oat_top`` (share of the 2n one-at-a-time ±change runs keeping it in
    the top) and ``mc_top`` (share of ``draws`` Monte Carlo runs, each weight scaled by a
    uniform factor in [1 − change, 1 + change] and renormalized).
    """
    names = list(weights)
    cols = [f"v_{n}" for n in names]
    missing = [c for c in cols if c not in candidates]
    if missing:
        raise InputError(f"sensitivity needs the criterion means {missing} (weighted sum scoring)")
    if len(candidates) == 0:
        return pd.DataFrame(columns=[label, "oat_top", "mc_top"])
    m = np.nan_to_num(candidates[cols].to_numpy(dtype=float), nan=0.0)
    w = np.array([weights[n] for n in names], dtype=float)

    def top_set(wv):
        wv = wv / wv.sum()
        return np.argsort(-(m @ wv), kind="stable")[:top]

    oat = np.zeros(len(m))
    runs = 0
    for i in range(len(w)):
        for sign in (-1, 1):
            wv = w.copy()
            wv[i] *= 1 + sign * change
            oat[top_set(wv)] += 1
            runs += 1
    rng = np.random.default_rng(seed)
    mc = np.zeros(len(m))
    for _ in range(draws):
        mc[top_set(w * rng.uniform(1 - change, 1 + change, len(w)))] += 1
    return pd.DataFrame({label: candidates[label].to_numpy(), "oat_top": oat / runs, "mc_top": mc / draws})
