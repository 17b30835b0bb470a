"""Land-area units used by Chinese land and planning offices."""

from __future__ import annotations

__all__ = ["M2_PER_MU", "M2_PER_HECTARE", "m2_to_mu", "mu_to_m2", "m2_to_hectare"]

import numpy as np

#: 1 亩 = 10000/15 m² (the market mu, 市亩), exactly.
M2_PER_MU = 10000.0 / 15.0
#: 1 公顷 = 10 000 m² = 15 亩.
M2_PER_HECTARE = 10000.0


def m2_to_mu(m2):
    """Square metres to 亩 (mu).

    Examples
    --------
    >>> m2_to_mu(10000.0)
    15.0
    """
    return np.asarray(m2, dtype=float) / M2_PER_MU if np.ndim(m2) else float(m2) / M2_PER_MU


def mu_to_m2(mu):
    """亩 (mu) to square metres.

    Examples
    --------
    >>> round(mu_to_m2(500), 1)
    333333.3
    """
    return np.asarray(mu, dtype=float) * M2_PER_MU if np.ndim(mu) else float(mu) * M2_PER_MU


def m2_to_hectare(m2):
    """Square metres to 公顷 (hectare).

    Examples
    --------
    >>> m2_to_hectare(15000.0)
    1.5
    """
    return np.asarray(m2, dtype=float) / M2_PER_HECTARE if np.ndim(m2) else float(m2) / M2_PER_HECTARE
