"""Two-sample statistics on binned distributions (scipy does the distribution math).

Both sides are counts over the same bins, so each statistic costs O(bins), whatever the rows.
The Kolmogorov-Smirnov statistic is read at bin edges, which can only underestimate the largest
CDF gap: on binned data the test is conservative (it flags less, never more).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial import distance

__all__ = ["chi_square", "jensen_shannon", "ks_binned", "psi", "wasserstein_binned"]

PSI_EPSILON = 1e-4
_EXACT_KS_LIMIT = 1000

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def ks_binned(reference: FloatArray, current: FloatArray) -> tuple[float, float]:
    """(statistic, p-value) of the two-sample KS test on counts over the same ordered bins."""
    n, m = reference.sum(), current.sum()
    if n <= 0 or m <= 0:
        return 0.0, 1.0
    gap = float(np.max(np.abs(np.cumsum(reference) / n - np.cumsum(current) / m)))
    effective = max(round(float(n * m / (n + m))), 1)
    if effective > _EXACT_KS_LIMIT:  # the exact distribution costs milliseconds per call there
        return gap, float(stats.kstwobign.sf(gap * np.sqrt(effective)))
    return gap, float(stats.kstwo.sf(gap, effective))


def wasserstein_binned(
    points: FloatArray, reference: FloatArray, current: FloatArray
) -> float | None:
    """Earth mover's distance between the two histograms, mass placed at ``points``."""
    if reference.sum() <= 0 or current.sum() <= 0:
        return None
    return float(stats.wasserstein_distance(points, points, reference, current))


def psi(reference: FloatArray, current: FloatArray) -> float | None:
    """Population stability index, shares floored at ``PSI_EPSILON`` (as Evidently does)."""
    if reference.sum() <= 0 or current.sum() <= 0:
        return None
    p = np.maximum(reference / reference.sum(), PSI_EPSILON)
    q = np.maximum(current / current.sum(), PSI_EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon(reference: FloatArray, current: FloatArray) -> float | None:
    """Jensen-Shannon distance in base 2 (0 = same distribution, 1 = disjoint)."""
    if reference.sum() <= 0 or current.sum() <= 0:
        return None
    return float(distance.jensenshannon(reference, current, base=2))


def chi_square(reference: FloatArray, current: FloatArray) -> tuple[float, float]:
    """(statistic, p-value) of the chi-square test of homogeneity on two count vectors."""
    table = np.vstack([reference, current])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or reference.sum() <= 0 or current.sum() <= 0:
        return 0.0, 1.0
    # chi2_contingency without Yates' correction, written out: scipy's wrapper costs more
    # than the arithmetic on a 2 x K table.
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(stats.chi2.sf(statistic, table.shape[1] - 1))
