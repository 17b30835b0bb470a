"""Ranking and labelling the nearby-services report: the three nearest facilities and the
counts within the life circles per (origin, category) from (origin, facility, metres)
pairs, computed per search partition and merged; the report's repeated labels as
categoricals built from codes. Used by :func:`gis.services.nearest_services`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gis.standards import CIRCLES_M, Standard

EPS_M = 1e-6  # a facility at exactly 500.0 m counts within 500 m
_MM_BITS = 31
_MM_MAX = (1 << _MM_BITS) - 1  # distances are sorted in whole millimetres, up to 2,147 km


def repeated(per_origin: np.ndarray, n_c: int) -> pd.Categorical:
    """Each origin's label repeated for its ``n_c`` rows."""
    codes, labels = pd.factorize(np.asarray(per_origin, dtype=object))
    return pd.Categorical.from_codes(np.repeat(codes, n_c), labels.astype(object))


def tiled(per_category: list, n_o: int) -> pd.Categorical:
    """The categories' labels, once per origin."""
    codes, labels = pd.factorize(np.asarray(per_category, dtype=object))
    return pd.Categorical.from_codes(np.tile(codes, n_o), labels.astype(object))



def partial_rank(o: np.ndarray, f: np.ndarray, d: np.ndarray, cat_code: np.ndarray, n_c: int, size: int):
    """From (origin, facility, metres) pairs — each (origin, facility) once —: the counts per
    (origin, category) key and ring ((size, 4): within 300, 500, 1000 m, beyond) and the
    three nearest of each key as (key, facility, metres).

    Counts come from one ``bincount``. Only pairs within the smallest circle holding three
    facilities of their key can be among its three nearest, so only those are sorted —
    about a quarter of the pairs at city densities.
    """
    key = o.astype(np.int64)
    key *= n_c
    key += cat_code[f]
    # A micrometre of tolerance: a facility at exactly 500.0 m must count within 500 m.
    radii = np.array(CIRCLES_M, dtype=float) + EPS_M
    ring = np.searchsorted(radii, d).astype(np.int64)
    ring += key * (len(radii) + 1)
    per_ring = np.bincount(ring, minlength=size * (len(radii) + 1)).reshape(size, len(radii) + 1)
    del ring
    within = np.cumsum(per_ring, axis=1)
    reach = np.full(size, np.inf)
    for i in reversed(range(len(radii))):
        reach[within[:, i] >= 3] = radii[i]
    keep = d <= reach[key]
    return per_ring, _top3(key[keep], f[keep], d[keep])[:3]


def _top3(key: np.ndarray, f: np.ndarray, d: np.ndarray, runs: bool = False):
    """The three nearest (key, facility, metres, rank) of each key, ordered by key then
    distance. ``runs``: the input is a few runs already in that order (the partitions'
    answers), which a stable sort (timsort) merges in linear time."""
    # One int64 sort key: (origin, category) high, distance in millimetres low.
    composite = key << _MM_BITS
    composite += np.minimum(np.round(d * 1000.0), _MM_MAX).astype(np.int64)
    order = np.argsort(composite, kind="stable" if runs else None)
    # Equal keys and millimetres: the lower facility index (= id order) first, so that any
    # partition of the facilities ranks ties alike.
    ranked = composite[order]
    tied = np.flatnonzero(ranked[1:] == ranked[:-1])
    del ranked
    if len(tied):
        at = np.unique(np.concatenate([tied, tied + 1]))
        order[at] = order[at][np.lexsort((f[order[at]], composite[order[at]]))]
    del composite
    key, f, d = key[order], f[order], d[order]
    start = np.ones(len(key), bool)
    start[1:] = key[1:] != key[:-1]
    rank = np.arange(len(key)) - np.maximum.accumulate(np.where(start, np.arange(len(key)), 0))
    top = rank < 3
    return key[top], f[top], d[top], rank[top]


def merge_ranks(partials: list, n_c: int, size: int) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """Ranked facilities ((3, size) indices and metres) and the counts per circle from the
    partial results of :func:`partial_rank` (partitions never share an (origin, facility))."""
    per_ring = sum(p[0] for p in partials)
    within = np.cumsum(per_ring, axis=1)
    counts = {r: within[:, i] for i, r in enumerate(CIRCLES_M)}
    key, f, d, rank = _top3(*(np.concatenate([p[1][i] for p in partials]) for i in range(3)), runs=True)
    ranked_f = np.full((3, size), -1, dtype=np.int64)
    ranked_d = np.full((3, size), np.nan)
    for r in range(3):
        sel = rank == r
        ranked_f[r, key[sel]] = f[sel]
        ranked_d[r, key[sel]] = d[sel]
    return ranked_f, ranked_d, counts


def gap_lines(code: np.ndarray, cats: list[str], meets: np.ndarray, required: np.ndarray,
               reachable: np.ndarray, standards: dict[str, Standard]) -> tuple[pd.Categorical, pd.Categorical]:
    # A gap line depends only on the category and on reachability: each is built once and
    # the rows get codes into them (-1, no line, where the standard is met).
    label = [standards[c] for c in cats]
    zh = [f"{s.standard_m or 0:g} m 内无{s.label_zh}" for s in label] + [f"步行不可达{s.label_zh}" for s in label]
    en = [f"no {s.label_en} within {s.standard_m or 0:g} m" for s in label] + \
        [f"no {s.label_en} reachable on foot" for s in label]
    line = np.where(~meets & required, np.where(reachable, code, code + len(cats)), -1)
    return _lines(line, zh), _lines(line, en)


def _lines(line: np.ndarray, texts: list[str]) -> pd.Categorical:
    codes, labels = pd.factorize(np.asarray(texts, dtype=object))  # two categories may share a text
    return pd.Categorical.from_codes(np.where(line >= 0, codes[np.maximum(line, 0)], -1), labels.astype(object))
