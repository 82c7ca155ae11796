"""Interval estimates and control limits for the regional (Sterkzorg) dashboards.

Plain functions on numbers or numpy arrays, so analysts can reuse them outside the pipeline.
Every function states its method and the reference it follows.  Conventions:

* proportions and limits of proportions are *fractions* (0.25, not 25 %);
* ``confidence`` is a two-sided level such as 0.95 or 0.998; ``z`` is the standard-normal
  quantile at ``1 - (1 - confidence) / 2`` (1.959964 for 0.95, 3.090232 for 0.998);
* scalar in, scalar (Python float) out; array in, numpy array out.

None of these functions applies small-number suppression: run the figures through
``omu.dashboards.suppression`` before they leave the store.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as _st

__all__ = [
    "DSR_MIN_EVENTS",
    "ESP2013_BANDS",
    "ESP2013_WEIGHTS",
    "age_standardised_rate",
    "byar_interval",
    "esp2013_band",
    "funnel_limits",
    "wilson_interval",
    "z_value",
]

#: 2013 European Standard Population, 19 five-year bands 0-4, 5-9, ..., 85-89, 90+ (sum 100,000).
#: Source: Eurostat (2013) "Revision of the European Standard Population", Methodologies and
#: Working papers KS-RA-13-028-EN-N; also docs/dashboards.md, "Methods".
ESP2013_WEIGHTS: tuple[int, ...] = (
    5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000,
    7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000,
)  # fmt: skip

#: Labels of the ESP2013 bands, in the order of :data:`ESP2013_WEIGHTS`.
ESP2013_BANDS: tuple[str, ...] = tuple(f"{lo}-{lo + 4}" for lo in range(0, 90, 5)) + ("90+",)

#: A directly standardised rate is not computed on fewer events than this (docs/dashboards.md; the
#: same rule as PHE/OHID Fingertips and PHEindicatormethods ``phe_dsr``).
DSR_MIN_EVENTS = 10

assert sum(ESP2013_WEIGHTS) == 100_000 and len(ESP2013_WEIGHTS) == len(ESP2013_BANDS) == 19


def z_value(confidence: float) -> float:
    """Two-sided standard-normal quantile for ``confidence`` (0.95 -> 1.959964...)."""
    _check_confidence(confidence)
    return float(_st.norm.ppf(1.0 - (1.0 - confidence) / 2.0))


def _check_confidence(confidence: float) -> None:
    if not (0.0 < float(confidence) < 1.0):
        raise ValueError(f"confidence must be a fraction strictly between 0 and 1, got {confidence!r}")


def _out(value: np.ndarray, scalar: bool) -> Any:
    return float(value) if scalar else value


# --------------------------------------------------------------------------------------------
# Proportions
# --------------------------------------------------------------------------------------------


def wilson_interval(successes: Any, trials: Any, confidence: float = 0.95) -> tuple[Any, Any]:
    """Wilson score interval for a binomial proportion, without continuity correction.

    Method: Wilson EB (1927) "Probable inference, the law of succession, and statistical
    inference", JASA 22:209-212; method 3 of Newcombe RG (1998) "Two-sided confidence intervals
    for the single proportion: comparison of seven methods", Stat Med 17:857-872.  With
    ``p = successes / trials``, ``n = trials``::

        centre    = (p + z^2 / (2n)) / (1 + z^2 / n)
        halfwidth = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / (4 n^2))
        (lower, upper) = centre -/+ halfwidth

    The limits are fractions in [0, 1] (0 successes gives lower = 0 exactly, all successes
    upper = 1).  ``trials == 0`` gives ``(nan, nan)``.  Scalars give floats; arrays (broadcast
    against each other) give arrays.  Raises ``ValueError`` for negative counts or
    ``successes > trials``.
    """
    _check_confidence(confidence)
    scalar = np.ndim(successes) == 0 and np.ndim(trials) == 0
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(x < 0) or np.any(n < 0):
        raise ValueError("successes and trials must be non-negative")
    if np.any(x > n):
        raise ValueError("successes must not exceed trials")
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z / denom * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
        lower = np.where(x == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
        upper = np.where(x == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    lower = np.where(n == 0, np.nan, lower)
    upper = np.where(n == 0, np.nan, upper)
    return _out(lower, scalar), _out(upper, scalar)


# --------------------------------------------------------------------------------------------
# Counts and directly standardised rates
# --------------------------------------------------------------------------------------------


def byar_interval(count: Any, confidence: float = 0.95) -> tuple[Any, Any]:
    """Byar's approximation to the exact Poisson confidence limits of an observed count ``O``.

    Method: Breslow NE, Day NE (1987) "Statistical methods in cancer research, vol. II",
    IARC Sci Publ 82; as given in the PHE/OHID "Technical guide: confidence intervals"
    (Public Health Data Science, 2018), appendix 1, and PHEindicatormethods ``byars_lower`` /
    ``byars_upper``::

        O_lower = O       * (1 - 1/(9 O)     - z / (3 sqrt(O)))^3
        O_upper = (O + 1) * (1 - 1/(9 (O+1)) + z / (3 sqrt(O + 1)))^3

    These are limits of the *count*; divide by the denominator for a crude rate.  The guide
    recommends Byar for ``O >= 10`` (within 0.2 % of the exact limits at 95 %) and the exact
    chi-squared method below that; this function computes Byar for any ``O >= 0`` and leaves
    that choice to the caller.  ``O = 0`` gives lower 0, and a lower limit the formula takes
    below 0 (very small ``O`` at high confidence) is clipped to 0.  Vectorised.
    """
    _check_confidence(confidence)
    scalar = np.ndim(count) == 0
    o = np.asarray(count, dtype=float)
    if np.any(o < 0) or np.any(np.isnan(o)):
        raise ValueError("count must be a non-negative number")
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = o * (1.0 - 1.0 / (9.0 * o) - z / (3.0 * np.sqrt(o))) ** 3
    lower = np.where(o == 0, 0.0, np.maximum(lower, 0.0))
    o1 = o + 1.0
    upper = o1 * (1.0 - 1.0 / (9.0 * o1) + z / (3.0 * np.sqrt(o1))) ** 3
    return _out(lower, scalar), _out(upper, scalar)


def esp2013_band(age: Any) -> Any:
    """Index 0..18 of the ESP2013 band for an age in completed years (0-4 -> 0, ..., 90+ -> 18).

    Vectorised: an int for a scalar, an int array for an array.  Fractional ages are floored
    (an age of 4.9 years is in band 0-4).  Negative or missing ages raise ``ValueError``.
    """
    scalar = np.ndim(age) == 0
    a = np.asarray(age, dtype=float)
    if np.any(np.isnan(a)) or np.any(a < 0):
        raise ValueError("age must be a non-negative number")
    band = np.minimum(np.floor(a / 5.0), 18).astype(np.int64)
    return int(band) if scalar else band


def age_standardised_rate(
    events: Any,
    population: Any,
    confidence: float = 0.95,
    per: float = 100_000,
) -> tuple[Any, Any, Any]:
    """Directly age-standardised rate against ESP2013 with Dobson/Byar confidence limits.

    ``events`` and ``population`` hold the counts over the 19 ESP2013 bands in order (see
    :data:`ESP2013_BANDS`; :func:`esp2013_band` maps ages to bands) in the last axis; leading
    axes, if any, are areas and give array results.

    Rate (direct standardisation, weights ``w_i`` = :data:`ESP2013_WEIGHTS`, ``W = sum w_i``)::

        DSR = sum_i w_i * O_i / n_i / W            (times ``per``)

    Interval: Dobson A, Kuulasmaa K, Eberle E, Scherer J (1991) "Confidence intervals for
    weighted sums of Poisson parameters", Stat Med 10:457-462, with Byar's approximation for
    the limits of the total count ``O = sum O_i`` (:func:`byar_interval`), exactly as in the
    PHE/OHID "Technical guide: confidence intervals" appendix 4 and PHEindicatormethods
    ``phe_dsr``::

        var(DSR) = sum_i w_i^2 * O_i / n_i^2 / W^2
        limit    = DSR + sqrt(var(DSR) / O) * (O_limit - O)    (times ``per``)

    Choices:

    * fewer than :data:`DSR_MIN_EVENTS` (10) events in total gives ``(nan, nan, nan)``
      (docs/dashboards.md; PHE/OHID practice);
    * the lower limit is clipped at 0: Dobson's limit can go negative when a few events sit
      in small, heavily weighted bands (a rate's interval cannot);
    * a band with population 0 (and then necessarily 0 events) contributes 0 to the rate and
      to its variance, while its weight stays in ``W``: the band is treated as having rate 0
      rather than re-normalising the weights.  This keeps every area on the same standard,
      but understates the rate if a band is really *missing*; the dashboards' areas (wijken,
      practices) have people in every band, so this only matters for empty bands of tiny
      sub-populations.  Events in a band with population 0 raise ``ValueError``.
    """
    _check_confidence(confidence)
    o_i = np.asarray(events, dtype=float)
    n_i = np.asarray(population, dtype=float)
    if o_i.shape != n_i.shape or o_i.ndim == 0 or o_i.shape[-1] != 19:
        raise ValueError("events and population must have the same shape, with the 19 ESP2013 bands last")
    if np.any(np.isnan(o_i)) or np.any(np.isnan(n_i)) or np.any(o_i < 0) or np.any(n_i < 0):
        raise ValueError("events and population must be non-negative numbers")
    if np.any((n_i == 0) & (o_i > 0)):
        raise ValueError("events in an age band with population 0")
    scalar = o_i.ndim == 1
    w = np.asarray(ESP2013_WEIGHTS, dtype=float)
    big_w = w.sum()
    safe_n = np.where(n_i > 0, n_i, 1.0)
    crude = np.where(n_i > 0, o_i / safe_n, 0.0)
    dsr = (w * crude).sum(axis=-1) / big_w
    var = (w * w * np.where(n_i > 0, o_i / (safe_n * safe_n), 0.0)).sum(axis=-1) / big_w**2
    total = o_i.sum(axis=-1)
    enough = total >= DSR_MIN_EVENTS
    o_lower, o_upper = byar_interval(np.where(enough, total, DSR_MIN_EVENTS), confidence)
    scale = np.sqrt(var / np.where(enough, total, 1.0))
    lower = np.maximum(dsr + scale * (o_lower - total), 0.0)
    upper = dsr + scale * (o_upper - total)
    rate, lower, upper = (np.where(enough, v * per, np.nan) for v in (dsr, lower, upper))
    return _out(rate, scalar), _out(lower, scalar), _out(upper, scalar)


# --------------------------------------------------------------------------------------------
# Funnel plots
# --------------------------------------------------------------------------------------------


def funnel_limits(target: float, trials: Any, confidence: float) -> tuple[Any, Any]:
    """Exact binomial control limits of a proportion around ``target`` for denominators ``trials``.

    Method: Spiegelhalter DJ (2005) "Funnel plots for comparing institutional performance",
    Stat Med 24:1185-1202, appendix A.1.1, with his interpolation for the discreteness of the
    binomial.  For ``Y ~ Binomial(n, target)`` and tail probability ``p`` (``(1 - confidence)
    / 2`` for the lower limit, ``1 - (1 - confidence) / 2`` for the upper)::

        r_p   = smallest r with P(Y <= r) >= p            (binomial p-quantile)
        alpha = (P(Y <= r_p) - p) / (P(Y <= r_p) - P(Y <= r_p - 1))
        limit = (r_p - alpha) / n

    i.e. the cumulative distribution is interpolated linearly between ``r_p - 1`` and ``r_p``
    (the limit is the p-quantile of ``Y - U`` with ``U ~ Uniform(0, 1)``, divided by ``n``).
    Limits are fractions clipped to [0, 1]; use ``confidence=0.95`` and ``0.998`` for the
    usual 2- and 3-sigma funnels.

    Properties worth knowing (checked numerically for targets 0.001-0.999 and ``n`` up to
    20,000, and by the property tests in ``tests/test_stats.py``): the lower limit never
    decreases as ``n`` grows; where ``n * target * (1 - target) >= 1`` the limits bracket the
    target and doubling ``n`` always narrows the funnel, while from one ``n`` to the next the
    upper limit can rise by a sliver (discreteness; at most about 2 % of the funnel width).
    Because ``Y - U`` has mean
    ``n * target - 1/2``, both limits sit about ``0.5 / n`` below the symmetric normal
    limits, and where the expected numbers are tiny (``n * target * (1 - target) < 1``) a
    limit can fall on the wrong side of the target (e.g. an upper limit of 0 when observing
    0 is itself the 97.5th percentile); a funnel there says nothing useful anyway.

    ``target`` must be strictly between 0 and 1.  ``trials`` is vectorised (scalar -> floats,
    array -> arrays); ``trials == 0`` gives ``(nan, nan)``.
    """
    _check_confidence(confidence)
    theta = float(target)
    if not (0.0 < theta < 1.0) or math.isnan(theta):
        raise ValueError(f"target must be strictly between 0 and 1, got {target!r}")
    scalar = np.ndim(trials) == 0
    n = np.asarray(trials, dtype=float)
    if np.any(np.isnan(n)) or np.any(n < 0) or np.any(n != np.floor(n)):
        raise ValueError("trials must be non-negative whole numbers")
    tail = (1.0 - confidence) / 2.0
    limits = []
    safe_n = np.where(n > 0, n, 1.0)
    for p in (tail, 1.0 - tail):
        r = _binom_quantile(p, safe_n, theta)
        f_r = _st.binom.cdf(r, safe_n, theta)
        f_before = _st.binom.cdf(r - 1, safe_n, theta)
        alpha = (f_r - p) / (f_r - f_before)
        limit = np.clip((r - alpha) / safe_n, 0.0, 1.0)
        limits.append(np.where(n > 0, limit, np.nan))
    return _out(limits[0], scalar), _out(limits[1], scalar)


def _binom_quantile(p: float, n: np.ndarray, theta: float) -> np.ndarray:
    """Smallest ``r`` with ``P(Y <= r) >= p``, robust to the rounding of ``binom.ppf``."""
    r = _st.binom.ppf(p, n, theta)
    # ppf inverts a floating-point cdf; make the defining inequality hold exactly as evaluated.
    r = np.where(_st.binom.cdf(r, n, theta) < p, r + 1, r)
    r = np.where((r > 0) & (_st.binom.cdf(r - 1, n, theta) >= p), r - 1, r)
    return r
