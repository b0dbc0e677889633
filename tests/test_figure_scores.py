"""The map states, for the data on display, whether the model beats the naive baselines."""

from __future__ import annotations

import pandas as pd

from liqwidget import ClusterModel, simulate
from liqwidget.calibration import baselines
from liqwidget.figure.data import figure_data


def test_notes_carry_the_measured_verdict():
    sim = simulate("short-squeeze", seed=4, days=1)
    est = ClusterModel().estimate(sim.market)
    notes = figure_data(est, sim.liquidations, resolution=(120, 60)).props["notes"]["text"]
    assert "<b>Measured</b>" in notes and "beats it" in notes


def test_notes_say_plainly_when_the_model_loses():
    sim = simulate("calm-range", seed=4, days=1)
    est = ClusterModel().estimate(sim.market)
    # Events that follow the wick baseline exactly: the baseline must win.
    wick = baselines(sim.market)["wick × OI"]
    rows = [
        {"time": t + pd.Timedelta("10s"), "side": side, "price": 60_000.0, "notional": v}
        for side in ("long", "short")
        for t, v in wick[side].items()
        if v > 0
    ]
    notes = figure_data(est, pd.DataFrame(rows), resolution=(120, 60)).props["notes"]["text"]
    assert "does NOT beat it" in notes


def test_no_score_without_enough_events():
    sim = simulate("calm-range", seed=4, days=1)
    est = ClusterModel().estimate(sim.market)
    notes = figure_data(est, sim.liquidations.head(5), resolution=(120, 60)).props["notes"]["text"]
    assert "Measured" not in notes
