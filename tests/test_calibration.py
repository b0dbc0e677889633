"""calibrate: scores against real liquidations, baselines, and the NNLS fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liqwidget import ClusterModel
from liqwidget.calibration import (
    PRIOR_STRENGTH,
    Calibration,
    _cv_strength,
    baselines,
    calibrate,
    fit,
    per_bar_liquidations,
    timing_scores,
    wilson,
)


@pytest.fixture(scope="module")
def est(sample):
    return ClusterModel().estimate(sample)


def events_from(swept: pd.DataFrame, price: np.ndarray) -> pd.DataFrame:
    """One event per side and bar with the given notional, at the given price."""
    rows = []
    for side in ("long", "short"):
        v = swept[side].to_numpy()
        hit = np.flatnonzero(v > 0)
        rows.append(
            pd.DataFrame(
                {
                    "time": swept.index[hit] + pd.Timedelta("1min"),
                    "side": side,
                    "price": price[hit],
                    "notional": v[hit],
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_wilson_interval_known_values():
    lo, hi = wilson(10, 100)
    assert lo == pytest.approx(0.0552, abs=1e-3) and hi == pytest.approx(0.1744, abs=1e-3)
    assert wilson(0, 0) != wilson(0, 0)  # NaN when there is nothing to score


def test_timing_scores_perfect_and_random():
    rng = np.random.default_rng(1)
    x = rng.lognormal(size=1000)
    perfect = timing_scores(x, 3 * x)
    assert perfect["spearman"] == pytest.approx(1.0)
    assert perfect["top_decile_precision"] == 1.0
    noise = timing_scores(x, rng.lognormal(size=1000))
    assert abs(noise["spearman"]) < 0.1
    assert (
        noise["precision_low"] < 0.1 < noise["precision_high"]
        or noise["top_decile_precision"] < 0.2
    )


def test_events_and_per_bar_totals_agree(sample, est):
    ev = events_from(est.swept, sample.column("low"))
    per_bar = per_bar_liquidations(ev, sample)
    np.testing.assert_allclose(per_bar.to_numpy(), est.swept.to_numpy(), rtol=1e-12)
    totals = per_bar_liquidations(est.swept, sample)
    np.testing.assert_allclose(totals.to_numpy(), est.swept.to_numpy())


def test_model_scored_against_itself_beats_every_baseline(sample, est):
    ev = events_from(est.swept, sample.column("low"))
    cal = calibrate(est, ev)
    t = cal.timing
    assert t.loc[("long", "model"), "spearman"] > 0.99
    assert set(t.loc["long"].index) == {"model", "wick × OI", "|return| × OI", "OI drop"}
    assert cal.beats("wick × OI") and cal.beats("wick × OI", metric="both")
    text = cal.summary()
    assert "beats the wick × OI baseline" in text and "does NOT beat" not in text
    with pytest.raises(ValueError, match="metric must be"):
        cal.beats(metric="rho")


def test_summary_says_when_the_model_ranks_better_but_misses_the_worst_bars():
    # As on real hourly data with the first leverage prior: ρ ahead, top decile level.
    rows = {
        (s, name): {"spearman": rho, "top_decile_precision": top, "precision_low": 0.6,
                    "precision_high": 0.75, "notional_share": 0.7, "bars": 4000}
        for s in ("long", "short")
        for name, rho, top in (("model", 0.81, 0.68), ("wick × OI", 0.74, 0.68))
    }  # fmt: skip
    timing = pd.DataFrame.from_dict(rows, orient="index")
    timing.index = pd.MultiIndex.from_tuples(timing.index, names=["side", "score"])
    cal = Calibration(timing=timing, real=pd.DataFrame())
    assert cal.beats("wick × OI")
    assert not cal.beats("wick × OI", metric="top_decile_precision")
    assert not cal.beats("wick × OI", metric="both")
    text = cal.summary()
    assert "beats the wick × OI baseline on ρ (0.74)" in text
    assert "does NOT beat it on top-decile precision (68%)" in text
    assert "worst tenth of bars found 68% vs 68%: NOT ahead" in cal.headline()


def test_summary_says_when_the_model_loses(sample, est):
    wick = baselines(sample)["wick × OI"]
    cal = calibrate(est, wick)  # real == the wick baseline itself
    assert not cal.beats("wick × OI")
    assert "does NOT beat the wick × OI baseline" in cal.summary()
    assert "does NOT beat it" in cal.headline()


def test_bad_liquidation_input_is_named(sample, est):
    ev = events_from(est.swept, sample.column("low")).head(5)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['notional'\]"):
        calibrate(est, ev.drop(columns="notional"))
    with pytest.raises(ValueError, match="no time zone"):
        calibrate(est, ev.assign(time=ev["time"].dt.tz_localize(None)))
    with pytest.raises(ValueError, match="column 'side' is 'up' at row 0"):
        calibrate(est, ev.assign(side="up"))
    with pytest.raises(ValueError, match="outside the bars"):
        calibrate(est, ev.assign(time=ev["time"] + pd.Timedelta("400D")))
    with pytest.raises(ValueError, match="column 'notional' is NaN or infinite at row 1"):
        calibrate(est, ev.assign(notional=[1.0, np.nan, 1, 1, 1]))


def test_fit_recovers_a_known_leverage_mix(sample):
    true_mix = {5: 0.05, 10: 0.15, 25: 0.4, 50: 0.25, 100: 0.15}
    truth = ClusterModel(leverage=true_mix, seed="none", side_split=0.5)
    real = truth.estimate(sample).swept
    even = {k: 0.2 for k in true_mix}
    f = fit(
        ClusterModel(leverage=even, seed="none", side_split=0.5), sample, real, train_fraction=0.7
    )
    # Tiers far from price (5x, 10x) are rarely swept in two weeks, so only the near tiers
    # are identified: they must come back within 0.02 of the truth, relative to each other.
    near = [25.0, 50.0, 100.0]
    got = np.array([f.leverage[k] for k in near])
    want = np.array([true_mix[int(k)] for k in near])
    np.testing.assert_allclose(got / got.sum(), want / want.sum(), atol=0.02)
    assert f.side_split == pytest.approx(0.5, abs=0.05)
    assert f.test.timing.loc[("long", "model"), "spearman"] > 0.95


def test_a_tier_that_only_ever_sweeps_with_its_neighbour_is_not_identified():
    """Two tiers with identical sweeps cannot be told apart: only one of them joins."""
    from liqwidget.calibration import _identified

    rng = np.random.default_rng(0)
    w0 = np.full(3, 1 / 3)
    for rows in (200, 20_000):  # more rows must not let the prior pin the pair down
        x = rng.gamma(1.0, 1.0, size=(rows, 3))
        x[:, 2] = x[:, 1]  # tier 2 sweeps exactly when and where tier 1 does
        y = x @ np.array([0.5, 0.3, 0.2]) * 10 + rng.normal(0, 0.05, rows)
        ok = _identified(x, y, w0, prior_strength=0.05)
        assert ok[0] and ok.sum() == 2, rows
    x[:, 0] = 0.0  # a tier that never swept is never identified
    assert not _identified(x, y, w0, prior_strength=0.05)[0]


def test_liquidations_unrelated_to_the_sweeps_invent_no_mix():
    """Heavy-tailed liquidations unrelated to any tier: whatever is identified, the weights
    stay at the prior's (only the overall level is explained), however many rows."""
    from liqwidget.calibration import _identified, _ridge_nnls

    rng = np.random.default_rng(3)
    w0 = np.full(4, 0.25)
    for rows in (2_000, 20_000):
        x = rng.gamma(0.3, 1.0, size=(rows, 4))
        y = rng.gamma(0.3, 1.0, size=rows) * 5
        ok = _identified(x, y, w0, prior_strength=0.05)
        coef, _, _ = _ridge_nnls(x[:, ok], y, w0[ok], 0.05)
        np.testing.assert_allclose(coef / coef.sum(), 1 / ok.sum(), atol=0.1)


def test_history_must_be_market_and_liquidation_pairs(sample):
    truth = ClusterModel(seed="none", side_split=0.5)
    real = truth.estimate(sample).swept
    with pytest.raises(TypeError, match=r"history\[0\] must be a \(market, liquidations\) pair"):
        fit(truth, sample, real, history=[sample])


def test_liquidations_that_pin_nothing_leave_the_prior_and_say_so(sample):
    """Liquidations unrelated to any tier's sweeps: no tier is identified, the prior stands."""
    model = ClusterModel(leverage={10: 0.5, 50: 0.5}, seed="none")
    swept = model.estimate(sample).swept
    rng = np.random.default_rng(1)
    noise = pd.DataFrame(
        rng.gamma(0.05, 1e5, size=(len(sample), 2)), index=swept.index, columns=swept.columns
    )
    with pytest.warns(UserWarning, match="do not pin down any leverage tier"):
        f = fit(model, sample, noise, train_fraction=0.5)
    assert f.leverage == pytest.approx({10.0: 0.5, 50.0: 0.5})
    assert not any(f.identified.values())


def test_refine_moves_a_tier_to_the_leverage_that_explains_the_liquidations():
    """The true tier sits between two grid tiers: refining moves it there, and only when
    the move clearly explains the liquidations better."""
    from liqwidget.calibration import _refine

    rng = np.random.default_rng(2)
    full = rng.gamma(0.5, 1.0, size=(400, 10))  # one column per whole leverage
    w0 = np.full(3, 1 / 3)
    ok = np.ones(3, bool)
    y = full[:, [2, 6, 9]] @ np.array([0.3, 0.5, 0.2]) + rng.normal(0, 0.01, 400)
    assert _refine(full, y, w0, ok, [2, 5, 9], 0.05) == [2, 6, 9]
    y_grid = full[:, [2, 5, 9]] @ np.array([0.3, 0.5, 0.2]) + rng.normal(0, 0.01, 400)
    assert _refine(full, y_grid, w0, ok, [2, 5, 9], 0.05) == [2, 5, 9]
    # a tier the data do not pin down stays where it is
    assert _refine(full, y, w0, np.array([True, False, True]), [2, 5, 9], 0.05)[1] == 5


def test_calibrated_passes_the_fit_options_on(sample):
    from liqwidget.calibration import calibrated

    real = ClusterModel(seed="none").estimate(sample).swept
    for bad in (0, "auto", None):
        with pytest.raises(ValueError, match="prior_strength must be positive or 'cv'"):
            calibrated(sample, real, prior_strength=bad)
    with pytest.raises(ValueError, match="every must be a positive duration"):
        calibrated(sample, real, every="-1h")
    with pytest.raises(ValueError, match="price_band must be a positive fraction"):
        calibrated(sample, real, price_band=-0.01)


def test_held_out_is_the_bars_and_events_from_since(sample, est):
    from liqwidget.calibration import held_out

    ev = events_from(est.swept, sample.column("low"))
    since = sample.index[len(sample) // 2] + pd.Timedelta("1s")  # inside a bar: the next one
    first, later = held_out(sample, ev, since)
    assert first == len(sample) // 2 + 1
    assert (later["time"] >= since).all()
    assert len(later) == int((ev["time"] >= since).sum()) > 0


@pytest.mark.parametrize("half_life", ["4h", "2D"])
def test_calibrated_finds_how_fast_positions_churn(sample, half_life):
    """Liquidations of a book whose positions churn with a known half-life: searching (the
    default), the fit keeps the half-life that explains them, not the model's default of
    12h."""
    from liqwidget.calibration import TURNOVERS, calibrated

    mix = {10: 0.2, 25: 0.4, 50: 0.25, 100: 0.15}
    truth = ClusterModel(leverage=mix, seed="none", side_split=0.5, turnover=half_life)
    real = truth.estimate(sample).swept
    f = calibrated(sample, real, seed="none", side_split=0.5, turnovers=TURNOVERS)
    assert pd.Timedelta(f.model.turnover) == pd.Timedelta(half_life)
    assert 0 <= f.unexplained < 0.05
    assert calibrated(sample, real, seed="none", side_split=0.5).model.turnover == (
        f.model.turnover
    )  # the search is on by default
    kept = calibrated(sample, real, seed="none", side_split=0.5, turnovers=())  # switched off
    assert kept.model.turnover == "12h" and kept.unexplained > f.unexplained
    assert kept.rows == f.rows > 0  # the same rows: residuals compared like for like
    fixed = calibrated(
        sample, real, seed="none", side_split=0.5, turnover="9h", turnovers=TURNOVERS
    )
    assert fixed.model.turnover == "9h"  # a half-life the caller gives is not searched


def test_a_turnover_search_says_only_what_the_returned_fit_said(sample):
    """Seven fits run, each warned about the same empty history; the caller hears it once."""
    import warnings

    from liqwidget.calibration import TURNOVERS, calibrated

    real = ClusterModel(seed="none").estimate(sample).swept
    empty = real * 0.0  # a history stretch with nothing liquidated: each fit warns
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        calibrated(sample, real, seed="none", turnovers=TURNOVERS, history=[(sample, empty)])
    told = [w for w in said if "history[0] has no liquidations" in str(w.message)]
    assert len(told) == 1, [str(w.message) for w in said]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cross_validation_pulls_hard_only_where_the_rows_are_noise(seed):
    # Rows of per-tier sweeps: liquidations that follow an uneven mix closely need almost no
    # pull towards the even prior; liquidations that are mostly noise around the even mix
    # need a strong one. Each recording is predicted from the others.
    rng = np.random.default_rng(seed)
    w0 = np.full(6, 1 / 6)
    xs = [rng.gamma(0.3, 1.0, size=(300, 6)) for _ in range(3)]
    uneven = np.array([0.5, 0.02, 0.02, 0.4, 0.03, 0.03])
    clean = [x @ uneven * np.exp(0.05 * rng.standard_normal(300)) for x in xs]
    noisy = [x @ w0 + rng.gamma(0.2, 2.0, size=300) for x in xs]
    assert _cv_strength(xs, clean, w0) <= 0.03
    assert _cv_strength(xs, noisy, w0) >= 0.3
    assert _cv_strength(xs[:1], noisy[:1], w0) == PRIOR_STRENGTH  # nothing to choose with
    # A recording without liquidations has nothing to predict or to learn from.
    empty = [noisy[0], np.zeros(300)]
    assert _cv_strength(xs[:2], empty, w0) == PRIOR_STRENGTH
