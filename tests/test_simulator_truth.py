"""Scoring the cluster model against simulated truth: matched assumptions beat mismatched ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import liqwidget
from liqwidget.heatmap import Heatmap
from liqwidget.simulator import overlap, score, simulate, swept_correlation, top_decile_share

WRONG_MIXES = {
    "too high (100x only)": {100: 1.0},
    "one tier (20x only)": {20: 1.0},
    "too low (5x/10x)": {5: 0.5, 10: 0.5},
}


@pytest.fixture(scope="module", params=["grind-and-sweep", "calm-range"])
def scored(request):
    sim = simulate(request.param, seed=0)
    cases = {"matched": sim.matched_model()}
    for label, mix in WRONG_MIXES.items():
        cases[f"mix {label}"] = sim.matched_model(leverage=mix)
    cases["side 10% long"] = sim.matched_model(side_split=0.1)
    cases["side 90% long"] = sim.matched_model(side_split=0.9)
    cases["model defaults"] = liqwidget.ClusterModel()
    scores = {k: score(m.estimate(sim.market), sim) for k, m in cases.items()}
    table = pd.DataFrame({k: s.as_dict() for k, s in scores.items()}).T
    cols = ["where_long", "where_short", "where_total", "overlap", "when_long", "when_short"]
    cols += ["when_ratio_long", "when_ratio_short"]
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.precision", 3):
        print(f"\n{request.param} (true long share {sim.long_share:.3f}, mix {sim.leverage})")
        print(table[cols])
    return request.param, sim, scores


def test_matched_model_recovers_the_true_clusters(scored):
    _, _, scores = scored
    s = scores["matched"]
    assert s.where["baseline"] == pytest.approx(0.1, abs=0.01)
    assert s.where["long"] > 0.6 and s.where["short"] > 0.6  # > 6x random bins
    assert s.where["total"] > 0.4
    assert s.overlap > 0.75
    assert s.when["long"] > 0.85 and s.when["short"] > 0.85
    assert 0.8 < s.when["ratio_long"] < 1.25 and 0.8 < s.when["ratio_short"] < 1.25


@pytest.mark.parametrize("label", list(WRONG_MIXES))
def test_a_wrong_leverage_mix_degrades_the_map(scored, label):
    _, _, scores = scored
    good, bad = scores["matched"], scores[f"mix {label}"]
    assert bad.overlap < good.overlap - 0.1
    assert bad.where["total"] < good.where["total"]
    assert min(bad.where["long"], bad.where["short"]) < min(good.where["long"], good.where["short"])


def test_a_wrong_mix_also_mistimes_or_misjudges_the_sweeps(scored):
    _, _, scores = scored
    good = scores["matched"]
    # Tiers far from price are rarely swept: the timing falls apart.
    for label in ("one tier (20x only)", "too low (5x/10x)"):
        bad = scores[f"mix {label}"].when
        assert np.nan_to_num(bad["total"]) < good.when["total"] - 0.2
    # All leverage at 100x puts every level next to price: far too much is swept.
    assert scores["mix too high (100x only)"].when["ratio_long"] > 1.5 * good.when["ratio_long"]


@pytest.mark.parametrize("split", ["side 10% long", "side 90% long"])
def test_a_wrong_side_split_degrades_the_map(scored, split):
    _, _, scores = scored
    good, bad = scores["matched"], scores[split]
    assert bad.overlap < good.overlap - 0.03
    err = {
        k: abs(np.log(s.when["ratio_long"] / s.when["ratio_short"]))
        for k, s in (("good", good), ("bad", bad))
    }
    assert err["bad"] > err["good"] + 0.5


def test_model_defaults_beat_random_bins_but_not_the_matched_model(scored):
    _, _, scores = scored
    s, good = scores["model defaults"], scores["matched"]
    assert s.where["long"] > 2 * s.where["baseline"]
    assert s.where["short"] > 2 * s.where["baseline"]
    assert s.overlap < good.overlap - 0.1


def test_score_refuses_an_estimate_of_other_bars(scored):
    _, sim, _ = scored
    other = simulate("calm-range", seed=9, days=0.5, warmup_days=0.5)
    est = liqwidget.ClusterModel().estimate(other.market)
    with pytest.raises(ValueError, match="not made from this simulation"):
        score(est, sim)


# ---------------------------------------------------------------------- the score functions
def _heatmap(long, short) -> Heatmap:
    long, short = np.asarray(long, dtype=float), np.asarray(short, dtype=float)
    edges = pd.date_range("2026-01-01", periods=long.shape[1] + 1, freq="1min", tz="UTC")
    return Heatmap(edges, np.linspace(100.0, 200.0, long.shape[0] + 1), long, short)


def test_top_decile_share_by_hand():
    rng = np.random.default_rng(0)
    truth = np.zeros((20, 3))
    truth[[2, 7], :] = [[5.0], [1.0]]
    t = _heatmap(truth, truth[::-1])
    perfect = top_decile_share(_heatmap(truth + 0.01, truth[::-1] + 0.01), t)
    assert perfect["long"] == pytest.approx(1.0) and perfect["short"] == pytest.approx(1.0)
    assert perfect["baseline"] == pytest.approx(0.1)
    # Top 2 bins of 20; an estimate that ranks only row 2 first catches 5/6 of the truth.
    half = truth.copy()
    half[7] = 0
    half[12] = 3.0
    assert top_decile_share(_heatmap(half, half), t)["long"] == pytest.approx(5 / 6)
    noise = [top_decile_share(_heatmap(rng.random((20, 3)), rng.random((20, 3))), t)["long"]]
    assert noise[0] <= 1.0


def test_overlap_by_hand():
    a = np.zeros((4, 2))
    a[0] = 1.0
    b = np.zeros((4, 2))
    b[3] = 1.0
    zero = np.zeros((4, 2))
    assert overlap(_heatmap(a, zero), _heatmap(a, zero)) == pytest.approx(1.0)
    assert overlap(_heatmap(b, zero), _heatmap(a, zero)) == pytest.approx(0.0)
    # Right prices, wrong side: no overlap.
    assert overlap(_heatmap(zero, a), _heatmap(a, zero)) == pytest.approx(0.0)
    # Half the mass in the right place.
    assert overlap(_heatmap(a + b, zero), _heatmap(a, zero)) == pytest.approx(0.5)


def test_grids_must_align():
    a = _heatmap(np.ones((4, 2)), np.ones((4, 2)))
    b = _heatmap(np.ones((5, 2)), np.ones((5, 2)))
    with pytest.raises(ValueError, match="differ in shape"):
        top_decile_share(a, b)
    c = Heatmap(a.time_edges, a.price_edges + 1.0, a.long, a.short)
    with pytest.raises(ValueError, match="different prices or times"):
        overlap(a, c)


def test_swept_correlation_by_hand():
    idx = pd.date_range("2026-01-01", periods=5, freq="1min", tz="UTC")
    true = pd.DataFrame({"long": [0, 1, 2, 3, 4.0], "short": [4, 3, 2, 1, 0.0]}, index=idx)
    est = pd.DataFrame({"long": [0, 2, 4, 6, 8.0], "short": [0, 1, 2, 3, 4.0]}, index=idx)
    out = swept_correlation(est, true)
    assert out["long"] == pytest.approx(1.0) and out["short"] == pytest.approx(-1.0)
    assert out["ratio_long"] == pytest.approx(2.0) and out["ratio_short"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same bars"):
        swept_correlation(est.iloc[1:], true)
