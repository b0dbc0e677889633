"""Coarse bars walked as a price path: the sub-bars add up to the bars, and the book the
model builds on them reads back onto the bars it was given."""

import numpy as np
import pandas as pd
import pytest

import liqwidget as lw
from liqwidget.bar_path import path_prices, to_bars, walk
from liqwidget.book import Book
from liqwidget.forecast import entry_spread, entry_spreads


@pytest.fixture(scope="module")
def sim():
    return lw.simulate("grind-and-sweep", seed=4, timeframe="1h", days=1.0, warmup_days=0.5)


@pytest.fixture(scope="module")
def hourly(sim):
    return sim.market


def test_sub_bars_add_up_to_the_bars(hourly):
    fine = walk(hourly, 4)
    assert len(fine) == 4 * len(hourly) and fine.timeframe * 4 == hourly.timeframe
    back = fine.resample("1h")
    for col in ("open", "high", "low", "close", "open_interest", "volume", "taker_buy"):
        np.testing.assert_allclose(back.column(col), hourly.column(col), rtol=1e-12)


def test_a_green_bar_dips_first_and_a_red_bar_rallies_first(hourly):
    p = path_prices(hourly, 60)
    o, c = hourly.column("open"), hourly.column("close")
    low_at = p.argmin(axis=1)
    high_at = p.argmax(axis=1)
    moving = hourly.column("high") > hourly.column("low")
    green, red = moving & (c > o), moving & (c < o)
    assert green.any() and red.any()
    assert (low_at[green] <= high_at[green]).all()
    assert (high_at[red] <= low_at[red]).all()
    np.testing.assert_allclose(p[:, 0], o)
    np.testing.assert_allclose(p[:, -1], c)


def test_the_book_reads_back_onto_the_bars(hourly):
    model = lw.ClusterModel(path_steps=4)
    fine = model.book_on_bars(walk(hourly, 4))
    coarse = to_bars(fine, 4)
    states = np.arange(len(hourly) + 1)
    keys = fine.side.astype("int64")  # one bin per side
    np.testing.assert_allclose(
        coarse.outstanding(keys, 2, states), fine.outstanding(keys, 2, 4 * states), rtol=1e-9
    )
    est = model.estimate(hourly)
    assert est.raw.birth.max() <= len(hourly) and (est.raw.death >= est.raw.birth).all()
    # What the sub-bars swept is what the bars sweep, up to the closes inside the sweeping
    # bar (on the bars a level is swept with its amount at the bar's start).
    sub = lw.ClusterModel(path_steps=1).estimate(walk(hourly, 4)).swept.resample("1h").sum()
    got, want = est.swept.to_numpy().sum(0), sub.to_numpy().sum(0)
    assert (got >= want).all()
    np.testing.assert_allclose(got, want, rtol=0.05)


def test_path_steps_auto_walks_only_coarse_bars(hourly):
    model = lw.ClusterModel()
    assert model.steps_for(hourly) == 8  # 7.5-minute steps
    assert model.steps_for(walk(hourly, 12)) == 1  # five-minute bars are used as given
    off = lw.ClusterModel(path_steps=1).estimate(hourly)
    on = model.estimate(hourly)
    assert not np.allclose(off.swept.to_numpy(), on.swept.to_numpy())


@pytest.mark.parametrize("bad", [0, -1, 2.5, "4", True, 61])
def test_bad_path_steps_are_named(hourly, bad):
    with pytest.raises(ValueError, match="path_steps must be 'auto' or a whole number"):
        lw.ClusterModel(path_steps=bad).estimate(hourly)


def test_calibration_names_bad_path_steps_too(sim):
    with pytest.raises(ValueError, match="path_steps must be 'auto' or a whole number"):
        lw.calibration.fit(lw.ClusterModel(path_steps="x"), sim.market, sim.liquidations)


def test_steps_must_divide_the_bars(hourly):
    with pytest.raises(ValueError, match="7 steps do not divide 0 days 01:00:00 bars evenly"):
        walk(hourly, 7)


def test_walked_steps_keep_their_bars_candle(hourly):
    """A step is one leg of its bar: the side split reads the candle of the whole bar."""
    model = lw.ClusterModel(side_split="candle")
    share = model.long_share(walk(hourly, 4))
    np.testing.assert_allclose(share, np.repeat(model.long_share(hourly), 4))


def test_the_plain_textbook_model_uses_bars_as_given(hourly):
    assert lw.ClusterModel.plain().steps_for(hourly) == 1


def test_fit_reads_per_bar_totals_like_the_events_they_sum(sim):
    """Totals only say which bar: on walked bars they are bucketed by bar, not put on a
    bar's first step, so they fit exactly as the events they sum."""
    from liqwidget.calibration import fit, per_bar_liquidations

    model = lw.ClusterModel()
    totals = per_bar_liquidations(sim.liquidations, sim.market)
    by_events = fit(
        model, sim.market, sim.liquidations, every="1h", price_band=None, train_fraction=0.5
    )
    by_totals = fit(model, sim.market, totals, every="15min", price_band=None, train_fraction=0.5)
    for tier, w in by_events.leverage.items():
        assert by_totals.leverage[tier] == pytest.approx(w, rel=1e-9)


def test_walked_hourly_bars_sweep_where_real_bars_wicked(sample):
    """On the real Binance sample in hourly bars, a bar whose wick reached 0.25 % past its
    open almost always finds levels to sweep once bars are walked (default: eight steps);
    taken whole, many find nothing, since positions opened inside the bar never face it."""
    hourly = sample.resample("1h")
    o = hourly.column("open")
    wicked = {"long": (o - hourly.column("low")) / o >= 0.0025,
              "short": (hourly.column("high") - o) / o >= 0.0025}  # fmt: skip

    def empty(model) -> dict[str, int]:
        swept = model.estimate(hourly).swept
        return {s: int((w & (swept[s].to_numpy() == 0)).sum()) for s, w in wicked.items()}

    assert min(int(w.sum()) for w in wicked.values()) > 100
    whole, four, walked = (empty(lw.ClusterModel(path_steps=p)) for p in (1, 4, "auto"))
    assert min(whole.values()) >= 10, whole
    assert all(walked[s] <= 0.02 * wicked[s].sum() for s in wicked), walked
    assert all(walked[s] <= four[s] for s in wicked), (walked, four)


@pytest.mark.parametrize("steps", [1, 8])
@pytest.mark.parametrize("wild", [0.0, 0.3])
def test_entry_spreads_are_where_a_random_walk_really_entered_around_the_walk(steps, wild):
    # Random-walk bars, a share ``wild`` of them four times as volatile; positions open
    # evenly in time along the true path and the model places a step's openings at the
    # step's open. Gaussians of each item's own width (entry_spreads: its bar's range)
    # around those places give the real entries the highest likelihood, and explain them
    # better than one width for all, clearly so where quiet and wild bars mix.
    rng = np.random.default_rng(5)
    n, fine = 1500, 360
    vol = np.where(rng.random(n) < wild, 8e-4, 2e-4)
    x = 60_000 * np.exp(np.cumsum(rng.normal(0, 1, size=(n, fine + 1)) * vol[:, None], axis=1))
    x *= 60_000 / x[:, :1]  # every bar opens at the same price: no drift across bars
    bars = pd.DataFrame(
        {"open": x[:, 0], "high": x.max(1), "low": x.min(1), "close": x[:, -1]},
        index=pd.date_range("2026-01-01", periods=n, freq="1h", tz="UTC"),
    )
    bars["open_interest"] = 1e9
    market = lw.MarketData.from_frame(bars, allow_gaps=True)
    placed = np.log(path_prices(market, steps)[:, :steps])  # each step's open
    when = rng.integers(0, fine, size=(n, 30))
    off = np.log(np.take_along_axis(x, when, axis=1))[:, :, None] - placed[:, None, :]
    book = Book(  # one item per bar, born after it, as a model's book holds them
        price=np.full(n, 50_000.0),
        weight=np.ones(n),
        side=np.zeros(n, "int8"),
        tier=np.zeros(n, "int16"),
        birth=np.arange(1, n + 1),
        leverage=np.array([10.0]),
        spread=entry_spread(market, steps),
    )
    own = entry_spreads(book, market)

    def loglik(width) -> float:
        w = np.broadcast_to(np.asarray(width, dtype="float64"), (n,)).reshape(-1, 1, 1)
        dens = np.exp(-0.5 * (off / w) ** 2).mean(axis=2) / w[:, :, 0]
        return float(np.log(dens).mean())

    assert loglik(own) > max(loglik(own * 0.8), loglik(own * 1.25))
    one = max(loglik(book.spread * k) for k in (0.8, 1.0, 1.25, 1.6))  # the best single width
    assert loglik(own) > one + (0.1 if wild else 0.0)
    if wild:
        ratio = np.median(own[vol > 5e-4]) / np.median(own[vol < 5e-4])
        assert 3.0 < ratio < 5.0
    assert entry_spread(market, 8) < entry_spread(market, 1) / 4
