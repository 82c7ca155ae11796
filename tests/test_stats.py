"""Tests for omu.dashboards.stats against published or hand-verifiable figures.

Every expected number says where it comes from.  "Exact Poisson limits" are Garwood's (1936)
chi-squared limits, O_lower = chi2(alpha/2; 2O)/2 and O_upper = chi2(1-alpha/2; 2O+2)/2,
computed here with scipy as an independent reference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sst

from omu.dashboards.stats import (
    DSR_MIN_EVENTS,
    ESP2013_BANDS,
    ESP2013_WEIGHTS,
    age_standardised_rate,
    byar_interval,
    esp2013_band,
    funnel_limits,
    wilson_interval,
    z_value,
)


def exact_poisson(o: np.ndarray | float, confidence: float = 0.95) -> tuple:
    a = 1 - confidence
    o = np.asarray(o, dtype=float)
    return sst.chi2.ppf(a / 2, 2 * o) / 2, sst.chi2.ppf(1 - a / 2, 2 * o + 2) / 2


# ----------------------------------------------------------------------------- Wilson


@pytest.mark.parametrize(
    ("x", "n", "lower", "upper"),
    [
        # Newcombe RG (1998) Stat Med 17:857-872, table I, method 3 (Wilson score, no CC).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_newcombe_table_1(x, n, lower, upper):
    lo, hi = wilson_interval(x, n)
    assert isinstance(lo, float) and isinstance(hi, float)
    assert lo == pytest.approx(lower, abs=5e-5)
    assert hi == pytest.approx(upper, abs=5e-5)


def test_wilson_vectorised_and_edges():
    x = np.array([81, 15, 0, 1, 29, 0])
    n = np.array([263, 148, 20, 29, 29, 0])
    lo, hi = wilson_interval(x, n)
    assert isinstance(lo, np.ndarray) and lo.shape == (6,)
    for i in range(5):
        assert (lo[i], hi[i]) == pytest.approx(wilson_interval(int(x[i]), int(n[i])))
    assert math.isnan(lo[5]) and math.isnan(hi[5])  # trials == 0
    assert lo[2] == 0.0 and hi[4] == 1.0  # 0/n starts at 0, n/n ends at 1, exactly
    # 29/29 mirrors 0/29: Wilson is symmetric, lower(29/29) = 1 - upper(0/29)
    assert lo[4] == pytest.approx(1 - wilson_interval(0, 29)[1])
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    with pytest.raises(ValueError):
        wilson_interval(5, 3)
    with pytest.raises(ValueError):
        wilson_interval(-1, 3)
    with pytest.raises(ValueError):
        wilson_interval(1, 3, confidence=95)


def test_wilson_wider_at_higher_confidence():
    lo95, hi95 = wilson_interval(81, 263, 0.95)
    lo998, hi998 = wilson_interval(81, 263, 0.998)
    assert lo998 < lo95 < 81 / 263 < hi95 < hi998


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=10**7),
    frac=st.floats(min_value=0, max_value=1),
    confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99, 0.998]),
)
def test_wilson_contains_estimate_within_unit_interval(n, frac, confidence):
    x = round(frac * n)
    lo, hi = wilson_interval(x, n, confidence)
    p = x / n
    assert 0.0 <= lo <= p <= hi <= 1.0


# ----------------------------------------------------------------------------- Byar


def test_byar_hand_computed_phe_example():
    # O = 65 is the example in PHEindicatormethods' byars_lower/byars_upper documentation.
    # By hand, z = 1.959964:
    #   lower = 65 * (1 - 1/585 - 1.959964/(3*sqrt(65)))^3
    #         = 65 * (1 - 0.0017094 - 0.0810345)^3 = 65 * 0.9172561^3 = 65 * 0.7717413 = 50.1632
    #   upper = 66 * (1 - 1/594 + 1.959964/(3*sqrt(66)))^3
    #         = 66 * (1 - 0.0016835 + 0.0804183)^3 = 66 * 1.0787348^3 = 66 * 1.2552900 = 82.8491
    lo, hi = byar_interval(65)
    assert lo == pytest.approx(50.1632, abs=1e-4)
    assert hi == pytest.approx(82.8491, abs=1e-4)


def test_byar_within_phe_accuracy_of_exact_limits():
    # PHE "Technical guide: confidence intervals" (2018), appendix 1: at 95 % Byar's method is
    # within 0.2 % of the exact value for numerators of 10 or more.
    o = np.arange(10, 5001)
    lo, hi = byar_interval(o)
    el, eu = exact_poisson(o)
    assert np.max(np.abs(lo / el - 1)) < 0.002
    assert np.max(np.abs(hi / eu - 1)) < 0.002
    # O = 50: exact (Garwood) limits 37.111-65.919, from exact_poisson above.
    lo, hi = byar_interval(50)
    assert (lo, hi) == pytest.approx((37.11, 65.92), abs=0.01)


def test_byar_edges_and_vectorised():
    lo, hi = byar_interval(np.array([0, 1, 10]))
    assert lo[0] == 0.0 and hi[0] == pytest.approx(exact_poisson(0)[1], rel=0.01)  # exact: 3.689
    assert lo[1] < 1 < hi[1]
    assert byar_interval(1, 0.998)[0] == 0.0  # formula goes negative; clipped to 0
    with pytest.raises(ValueError):
        byar_interval(-1)


# ----------------------------------------------------------------------------- ESP2013


def test_esp2013_constants():
    # Eurostat (2013) "Revision of the European Standard Population", and docs/dashboards.md.
    assert ESP2013_WEIGHTS == (
        5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000,
        7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000,
    )  # fmt: skip
    assert sum(ESP2013_WEIGHTS) == 100_000
    assert ESP2013_BANDS[0] == "0-4" and ESP2013_BANDS[17] == "85-89" and ESP2013_BANDS[18] == "90+"
    assert len(ESP2013_BANDS) == 19


def test_esp2013_band():
    ages = np.array([0, 4, 5, 9, 10, 44, 45, 84, 85, 89, 90, 104, 120])
    expected = np.array([0, 0, 1, 1, 2, 8, 9, 16, 17, 17, 18, 18, 18])
    np.testing.assert_array_equal(esp2013_band(ages), expected)
    assert esp2013_band(42) == 8 and isinstance(esp2013_band(42), int)
    assert esp2013_band(4.99) == 0
    for age, band in zip(range(0, 90), np.repeat(np.arange(18), 5), strict=True):
        assert ESP2013_BANDS[esp2013_band(age)] == ESP2013_BANDS[band]
    with pytest.raises(ValueError):
        esp2013_band(-1)
    with pytest.raises(ValueError):
        esp2013_band(np.array([30, np.nan]))


# ----------------------------------------------------------------------------- DSR


def test_dsr_population_shaped_like_the_standard_equals_crude_rate_with_byar_limits():
    # Worked by hand.  Take n_i = 10 * w_i (N = 1,000,000) and O_i = w_i / 100 (O = 1,000; a
    # rate of 1 per 1,000 in every band).  Then
    #   DSR      = sum w_i (O_i/n_i) / W = 0.001                  -> 100 per 100,000
    #   var(DSR) = sum w_i^2 O_i / n_i^2 / W^2 = sum w_i / 1000 / W^2 = 1 / (1000 W) = 1e-8
    #   sqrt(var/O) = sqrt(1e-11) = 1 / N, so
    #   limits   = DSR + (O_limit - O) / N = O_limit / N            (the crude-rate Byar limits)
    # Byar(1000) = 938.972 / 1063.953 (formula as in test_byar_hand_computed_phe_example), so the
    # DSR limits are 93.897-106.395 per 100,000; the exact Poisson limits of 1000 are
    # 938.973 / 1063.952, the same to 0.001 %.
    w = np.array(ESP2013_WEIGHTS)
    rate, lo, hi = age_standardised_rate(w // 100, 10 * w)
    o_lo, o_hi = byar_interval(1000)
    assert rate == pytest.approx(100.0)
    assert lo == pytest.approx(o_lo / 1e6 * 1e5)
    assert hi == pytest.approx(o_hi / 1e6 * 1e5)
    assert (lo, hi) == pytest.approx((93.897, 106.395), abs=1e-3)
    e_lo, e_hi = exact_poisson(1000)
    assert lo == pytest.approx(e_lo / 10, rel=1e-5) and hi == pytest.approx(e_hi / 10, rel=1e-5)


def test_dsr_two_band_example_by_hand():
    # Worked by hand.  Events only at 85-89 (w = 1500) and 90+ (w = 1000):
    #   85-89: O = 30, n = 1000;   90+: O = 20, n = 500;   every other band n = 1000, O = 0.
    #   DSR      = (1500 * 30/1000 + 1000 * 20/500) / 100000 = (45 + 40) / 1e5 -> 85 per 100,000
    #   var(DSR) = (1500^2 * 30/1000^2 + 1000^2 * 20/500^2) / 1e10 = (67.5 + 80) / 1e10
    #   sqrt(var / O) * 1e5 = sqrt(147.5e-10 / 50) * 1e5 = 1.717556
    #   Byar(50) = 37.10810 / 65.92016  (formula as in test_byar_hand_computed_phe_example)
    #   lower = 85 + 1.717556 * (37.10810 - 50) = 62.8574
    #   upper = 85 + 1.717556 * (65.92016 - 50) = 112.3438
    events = np.zeros(19)
    population = np.full(19, 1000.0)
    events[17], events[18], population[18] = 30, 20, 500
    rate, lo, hi = age_standardised_rate(events, population)
    assert rate == pytest.approx(85.0)
    assert lo == pytest.approx(62.8574, abs=1e-4)
    assert hi == pytest.approx(112.3438, abs=1e-4)
    # Cross-check: Dobson with the exact Poisson limits of O = 50 (37.1110 / 65.9188) instead
    # of Byar's gives 62.862 / 112.341 - the same to 0.01 %.
    e_lo, e_hi = exact_poisson(50)
    s = math.sqrt(147.5e-10 / 50) * 1e5
    assert lo == pytest.approx(85 + s * (e_lo - 50), rel=2e-4)
    assert hi == pytest.approx(85 + s * (e_hi - 50), rel=2e-4)
    # per=1000 rescales everything
    assert age_standardised_rate(events, population, per=1000) == pytest.approx((0.85, lo / 100, hi / 100))


def test_dsr_fewer_than_ten_events_is_not_computed():
    events = np.zeros(19)
    events[10] = DSR_MIN_EVENTS - 1
    assert all(math.isnan(v) for v in age_standardised_rate(events, np.full(19, 1000)))
    events[11] = 1  # exactly 10
    assert not any(math.isnan(v) for v in age_standardised_rate(events, np.full(19, 1000)))


def test_dsr_empty_band_contributes_zero():
    events = np.zeros(19)
    population = np.full(19, 1000.0)
    events[5] = 20
    with_empty = population.copy()
    with_empty[0] = 0  # nobody aged 0-4: contributes 0, weight stays in W
    assert age_standardised_rate(events, with_empty) == pytest.approx(
        age_standardised_rate(events, population)
    )
    bad = events.copy()
    bad[0] = 1
    with pytest.raises(ValueError):
        age_standardised_rate(bad, with_empty)
    with pytest.raises(ValueError):
        age_standardised_rate(events[:18], population[:18])
    with pytest.raises(ValueError):
        age_standardised_rate(-events, population)


def test_dsr_lower_limit_clipped_at_zero():
    # Found by the property test below: 1 event among 2 people aged 65-69 (w = 5500) and 9
    # among 24 aged 70-74 (w = 5000).  DSR = (5500 * 1/2 + 5000 * 9/24) / 1e5 * 1e5 = 4625, but
    # var = (5500^2 * 1/4 + 5000^2 * 9/576) / 1e10 is so large that Dobson's lower limit,
    # 4625 + sqrt(var / 10) * 1e5 * (Byar_lower(10) - 10), is negative; it is reported as 0.
    events = np.zeros(19)
    population = np.ones(19)
    events[13], population[13] = 1, 2
    events[14], population[14] = 9, 24
    rate, lo, hi = age_standardised_rate(events, population)
    assert rate == pytest.approx(4625.0)
    o_lo, _ = byar_interval(10)
    var = (5500**2 / 4 + 5000**2 * 9 / 576) / 1e10
    assert 4625 + math.sqrt(var / 10) * 1e5 * (o_lo - 10) < 0
    assert lo == 0.0 and hi > rate


def test_dsr_vectorised_over_areas():
    rng = np.random.default_rng(7)
    population = rng.integers(200, 5000, size=(4, 19))
    events = rng.binomial(population, 0.01)
    events[3] = 0
    events[3, 18] = 5  # too few events for this area
    rate, lo, hi = age_standardised_rate(events, population)
    assert rate.shape == (4,)
    for i in range(3):
        assert (rate[i], lo[i], hi[i]) == pytest.approx(age_standardised_rate(events[i], population[i]))
    assert math.isnan(rate[3]) and math.isnan(lo[3]) and math.isnan(hi[3])


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(st.integers(0, 400), min_size=19, max_size=19),
    extra=st.lists(st.integers(1, 100_000), min_size=19, max_size=19),
    confidence=st.sampled_from([0.95, 0.998]),
)
def test_dsr_limits_bracket_rate(events, extra, confidence):
    events = np.array(events)
    population = events + np.array(extra)  # population >= events, > 0
    rate, lo, hi = age_standardised_rate(events, population, confidence)
    if events.sum() < DSR_MIN_EVENTS:
        assert math.isnan(rate)
    else:
        assert 0 <= lo <= rate <= hi


# ----------------------------------------------------------------------------- funnels


def test_funnel_hand_computed_binomial_10_half():
    # Y ~ Binomial(10, 0.5); P(Y<=1) = 11/1024, P(Y<=2) = 56/1024, P(Y<=7) = 968/1024,
    # P(Y<=8) = 1013/1024.  Spiegelhalter (2005) appendix A.1.1:
    #   lower (p = 0.025): r = 2, alpha = (56/1024 - 0.025) / (45/1024) = 30.4/45 = 0.675556
    #                      limit = (2 - 0.675556) / 10 = 0.1324444
    #   upper (p = 0.975): r = 8, alpha = (1013/1024 - 0.975) / (45/1024) = 14.6/45 = 0.324444
    #                      limit = (8 - 0.324444) / 10 = 0.7675556
    lo, hi = funnel_limits(0.5, 10, 0.95)
    assert lo == pytest.approx(0.1324444, abs=1e-7)
    assert hi == pytest.approx(0.7675556, abs=1e-7)


def test_funnel_approaches_normal_limits_for_large_n():
    # Spiegelhalter (2005) section 3 / A.1.1: for large n the exact limits tend to
    # target +/- z sqrt(target (1 - target) / n); the interpolation shifts them by ~0.5/n.
    n = np.array([10_000, 100_000, 1_000_000])
    for confidence in (0.95, 0.998):
        lo, hi = funnel_limits(0.2, n, confidence)
        z = z_value(confidence)
        half = z * np.sqrt(0.2 * 0.8 / n)
        assert np.all(np.abs(lo - (0.2 - half)) < 3 / n)
        assert np.all(np.abs(hi - (0.2 + half)) < 3 / n)


def test_funnel_edges():
    lo, hi = funnel_limits(0.3, np.array([0, 1, 50]), 0.998)
    assert math.isnan(lo[0]) and math.isnan(hi[0])
    assert 0 <= lo[1] <= hi[1] <= 1
    assert isinstance(funnel_limits(0.3, 50, 0.95)[0], float)
    for bad_target in (0, 1, -0.1, float("nan")):
        with pytest.raises(ValueError):
            funnel_limits(bad_target, 50, 0.95)
    with pytest.raises(ValueError):
        funnel_limits(0.3, 10.5, 0.95)


def test_funnel_998_outside_95():
    n = np.arange(1, 3000)
    lo95, hi95 = funnel_limits(0.15, n, 0.95)
    lo998, hi998 = funnel_limits(0.15, n, 0.998)
    assert np.all(lo998 <= lo95) and np.all(hi95 <= hi998)


@settings(max_examples=300, deadline=None)
@given(
    target=st.floats(min_value=0.001, max_value=0.999),
    n=st.integers(min_value=1, max_value=200_000),
    factor=st.floats(min_value=2.0, max_value=50.0),
    confidence=st.sampled_from([0.9, 0.95, 0.998]),
)
def test_funnel_narrows_and_contains_target(target, n, factor, confidence):
    n2 = int(n * factor)
    lo1, hi1 = funnel_limits(target, n, confidence)
    lo2, hi2 = funnel_limits(target, n2, confidence)
    assert 0 <= lo1 <= hi1 <= 1 and 0 <= lo2 <= hi2 <= 1
    assert lo2 >= lo1 - 1e-9  # the lower limit never falls as n grows
    if n * target * (1 - target) >= 1:  # see funnel_limits: tiny expected numbers excepted
        assert hi2 - lo2 <= hi1 - lo1 + 1e-12  # at least doubling n narrows the funnel
        assert lo1 <= target <= hi1 and lo2 <= target <= hi2


@settings(max_examples=100, deadline=None)
@given(target=st.floats(min_value=0.01, max_value=0.99), confidence=st.sampled_from([0.95, 0.998]))
def test_funnel_lower_limit_monotone_in_n(target, confidence):
    lo, hi = funnel_limits(target, np.arange(1, 2001), confidence)
    assert np.all(np.diff(lo) >= -1e-9)
    width = hi - lo
    ok = np.arange(1, 2001) * target * (1 - target) >= 1
    # step-to-step wiggles of the upper limit stay small (documented bound ~2 % of the width)
    rises = np.diff(width)[ok[:-1]]
    assert np.all(rises <= 0.025 * width[:-1][ok[:-1]] + 1e-12)
