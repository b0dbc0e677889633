"""Measure the cluster model against real liquidations, next to naive baselines, and fit it.

* **Timing** — per bar, the model's swept long/short notional against real long/short
  liquidations: Spearman rank correlation, precision of the model's top-decile bars (how
  many of them are also top-decile bars of real liquidations; random = 10 %) with a Wilson
  95 % interval, and the share of real notional that falls in those bars.
* **Where** is scored in :mod:`liqwidget.location` ("given that price went there" and the
  forecast over a horizon), each checked against the simulator's true book first.
* **Baselines** from the same bars: wick × OI, |return| × OI, and OI drop.
* **Fit** — non-negative least squares of real per-bar liquidations on the model's swept
  notional per leverage tier, trained on the earlier part and scored on the later part.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from scipy.stats import binomtest, spearmanr

from .bar_path import walk
from .estimate import ClusterEstimate
from .events import validate_events
from .leverage import FIT_LEVERAGE
from .market import MarketData
from .model import ClusterModel
from .sides import SIDES
from .times import utc, utc_index

#: Fewer real liquidation events than this and no score is quoted (maps, posts, reports).
MIN_EVENTS = 30

#: A tier counts as identified when the data pin its weight to within this share of its
#: prior weight (one standard error, from the data alone); the others keep their prior share.
IDENTIFIED_WITHIN = 0.5


#: The ridge strengths ``prior_strength="cv"`` chooses among, and the one it takes when
#: there is no history to choose with.
PRIOR_STRENGTHS = (0.01, 0.03, 0.1, 0.3, 1.0)
PRIOR_STRENGTH = 0.05


# ---------------------------------------------------------------------- inputs
def events_within(events: pd.DataFrame, market: MarketData) -> pd.DataFrame:
    """The events that fall inside the bars (for scoring a window of a longer recording)."""
    ev = validate_events(events, prices=False)
    t = ev["time"].to_numpy(dtype="datetime64[ns]").astype("int64")
    start = market.index.asi8[0]
    end = market.index.asi8[-1] + market.timeframe.value
    return ev[(t >= start) & (t < end)].reset_index(drop=True)


def events_from(events: pd.DataFrame, start) -> pd.DataFrame:
    """The events at or after ``start`` (a UTC time), for scoring a held-out stretch."""
    ev = validate_events(events, prices=False)
    t = ev["time"].to_numpy(dtype="datetime64[ns]").astype("int64")
    return ev[t >= utc(start, "start").value].reset_index(drop=True)


def held_out(market: MarketData, events: pd.DataFrame, since) -> tuple[int, pd.DataFrame]:
    """The stretch from ``since`` (a UTC time) on, where a model fitted on what came before
    is scored: the index of its first bar in ``market`` and the events at or after it."""
    start = utc(since, "since")
    first = int(np.searchsorted(market.index.asi8, start.value, side="left"))
    return first, events_from(events, start)


def per_bar_liquidations(liquidations: pd.DataFrame, market: MarketData) -> pd.DataFrame:
    """Real long/short liquidation notional per bar of ``market``.

    Accepts events (``time``, ``side``, ``notional``; extra columns ignored) or per-bar
    totals (a UTC ``DatetimeIndex`` or ``time`` column, with ``long`` and ``short``).
    Events outside the bars raise: nothing is dropped silently.
    """
    if not isinstance(liquidations, pd.DataFrame):
        raise TypeError("liquidations must be a pandas DataFrame")
    df = liquidations
    if {"long", "short"} <= set(df.columns):
        times = df["time"] if "time" in df.columns else df.index
        idx = utc_index(times, "column 'time'" if "time" in df.columns else "the index")
        totals = pd.DataFrame(
            {s: pd.to_numeric(df[s], errors="raise").to_numpy(float) for s in SIDES}, index=idx
        )
        _finite_nonneg(totals, ["long", "short"])
        pos = market.index.get_indexer(totals.index)
        if (pos < 0).any():
            bad = totals.index[int(np.flatnonzero(pos < 0)[0])]
            raise ValueError(
                f"per-bar liquidation row at {bad} does not match a bar open time of the market"
            )
        out = np.zeros((len(market), 2))
        np.add.at(out, pos, totals.to_numpy())
        return pd.DataFrame(out, index=market.index, columns=list(SIDES))
    ev = validate_events(df, prices=False)
    bar = event_bars(ev, market)
    side = _side_index(ev)
    notional = ev["notional"].to_numpy(float)
    out = np.zeros((len(market), 2))
    np.add.at(out, (bar, side), notional)
    return pd.DataFrame(out, index=market.index, columns=list(SIDES))


def event_bars(events: pd.DataFrame, market: MarketData) -> np.ndarray:
    """Index of the bar each event of a validated frame falls in; raises for events outside
    the bars (:func:`liqwidget.events.validate_events` makes a validated frame)."""
    t = events["time"].to_numpy(dtype="datetime64[ns]").astype("int64")
    starts = market.index.asi8
    bar = np.searchsorted(starts, t, side="right") - 1
    end = starts[-1] + market.timeframe.value
    outside = (bar < 0) | (t >= end)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"liquidation event {i} in time order ({pd.Timestamp(t[i], tz='UTC')}) is outside "
            "the bars "
            f"({market.index[0]} to {pd.Timestamp(end, tz='UTC')}); slice the events or the bars"
        )
    return bar


def _side_index(events: pd.DataFrame) -> np.ndarray:
    """0 for long, 1 for short, per event of a validated frame."""
    return (events["side"].to_numpy() == "short").astype("int64")


def _finite_nonneg(df: pd.DataFrame, cols) -> None:
    for c in cols:
        v = df[c].to_numpy(float)
        bad = ~np.isfinite(v) | (v < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"column '{c}' at row {i} is {v[i]}: must be finite and >= 0")


# ---------------------------------------------------------------------- scores
def baselines(market: MarketData) -> dict[str, pd.DataFrame]:
    """Naive per-bar long/short scores from the bars alone."""
    o, h, lo, c = (market.column(k) for k in ("open", "high", "low", "close"))
    oi = market.column("open_interest")
    drop = np.maximum(-np.diff(oi, prepend=oi[0]), 0.0)
    ret = np.abs(c / o - 1.0) * oi
    frame = {
        "wick × OI": (np.maximum(0, o - lo) / o * oi, np.maximum(0, h - o) / o * oi),
        "|return| × OI": (ret, ret),
        "OI drop": (drop, drop),
    }
    return {
        k: pd.DataFrame({"long": a, "short": b}, index=market.index) for k, (a, b) in frame.items()
    }


def wilson(hits: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (SciPy's); NaN when ``n`` is 0."""
    if n == 0:
        return (float("nan"), float("nan"))
    ci = binomtest(int(hits), int(n)).proportion_ci(confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def timing_scores(score: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """Spearman ρ, top-decile precision (with Wilson 95 %) and share of real notional there."""
    score, real = np.asarray(score, float), np.asarray(real, float)
    n = score.size
    k = max(1, int(np.ceil(0.1 * n)))
    top_model = _top(score, k)
    top_real = _top(real, k)
    hits = int(np.isin(top_model, top_real).sum())
    lo, hi = wilson(hits, k)
    rho = spearmanr(score, real).statistic if np.ptp(score) > 0 and np.ptp(real) > 0 else np.nan
    total = real.sum()
    return {
        "spearman": float(rho),
        "top_decile_precision": hits / k,
        "precision_low": lo,
        "precision_high": hi,
        "notional_share": float(real[top_model].sum() / total) if total > 0 else float("nan"),
        "bars": n,
    }


def _top(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values; ties broken by position, deterministically."""
    return np.argsort(-x, kind="stable")[:k]


# ---------------------------------------------------------------------- report
@dataclass
class Calibration:
    """Scores of a model result and its baselines against real liquidations."""

    timing: pd.DataFrame
    real: pd.DataFrame = field(repr=False)

    def beats(
        self, baseline: str = "wick × OI", side: str | None = None, metric: str = "spearman"
    ) -> bool:
        """Whether the model's score is above the baseline's (both sides by default).

        ``metric``: ``"spearman"`` (rank correlation), ``"top_decile_precision"`` (how often
        the model's top tenth of bars are among the real top tenth) or ``"both"``.
        """
        metrics = ["spearman", "top_decile_precision"] if metric == "both" else [metric]
        unknown = set(metrics) - {"spearman", "top_decile_precision"}
        if unknown:
            raise ValueError(
                f"metric must be 'spearman', 'top_decile_precision' or 'both', got {metric!r}"
            )
        t = self.timing
        sides = [side] if side else list(SIDES)
        return all(t.loc[(s, "model"), m] > t.loc[(s, baseline), m] for s in sides for m in metrics)

    def headline(self) -> str:
        """One sentence per side: the model against its strongest baseline."""
        t = self.timing
        parts = []
        for s in SIDES:
            m = t.loc[(s, "model"), "spearman"]
            others = t.loc[s].drop("model")["spearman"].astype(float)
            if not np.isfinite(m) or others.isna().all():
                parts.append(f"{s}s: not enough liquidations to score")
                continue
            best = str(others.idxmax())
            verdict = "beats it" if m > others[best] else "does NOT beat it"
            mp, bp = (t.loc[(s, k), "top_decile_precision"] for k in ("model", best))
            on_top = "ahead" if mp > bp else "NOT ahead"
            parts.append(
                f"{s}s ρ = {m:.2f} vs {best} {others[best]:.2f} — {verdict} (worst tenth of "
                f"bars found {mp:.0%} vs {bp:.0%}: {on_top})"
            )
        return (
            "Per-bar timing (Spearman ρ), model vs best naive baseline: " + "; ".join(parts) + "."
        )

    def summary(self) -> str:
        """A short plain-language verdict per side and baseline."""
        lines = []
        t = self.timing
        for s in SIDES:
            m = t.loc[(s, "model")]
            lines.append(
                f"{s.capitalize()} liquidations, timing: model ρ = {m['spearman']:.2f}, "
                f"top-decile precision {m['top_decile_precision']:.0%} "
                f"(95 % {m['precision_low']:.0%}–{m['precision_high']:.0%}; random 10 %)."
            )
            for b in t.loc[s].index.drop("model"):
                r, p = t.loc[(s, b), "spearman"], t.loc[(s, b), "top_decile_precision"]
                on_rho = "beats" if m["spearman"] > r else "does NOT beat"
                on_top = "beats" if m["top_decile_precision"] > p else "does NOT beat"
                lines.append(
                    f"  The model {on_rho} the {b} baseline on ρ ({r:.2f}) and {on_top} it "
                    f"on top-decile precision ({p:.0%})."
                )
        return "\n".join(lines)


def calibrate(estimate: ClusterEstimate, liquidations: pd.DataFrame) -> Calibration:
    """Score a book's per-bar timing against real liquidations (events or per-bar totals).

    ``estimate`` is a model's result or a simulation's true book
    (:meth:`~liqwidget.Simulation.truth_estimate`): the oracle is scored the same way.
    """
    market = estimate.market
    if len(market) < 10:
        raise ValueError(f"too few bars to score ({len(market)}); need at least 10")
    real = per_bar_liquidations(liquidations, market)
    rows = {}
    scores = {"model": estimate.swept} | baselines(market)
    for s in SIDES:
        for name, frame in scores.items():
            rows[(s, name)] = timing_scores(frame[s].to_numpy(), real[s].to_numpy())
    timing = pd.DataFrame.from_dict(rows, orient="index")
    timing.index = pd.MultiIndex.from_tuples(timing.index, names=["side", "score"])
    return Calibration(timing=timing, real=real)


# ---------------------------------------------------------------------- fitting
@dataclass
class Fit:
    """Leverage weights and side split fitted to observed liquidations."""

    leverage: dict[float, float]
    identified: dict[float, bool]
    long_scale: float
    short_scale: float
    train: Calibration
    test: Calibration
    split_time: pd.Timestamp
    #: The model with the fitted weights (everything else as the model given to :func:`fit`).
    model: ClusterModel
    #: Share of the training liquidations (sum of squares over the regression's rows) the
    #: fitted mix, at its best overall scale, leaves unexplained: 0 is a perfect fit.
    unexplained: float = float("nan")
    #: Rows of the regression (time buckets × sides × price bands, over every recording).
    rows: int = 0

    @property
    def side_split(self) -> float:
        """Long share implied by the fitted long and short scales."""
        tot = self.long_scale + self.short_scale
        return self.long_scale / tot if tot > 0 else 0.5


def fit(
    model: ClusterModel,
    market: MarketData,
    liquidations: pd.DataFrame,
    train_fraction: float = 0.7,
    every: str | pd.Timedelta | None = "15min",
    prior_strength: float | str = PRIOR_STRENGTH,
    price_band: float | None = 0.005,
    history: Sequence[tuple[MarketData, pd.DataFrame]] = (),
    refine: bool = False,
) -> Fit:
    """Fit tier weights on the earlier ``train_fraction`` of bars; score the rest.

    Swept notional of each tier is linear in its weight, so non-negative least squares of
    real liquidations on per-tier swept notional (summed per ``every`` to soften timing
    noise, and never finer than the bars on bars walked as a path; long and short stacked,
    sharing the weights) gives the tier weights. A tier is identified when the data pin its
    weight to within :data:`IDENTIFIED_WITHIN` of its prior weight (one standard error);
    the others (tiers that swept little in training, or only ever together with a
    neighbour) keep their prior share (``identified`` says which). The identified tiers
    share among themselves the weight the prior gives them together: the data set their
    ratios, not how much of all open interest sits on tiers that never swept.
    ``prior_strength`` adds a ridge pull towards the model's own weights, which steadies
    tiers whose sweeps move together; ``"cv"`` lets the data choose it among
    :data:`PRIOR_STRENGTHS` when ``history`` is given: the one whose mix best predicts each
    recording (the training part and each of ``history``) from the others. Without history
    it is :data:`PRIOR_STRENGTH`. When the events
    have prices, the regression is also resolved by log-price bands ``price_band`` wide:
    each tier sweeps at its own distance from where positions were opened, which is what
    tells the tiers apart.

    With ``refine``, each identified tier then moves to the whole leverage between its
    neighbours that explains the liquidations clearly better (the residual falls by more
    than ``2 ln(rows)`` times its noise variance): traders on 35x are found there, not
    split over a grid's 30x and 40x. The fitted mix is keyed by the moved tiers.

    ``history`` adds earlier recordings of the same market, each a ``(market,
    liquidations)`` pair used whole: a longer record sweeps more tiers (a cascade reaches
    tiers that a quiet stretch never does), so more of them are identified. The scores
    (``train``, ``test``) are of ``market`` alone.
    """
    if not 0.1 <= train_fraction <= 0.9:
        raise ValueError("train_fraction must be between 0.1 and 0.9")
    if prior_strength != "cv" and not (
        isinstance(prior_strength, int | float) and prior_strength > 0
    ):
        raise ValueError(
            f"prior_strength must be positive or 'cv' (chosen by cross-validation), "
            f"got {prior_strength!r}"
        )
    if every is not None and not pd.Timedelta(every) > pd.Timedelta(0):
        raise ValueError(
            f"every must be a positive duration such as '15min' (or None), got {every!r}"
        )
    if price_band is not None and not price_band >= 0:
        raise ValueError(
            f"price_band must be a positive fraction of price (0 or None: bands off), got {price_band}"
        )
    lev = sorted(float(k) for k in model.leverage)
    w0 = np.array([model.leverage[k] for k in lev], float)
    w0 = w0 / w0.sum()
    n_train = int(len(market) * train_fraction)
    # The regression's columns: the model's tiers, and with ``refine`` every whole leverage
    # in their range too (each column is a tier's sweeps per unit weight).
    grid, design, w_grid = lev, model, w0
    if refine:
        grid = sorted(set(lev) | {float(k) for k in range(int(np.ceil(lev[0])), int(lev[-1]) + 1)})
        design = ClusterModel(**(model.get_params() | {"leverage": dict.fromkeys(grid, 1.0)}))
        w_grid = np.full(len(grid), 1.0 / len(grid))
    pos = [grid.index(k) for k in lev]
    # The fit sees the training bars only: its estimate's starting book and price spread
    # must not come from the bars it is later scored on.
    train_bars = market.slice(market.index[0], market.index[n_train - 1])
    recordings = [(train_bars, _within(liquidations, train_bars), "the training part")]
    for i, rec in enumerate(history):
        try:
            h_market, h_events = rec
        except (TypeError, ValueError):
            raise TypeError(
                f"history[{i}] must be a (market, liquidations) pair, got {type(rec).__name__}"
            ) from None
        recordings.append((h_market, h_events, f"history[{i}]"))
    parts = []
    for bars, events, name in recordings:
        try:
            part = _design(design, bars, events, every, price_band, w_grid)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from e
        if part.y.sum() <= 0 < part.x.sum() and name != "the training part":
            warnings.warn(
                f"{name} has no liquidations where the model sweeps: read as 'nothing was "
                "liquidated'. If the recorder was down then, leave that stretch out.",
                stacklevel=2,
            )
        parts.append(part)
    full = np.vstack([p.x for p in parts])
    x = full[:, pos]
    y = np.concatenate([p.y for p in parts])
    if prior_strength == "cv":
        prior_strength = _cv_strength([p.x[:, pos] for p in parts], [p.y for p in parts], w0)
    if y.sum() <= 0 or x.sum() <= 0:
        raise ValueError(
            "nothing to fit: no tier swept anything (or no liquidations) in the training part; "
            "give a longer stretch (train_fraction) or earlier recordings (history)"
        )
    ok = _identified(x, y, w0, prior_strength)
    if refine and ok.any():
        # Moved tiers can end up close together: which of them the data still pin down is
        # decided again on the moved columns.
        pos = _refine(full, y, w0, ok, pos, prior_strength)
        x = full[:, pos]
        ok = _identified(x, y, w0, prior_strength)
    if not ok.any():
        warnings.warn(
            "the liquidations do not pin down any leverage tier; the model's prior mix stands "
            "(record longer, or pass earlier recordings as history)",
            stacklevel=2,
        )
    weights = _weights(x, y, w0, prior_strength, ok)
    lev = [grid[i] for i in pos]
    fitted = dict(zip(lev, weights, strict=True))
    unit = {s: np.vstack([p.unit[s][:, pos] for p in parts]) for s in SIDES}
    yr = {s: np.concatenate([p.real[s] for p in parts]) for s in SIDES}
    sw = {s: unit[s] @ weights for s in SIDES}
    side_scale = {s: float(sw[s] @ yr[s] / max(sw[s] @ sw[s], 1e-300)) for s in SIDES}
    tuned = ClusterModel(**(model.get_params() | {"leverage": fitted}))
    est = tuned.estimate(market)
    split = market.index[n_train]
    real = per_bar_liquidations(liquidations, market)
    train = calibrate(slice_estimate(est, 0, n_train), real.iloc[:n_train])
    test = calibrate(slice_estimate(est, n_train, None), real.iloc[n_train:])
    identified = dict(zip(lev, ok.tolist(), strict=True))
    p = x @ weights
    unexplained = 1.0 - float(p @ y) ** 2 / max(float(p @ p) * float(y @ y), 1e-300)
    return Fit(
        fitted,
        identified,
        side_scale["long"],
        side_scale["short"],
        train,
        test,
        split,
        tuned,
        unexplained,
        int(y.size),
    )


#: Half-lives of position churn (``ClusterModel(turnover=...)``) :func:`calibrated` tries.
TURNOVERS = ("4h", "6h", "9h", "12h", "18h", "1D", "2D")
#: The shortest record (training bars and history together) on which :func:`calibrated`
#: searches the churn by itself: a shorter one cannot tell the half-lives apart.
CHURN_RECORD = pd.Timedelta("7D")


def calibrated(
    market: MarketData,
    liquidations: pd.DataFrame,
    train_fraction: float = 0.5,
    history: Sequence[tuple[MarketData, pd.DataFrame]] = (),
    *,
    every: str | pd.Timedelta | None = "15min",
    prior_strength: float | str = "cv",
    price_band: float | None = 0.005,
    turnovers: Sequence[str | pd.Timedelta] | str | None = "auto",
    **params,
) -> Fit:
    """Fit the leverage mix to recorded liquidations, starting from a fine even grid of tiers
    (:data:`~liqwidget.leverage.FIT_LEVERAGE`, exact tiers: ``leverage_jitter=0``), each
    identified tier then refined to the whole leverage that fits best (see :func:`fit`).

    The prior mix of :class:`ClusterModel` is a guess; with liquidations on record the map
    can learn where traders really sit. ``Fit.model`` is the calibrated model; score it only
    after ``Fit.split_time`` (the liquidations before it trained it). ``params`` go to the
    model (e.g. ``side_split``); ``history``, ``every``, ``prior_strength`` and
    ``price_band`` go to :func:`fit`.

    How fast positions churn shapes the book too (a level opened a day ago holds less the
    faster traders close and reopen). Unless ``params`` gives a ``turnover``, the mix is
    fitted once per half-life in ``turnovers`` and the one that leaves the least of the
    training liquidations unexplained is kept, if it clearly beats the model's own
    half-life (by more than ``2 ln(rows) / rows`` of its residual, the bar :func:`fit` sets
    for moving a tier). ``"auto"`` (the default) searches :data:`TURNOVERS` when the
    training bars and ``history`` together span :data:`CHURN_RECORD` or more; ``()`` or
    ``None`` never search. On liquidations of a book with a known churn it finds that churn.
    On the simulator (traders hold 10 hours on average: a 6.9-hour half-life) with 18 days
    of history it picks 4-12 hours on hourly bars and lifts the hourly held-out scores where
    the default 12 hours kept too many old positions; on two days alone it picks 4 hours in a
    calm range and ranks the held-out bands worse than the prior, hence the minimum record
    (``benchmarks/accuracy.py``; see the README). It costs one fit per half-life.
    """
    if isinstance(turnovers, str):
        if turnovers != "auto":
            raise ValueError(
                f"turnovers must be 'auto', a list of half-lives or (), got {turnovers!r}"
            )
        span = len(market) * train_fraction * market.timeframe
        for rec in history:
            if isinstance(rec, tuple | list) and len(rec) == 2 and isinstance(rec[0], MarketData):
                span += len(rec[0]) * rec[0].timeframe
        turnovers = TURNOVERS if span >= CHURN_RECORD else ()
    base = {"leverage": FIT_LEVERAGE, "leverage_jitter": 0.0} | params

    def one(**extra) -> Fit:
        model = ClusterModel(**(base | extra))
        return fit(
            model,
            market,
            liquidations,
            train_fraction=train_fraction,
            every=every,
            prior_strength=prior_strength,
            price_band=price_band,
            history=history,
            refine=True,
        )

    def quietly(**extra) -> tuple[Fit, list]:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            return one(**extra), said

    own, said = quietly()
    best, best_said = own, said
    if turnovers and "turnover" not in params:
        mine = own.model.turnover
        for half_life in turnovers:
            if mine is not None and pd.Timedelta(half_life) == pd.Timedelta(mine):
                continue
            other, other_said = quietly(turnover=half_life)
            if other.unexplained < best.unexplained:
                best, best_said = other, other_said
        bar = 2.0 * np.log(max(own.rows, 2)) / max(own.rows, 2) * own.unexplained
        if not own.unexplained - best.unexplained > bar:
            best, best_said = own, said
    seen = set()
    for w in best_said:  # what the fit that is returned had to say (once each), only that
        if (w.category, str(w.message)) not in seen:
            seen.add((w.category, str(w.message)))
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return best


def _within(liquidations: pd.DataFrame, market: MarketData) -> pd.DataFrame:
    """The events or per-bar totals that fall inside the bars of ``market``."""
    if {"long", "short"} <= set(liquidations.columns):
        times = liquidations["time"] if "time" in liquidations.columns else liquidations.index
        t = utc_index(times, "the per-bar totals' times").asi8
        end = market.index.asi8[-1] + market.timeframe.value
        return liquidations[(t >= market.index.asi8[0]) & (t < end)]
    return events_within(liquidations, market)


def _weights(x, y, w0, prior_strength, ok=None) -> np.ndarray:
    """The mix for rows ``x``, ``y`` and prior ``w0``: the identified tiers (``ok``, by
    default :func:`_identified`) share the prior's weight for them in the ratios the ridge
    regression gives; the others keep their prior weight."""
    if ok is None:
        ok = _identified(x, y, w0, prior_strength)
    w = w0.copy()
    if ok.any():
        coef, _, _ = _ridge_nnls(x[:, ok], y, w0[ok], prior_strength)
        if coef.sum() > 0:
            w[ok] = coef / coef.sum() * w0[ok].sum()
    return w / w.sum()


def _cv_strength(xs, ys, w0) -> float:
    """The ridge strength (of :data:`PRIOR_STRENGTHS`) whose mix best predicts recordings
    it was not fitted on: each recording's rows (``xs``, ``ys``: one array per recording)
    predicted by the mix fitted on all the others at their best overall scale, the squared
    error taken as a share of that recording's own sum of squares, summed over recordings.
    Only recordings with liquidations where some tier swept take part (one without them
    has nothing to predict or to learn from); with fewer than two the answer is
    :data:`PRIOR_STRENGTH`: the halves of one stretch are not alike enough to stand in for
    each other (a calm start, a cascade later)."""
    use = [i for i, (x, y) in enumerate(zip(xs, ys, strict=True)) if y.sum() > 0 < x.sum()]
    if len(use) < 2:
        return PRIOR_STRENGTH
    scores = np.zeros(len(PRIOR_STRENGTHS))
    for i in use:
        xt = np.vstack([xs[j] for j in use if j != i])
        yt = np.concatenate([ys[j] for j in use if j != i])
        for n, ps in enumerate(PRIOR_STRENGTHS):
            w = _weights(xt, yt, w0, ps)
            pt = xt @ w
            c = float(yt @ pt) / max(float(pt @ pt), 1e-300)
            scores[n] += float(((ys[i] - c * (xs[i] @ w)) ** 2).sum()) / float(ys[i] @ ys[i])
    return PRIOR_STRENGTHS[int(np.argmin(scores))]


def _ridge_nnls(x, y, w0, prior_strength):
    """Non-negative least squares of ``y`` on ``x`` with a ridge pull towards ``w0``.

    The columns are first scaled so that ``w0`` fits ``y`` as well as one factor can (the
    coefficients are then comparable with ``w0``); the ridge has the data's size times
    ``prior_strength``. Returns the coefficients, the scaled design and the ridge weight.
    """
    guess = x @ w0
    xs = x * float(y @ guess / max(guess @ guess, 1e-300))
    lam = prior_strength * np.sqrt((xs**2).sum() / x.shape[1])
    a = np.vstack([xs, lam * np.eye(x.shape[1])])
    coef, _ = nnls(a, np.concatenate([y, lam * w0]))
    return coef, xs, lam


def _identified(x, y, w0, prior_strength) -> np.ndarray:
    """Which tiers the data pin down. Tiers are taken in order of how much they swept; each
    joins when, fitted together with those already in, every standard error stays under
    :data:`IDENTIFIED_WITHIN` of the prior weight. A tier that swept little, or only ever
    together with a neighbour already in, does not join."""
    mass = x.sum(axis=0)
    ok = np.zeros(x.shape[1], bool)
    for k in np.argsort(-mass, kind="stable"):
        if mass[k] <= 0:
            break
        trial = ok.copy()
        trial[k] = True
        if (
            _standard_errors(x[:, trial], y, w0[trial], prior_strength)
            < IDENTIFIED_WITHIN * w0[trial]
        ).all():
            ok = trial
    return ok


def _refine(full, y, w0, ok, pos, prior_strength) -> list[int]:
    """Move each identified tier (in order of leverage) to the whole leverage between its
    neighbours that explains the liquidations best, when it does so clearly: the residual
    falls by more than ``2 ln(rows)`` times its noise variance (a penalty that grows with
    the data, as the chance of a lucky candidate does). Traders sit on 35x, not on the
    grid's 30x or 40x."""
    pos = list(pos)
    idx = np.flatnonzero(ok)

    def rss(p: list[int]) -> float:
        coef, xs, _ = _ridge_nnls(full[:, [p[i] for i in idx]], y, w0[idx], prior_strength)
        r = y - xs @ coef
        return float(r @ r)

    best = rss(pos)
    bar = 2.0 * np.log(max(len(y), 2)) * best / max(len(y) - idx.size, 1)
    for i in idx:
        lo = pos[i - 1] + 1 if i > 0 else 0
        hi = pos[i + 1] - 1 if i + 1 < len(pos) else full.shape[1] - 1
        trials = {c: rss([*pos[:i], c, *pos[i + 1 :]]) for c in range(lo, hi + 1) if c != pos[i]}
        if trials:
            c = min(trials, key=trials.get)
            if best - trials[c] > bar:
                pos[i], best = c, trials[c]
    return pos


def _standard_errors(x, y, w0, prior_strength) -> np.ndarray:
    """Standard errors of the fit's coefficients from the data alone: robust to cells of
    very different size (a cascade's cell against a quiet one), and without the ridge's
    pull, so the prior cannot pin down a tier the data cannot tell apart, however many
    rows there are (two tiers that always sweep together get huge errors). The larger of
    the robust (sandwich) and the classical error, per tier."""
    coef, xs, _ = _ridge_nnls(x, y, w0, prior_strength)
    resid = y - xs @ coef
    gram = xs.T @ xs
    tiny = 1e-9 * max(float(np.trace(gram)), 1e-300) / len(gram)
    inv = np.linalg.inv(gram + tiny * np.eye(len(gram)))
    meat = (xs * resid[:, None] ** 2).T @ xs
    robust = np.diag(inv @ meat @ inv)
    classic = resid @ resid / max(len(y) - x.shape[1], 1) * np.diag(inv)
    return np.sqrt(np.clip(np.maximum(robust, classic), 0.0, None))


@dataclass
class _Design:
    """One recording's part of the fit: rows of per-tier swept notional of a unit weight
    (``x``) against real liquidations (``y``), and per side per time bucket (``unit``,
    ``real``) for the side scales."""

    x: np.ndarray
    y: np.ndarray
    unit: dict[str, np.ndarray]
    real: dict[str, np.ndarray]


def _design(model, market, liquidations, every, price_band, weights) -> _Design:
    """The regression rows of one recording (all its bars); ``weights`` are the model's
    tier weights (each column is divided by its own: per unit weight)."""
    # On bars the model walks as a path, the model runs on the steps (positions open along
    # the bar), and the sweeps are then bucketed by bar (below).
    steps = model.steps_for(market)
    bars = walk(market, steps)
    base = ClusterModel(**(model.get_params() | {"path_steps": 1})).estimate(bars)
    real = per_bar_liquidations(liquidations, bars)
    by_tier = base.swept_by_tier
    rule = pd.Timedelta(every) if every is not None else bars.timeframe
    if steps > 1 or {"long", "short"} <= set(liquidations.columns):
        # Per-bar totals say nothing about where inside a bar, and on walked bars the order
        # inside a bar is the walk's guess: bucket no finer than the bars (the price bands
        # still tell the tiers apart).
        rule = max(rule, market.timeframe)

    def bucket(frame: pd.DataFrame) -> np.ndarray:
        return frame.resample(rule).sum().to_numpy()

    # Per tier, the swept notional of a unit weight: per (time bucket, side), and when the
    # liquidations carry prices, per price band too (tiers sweep at different distances).
    per_unit = np.where(weights > 0, weights, 1.0)
    unit = {s: bucket(by_tier[s]) / per_unit for s in SIDES}
    yr = {s: bucket(real[[s]])[:, 0] for s in SIDES}
    if price_band and {"price", "side", "time"} <= set(liquidations.columns):
        events = validate_events(liquidations)
        x, y = _price_resolved(base, events, per_unit, rule, price_band)
    else:
        y = np.concatenate([yr["long"], yr["short"]])
        x = np.vstack([unit["long"], unit["short"]])
    return _Design(x, y, unit, yr)


def _price_resolved(base, events, per_unit, rule, band):
    """Design matrix and target per (time bucket, side, log-price band) cell, over all the
    bars of ``base``."""
    m = base.market
    lv = base.raw
    bar, amount = base._sweeps
    t0 = m.index[0].value
    width = rule.value
    train_end = m.index[-1].value + m.timeframe.value
    hit = (bar < len(m)) & (amount > 0)  # sweeps after the last bar belong to no bar
    lt = (m.index.asi8[bar[hit]] - t0) // width
    lp = np.floor(np.log(lv.price[hit]) / np.log1p(band)).astype("int64")
    ev_t = events["time"].to_numpy(dtype="datetime64[ns]").astype("int64")
    ev_keep = ev_t < train_end
    et = (ev_t[ev_keep] - t0) // width
    ep = np.floor(np.log(events["price"].to_numpy(float)[ev_keep]) / np.log1p(band)).astype("int64")
    es = _side_index(events)[ev_keep]
    cells_model = np.stack([lt, lv.side[hit].astype("int64"), lp], 1)
    cells_real = np.stack([et, es, ep], 1)
    cells, inv = np.unique(np.vstack([cells_model, cells_real]), axis=0, return_inverse=True)
    inv = inv.ravel()
    n_model = cells_model.shape[0]
    x = np.zeros((cells.shape[0], per_unit.size))
    np.add.at(x, (inv[:n_model], lv.tier[hit]), amount[hit] / per_unit[lv.tier[hit]])
    y = np.bincount(
        inv[n_model:], weights=events["notional"].to_numpy(float)[ev_keep], minlength=cells.shape[0]
    )
    return x, y


@dataclass
class _SweptView:
    """A window of an estimate's per-bar output, enough for timing scores."""

    market: MarketData
    swept: pd.DataFrame


def slice_estimate(est: ClusterEstimate, a: int, b: int | None = None):
    """Bars ``a`` to ``b`` of an estimate's per-bar output: enough for :func:`calibrate`."""
    if a == 0 and b is None:
        return est
    idx = est.market.index
    view = est.market.slice(idx[a], None if b is None else idx[b - 1])
    return _SweptView(view, est.swept.iloc[a:b])
