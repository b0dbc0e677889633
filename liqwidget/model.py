"""The cluster model: estimated liquidation levels formed from open-interest changes.

Each bar, in this order:

1. **Sweep.** Long levels at or above the bar's low and short levels at or below its high
   are liquidated (``swept``).
2. **Close.** If open interest fell, the same fraction of every outstanding level closes
   (proportional removal: which positions closed is unknown). An optional ``decay`` closes
   a further fixed fraction per unit of time.
3. **Open.** If open interest rose, the increase opens new positions at the bar's entry
   price, split long/short by ``side_split`` and spread over the leverage tiers; each tier
   places a level at its liquidation price.

The first bar already carries open interest from earlier positions. ``seed="spread"``
places it as positions entered at prices spread around the first open (log-normal with the
width that the data's own volatility implies over ``seed_age``), keeping only those whose
levels price has not already crossed; ``seed="none"`` starts from an empty book.

Bars of 30 minutes or more are first walked as a price path in a few steps
(:mod:`liqwidget.bar_path`, ``path_steps``), so that positions open along each bar; the
book is then read back onto the bars as given.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .bar_path import BAR_CANDLE, candle, to_bars, walk
from .book import Book
from .estimate import ClusterEstimate
from .forecast import entry_spread
from .leverage import DEFAULT_LEVERAGE, PLAIN_LEVERAGE, level_factors, normalise_mix
from .margin import Brackets
from .market import MarketData
from .passage import FirstPassage
from .venues import Venue

SIDE_SPLITS = ("auto", "taker", "candle")
ENTRIES = ("hlc3", "close", "ohlc4", "open")
#: Entries that are exposed to their own bar's range.
INTRABAR = ("open",)
SEEDS = ("spread", "none")
#: Bars this long or longer are walked as a price path (:mod:`liqwidget.bar_path`) in
#: ``AUTO_STEPS`` steps when ``path_steps="auto"``.
PATH_FROM = pd.Timedelta("30min")
AUTO_STEPS = 8
#: Floor for the per-bar log factor when open interest collapses to zero (exp(-50) ≈ 2e-22).
_MIN_LOG_FACTOR = -50.0


class ClusterModel:
    """Estimate where liquidation levels are stacked from price and open-interest bars.

    Parameters
    ----------
    leverage:
        ``{leverage: weight}`` — how new open interest spreads over leverage tiers.
    side_split:
        Share of new open interest taken as long positions: ``"taker"`` (taker buy share;
        needs taker columns), ``"candle"`` (body over range: a green bar leans long),
        ``"auto"`` (taker when available, else candle) or a fixed number in [0, 1].
    formula, mmr, brackets, position_notional:
        Liquidation-price formula (see :mod:`liqwidget.margin`); with brackets the
        maintenance rate/amount of a position of ``position_notional`` quote is used.
    entry:
        Entry price of a bar's new positions: ``"hlc3"``, ``"ohlc4"``, ``"close"``, or
        ``"open"`` — then the positions are also exposed to their own bar's range, so a
        high-leverage level inside that bar's wick is swept in the bar it opened.
    seed, seed_age, seed_long_share:
        How the open interest already present at the first bar is placed (see module doc).
    decay:
        Optional half-life (e.g. ``"7D"``): positions also close at this rate over time.
    turnover:
        Optional half-life of positions that close and reopen at the current price at the
        same rate (churn that leaves open interest unchanged), e.g. ``"1D"``. On bars finer
        than ``turnover_every`` the reopenings are pooled onto one bar per that interval
        (or onto the next bar that opens positions anyway).
    leverage_jitter:
        Log-width of the band of leverage each tier covers (0: exact tiers). Each bar's
        levels are dithered within the band, so the estimate has no gaps between tiers.
    tick:
        Price grid of the levels: each level is rounded to a multiple of ``tick`` (e.g. the
        exchange's tick size, 0.1 for BTCUSDT). ``None`` keeps exact prices. The display
        grid is chosen separately, in :meth:`ClusterEstimate.grid`.
    path_steps:
        Positions open along each bar, not only at its open: the bar is read as the path
        open → low → high → close (red bars: high first) cut into this many steps, and the
        model runs on the steps (:mod:`liqwidget.bar_path`). ``"auto"``: 8 steps on bars of
        30 minutes or longer, none on finer bars; ``1`` turns it off.
    exchange_formulas:
        On a market aggregated over several exchanges (:func:`liqwidget.venues.aggregate`),
        each exchange's share of new positions is placed with that exchange's own formula
        and brackets; ``False`` uses ``formula`` for all. Whether a contract is inverse
        (coin-margined, e.g. ``BTC/USD:BTC``) always comes from its symbol.
    """

    def __init__(
        self,
        leverage: Mapping[float, float] | None = None,
        side_split: str | float = "auto",
        formula: str = "simple",
        mmr: float = 0.005,
        brackets: Brackets | None = None,
        position_notional: float = 10_000.0,
        entry: str = "open",
        seed: str = "spread",
        seed_age: str | pd.Timedelta = "3D",
        seed_long_share: float = 0.5,
        decay: str | pd.Timedelta | None = None,
        turnover: str | pd.Timedelta | None = "12h",
        turnover_every: str | pd.Timedelta = "5min",
        leverage_jitter: float = 0.3,
        tick: float | None = None,
        path_steps: int | str = "auto",
        exchange_formulas: bool = True,
    ):
        self.leverage = dict(DEFAULT_LEVERAGE if leverage is None else leverage)
        self.side_split = side_split
        self.formula = formula
        self.mmr = mmr
        self.brackets = brackets
        self.position_notional = position_notional
        self.entry = entry
        self.seed = seed
        self.seed_age = seed_age
        self.seed_long_share = seed_long_share
        self.decay = decay
        self.turnover = turnover
        self.turnover_every = turnover_every
        self.leverage_jitter = leverage_jitter
        self.tick = tick
        self.path_steps = path_steps
        self.exchange_formulas = exchange_formulas

    @classmethod
    def plain(cls, **params) -> ClusterModel:
        """The textbook create/consume/proportional-removal model, as a baseline.

        Empty starting book, 50/50 side split, five fixed tiers (5x-100x), positions entered
        at the end of their bar (bars used as given, not walked), no turnover. The defaults of :class:`ClusterModel` beat it
        (see ``benchmarks/accuracy.py``).
        """
        base = dict(
            leverage=dict(PLAIN_LEVERAGE),
            seed="none",
            side_split=0.5,
            turnover=None,
            leverage_jitter=0.0,
            entry="hlc3",
            path_steps=1,
        )
        return cls(**(base | params))

    # -------------------------------------------------------------- sklearn-style params
    @classmethod
    def _param_names(cls) -> list[str]:
        """The constructor's parameter names, read from its signature (as scikit-learn does)."""
        params = inspect.signature(cls.__init__).parameters.values()
        skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        return [p.name for p in params if p.name != "self" and p.kind not in skip]

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters as a dict."""
        return {n: getattr(self, n) for n in self._param_names()}

    def set_params(self, **params) -> ClusterModel:
        """Change parameters in place and return the model."""
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"unknown parameter {k!r}; valid: {sorted(valid)}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        default = ClusterModel().get_params()
        diff = {k: v for k, v in self.get_params().items() if _differs(v, default[k])}
        return f"ClusterModel({', '.join(f'{k}={v!r}' for k, v in diff.items())})"

    # -------------------------------------------------------------- estimation
    def estimate(self, market: MarketData) -> ClusterEstimate:
        """Run the model over the bars and return the estimated book."""
        if not isinstance(market, MarketData):
            raise TypeError(
                f"estimate() takes MarketData, got {type(market).__name__}; "
                "build it with MarketData.from_frame(df)"
            )
        if len(market) < 2:
            raise ValueError("the model needs at least 2 bars")
        self._validate()
        steps = self.steps_for(market)
        levels = to_bars(self.book_on_bars(walk(market, steps)), steps)
        # The path inside a bar is a guess: entries stay uncertain, the less so the more
        # steps already spread each bar's openings along its path.
        levels.spread = entry_spread(market, steps)
        return ClusterEstimate(market=market, params=self.get_params(), raw=levels)

    def steps_for(self, market: MarketData) -> int:
        """How many path steps each bar of ``market`` is walked in (1: the bars as given)."""
        self._validate()
        if self.path_steps == "auto":
            return AUTO_STEPS if market.timeframe >= PATH_FROM else 1
        return int(self.path_steps)

    def book_on_bars(self, market: MarketData) -> Book:
        """The model's levels over the bars exactly as given (no walk, whatever
        ``path_steps`` says), with the bar each one leaves the book. Their price ``spread``
        is left to :meth:`estimate`, which knows the bars the book is read back onto."""
        levels = self.build_levels(market)
        low, high = market.column("low"), market.column("high")
        death = np.empty(levels.price.size, dtype="int64")
        # Entered at the bar's open, a level is exposed to the rest of its own bar.
        offset = -1 if self.entry in INTRABAR else 0
        sides = zip(levels.side_slices(), (low, high), ("below", "above"), strict=True)
        for part, prices, kind in sides:
            FirstPassage(prices, kind).find(
                levels.birth[part], levels.price[part], offset=offset, out=death[part]
            )
        death += 1  # state index: gone from the book after bar `death`
        levels.death = death
        return levels

    # -------------------------------------------------------------- the inputs of the book
    def build_levels(self, market: MarketData) -> Book:
        """Every level the model opens (seed and per-bar), with the book's log shrink factor.

        ``log_level[k]`` is the cumulative log of the proportional-close factor at state
        ``k`` (state ``t + 1`` = after bar ``t``). Deaths are not filled in here.
        """
        lev, weights = normalise_mix(self.leverage)
        venues = self.venues(market)
        ref = float(np.median(market.column("close")))
        factors = [self._factors(lev, venue=v, price=ref) for v in venues]
        n = len(market)
        oi = market.column("open_interest")
        opened = np.maximum(np.diff(oi, prepend=oi[0]), 0.0)
        grown = opened.copy()
        churn = np.zeros(n)
        log_f = np.zeros(n)
        if self.turnover is not None:
            # Positions also turn over: a share of open interest closes and reopens at price.
            rate = np.log(2.0) / (pd.Timedelta(self.turnover) / market.timeframe)
            churn[1:] = -np.expm1(-rate) * oi[:-1]
            log_f[1:] -= rate
            churn = self._pool(churn, opened > 0, market.timeframe)
            opened += churn
        vshare = self.venue_share(market, grown, churn, opened)
        long_share = self.long_share(market)
        entry = self.entry_price(market)

        # Per-bar levels, side-major (all longs, then all shorts), then bar, then tier,
        # written straight into the final arrays.
        bars = np.flatnonzero(opened > 0)
        seed = self._seed(market, lev, weights, factors, venues)
        nv = len(venues)
        size = bars.size * nv * lev.size
        total = len(seed) + 2 * size
        price = np.empty(total)
        entered = np.empty(total)
        weight = np.empty(total)
        side = np.empty(total, dtype="int8")
        tier = np.empty(total, dtype="int16")
        birth = np.empty(total, dtype="int64")
        tables = [
            self._bar_factors(bars, lev, f, v, ref) for f, v in zip(factors, venues, strict=True)
        ]
        fac_row = tables[0][1]
        fac_table = np.stack([t[0] for t in tables], axis=1)  # (side, venue, row, tier)
        entry_b = entry[:, bars]
        share = long_share[bars]
        per_venue = vshare[:, bars].T[:, :, None] * weights[None, None, :]  # (bar, venue, tier)
        at = 0
        for s in (0, 1):
            sl = seed.subset(seed.side == s)
            block = slice(at, at + len(sl))
            price[block], weight[block], tier[block], birth[block] = (
                sl.price,
                sl.weight,
                sl.tier,
                sl.birth,
            )
            entered[block] = sl.entry_price(market)
            block = slice(block.stop, block.stop + size)
            entered[block].reshape(-1, nv * lev.size)[:] = entry_b[s][:, None]
            out = price[block].reshape(-1, nv, lev.size)
            if nv == 1:
                np.take(fac_table[s, 0], fac_row, axis=0, out=out[:, 0])
            else:
                out[:] = np.take(fac_table[s], fac_row, axis=1).transpose(1, 0, 2)
            out *= entry_b[s][:, None, None]
            amount = opened[bars] * (share if s == 0 else 1.0 - share)
            np.multiply(
                amount[:, None, None], per_venue, out=weight[block].reshape(-1, nv, lev.size)
            )
            tier[block].reshape(-1, nv, lev.size)[:] = np.arange(lev.size)
            birth[block].reshape(-1, nv, lev.size)[:] = (bars + 1)[:, None, None]
            side[at : block.stop] = s
            at = block.stop
        if self.tick is not None:
            np.multiply(np.round(price / self.tick), self.tick, out=price)
        levels = Book(price, weight, side, tier, birth, lev, entry=entered)
        if (weight <= 0).any():
            levels = levels.subset(weight > 0)

        # Proportional closing (and decay, turnover) as a cumulative log factor per state.
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where((oi[:-1] > 0) & (oi[1:] < oi[:-1]), oi[1:] / oi[:-1], 1.0)
        log_f[1:] += np.maximum(np.log(ratio), _MIN_LOG_FACTOR)
        if self.decay is not None:
            log_f -= np.log(2.0) / (pd.Timedelta(self.decay) / market.timeframe)
        levels.log_level = np.concatenate([[0.0], np.cumsum(log_f)])
        return levels

    def _pool(self, churn: np.ndarray, opening: np.ndarray, timeframe: pd.Timedelta) -> np.ndarray:
        """Reopenings from turnover, pooled onto fewer bars on fine timeframes.

        A bar that opens positions anyway takes the turnover since the previous such bar;
        otherwise turnover is booked once per ``turnover_every`` (so one-minute bars do not
        each carry a separate set of small levels).
        """
        every = max(int(pd.Timedelta(self.turnover_every) // timeframe), 1)
        book = opening | (np.arange(churn.size) % every == every - 1)
        book[-1] = True
        total = np.cumsum(churn)[book]
        pooled = np.zeros_like(churn)
        pooled[book] = np.diff(total, prepend=0.0)
        return pooled

    def venues(self, market: MarketData) -> list[Venue]:
        """The exchanges whose shares of new positions are placed separately: those of an
        aggregated market, else the market itself (linear or inverse by its symbol)."""
        if not market.venues:
            return [Venue(market.exchange or "", market.symbol or "")]
        if not self.exchange_formulas:
            return [Venue(v.exchange, v.symbol) for v in market.venues]
        return list(market.venues)

    def venue_share(
        self, market: MarketData, grown: np.ndarray, churn: np.ndarray, opened: np.ndarray
    ) -> np.ndarray:
        """Per exchange and bar, its share of the bar's new positions ``(venues, bars)``.

        Growth of the total is split by each exchange's own open-interest increase (by its
        open interest if none grew); turnover by each exchange's open interest.
        """
        per = market.venue_oi()
        if per.shape[0] == 1:
            return np.ones_like(per)
        held = np.concatenate([per[:, :1], per[:, :-1]], axis=1)
        by_oi = held / np.maximum(held.sum(axis=0), 1e-300)
        rise = np.maximum(np.diff(per, axis=1, prepend=per[:, :1]), 0.0)
        total = rise.sum(axis=0)
        by_rise = np.where(total > 0, rise / np.where(total > 0, total, 1.0), by_oi)
        mixed = grown * by_rise + churn * by_oi
        return np.divide(mixed, opened, out=by_oi.copy(), where=opened > 0)

    def _seed(
        self,
        market: MarketData,
        lev: np.ndarray,
        weights: np.ndarray,
        factors: list[np.ndarray],
        venues: list[Venue],
    ) -> Book:
        """Seeded levels of every exchange, each in proportion to its first open interest."""
        if len(venues) == 1:
            return self.seed_levels(market, lev, weights, factors[0])
        oi0 = market.venue_oi()[:, 0]
        parts = []
        for f, w in zip(factors, oi0 / max(oi0.sum(), 1e-300), strict=True):
            part = self.seed_levels(market, lev, weights, f)
            part.weight = part.weight * w
            parts.append(part)
        keys = ("price", "weight", "side", "tier", "birth")
        joined = Book(*(np.concatenate([getattr(p, k) for p in parts]) for k in keys), lev)
        joined.entry = np.concatenate([p.entry for p in parts])
        return joined

    def _bar_factors(
        self,
        bars: np.ndarray,
        lev: np.ndarray,
        factors: np.ndarray,
        venue: Venue | None = None,
        price: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Level/entry ratios: a table ``(2, rows, tiers)`` and the row each bar uses.

        With ``leverage_jitter`` each bar's tier sits at a leverage dithered around the tier
        (a low-discrepancy cycle of 233 bars), so over many bars every tier covers a band of
        leverage instead of one exact distance from entry.
        """
        if not self.leverage_jitter:
            return factors[:, None, :], np.zeros(bars.size, dtype="int64")
        cycle = 233
        u = np.modf(
            np.arange(cycle)[:, None] * 0.6180339887498949 + np.arange(lev.size) * 0.7548776662
        )[0]
        jittered = lev[None, :] * np.exp(self.leverage_jitter * (u - 0.5))
        table = self._factors(jittered, strict=False, venue=venue, price=price)
        return table, bars % cycle

    def _factors(
        self,
        leverage: np.ndarray,
        strict: bool = True,
        venue: Venue | None = None,
        price: float = 1.0,
    ) -> np.ndarray:
        own = venue is not None and venue.formula is not None
        return level_factors(
            leverage,
            venue.formula if own else self.formula,
            mmr=venue.mmr if own and venue.mmr is not None else self.mmr,
            brackets=venue.brackets if own else self.brackets,
            position_notional=self.position_notional,
            strict=strict,
            inverse=venue is not None and venue.inverse,
            price=price,
        )

    def long_share(self, market: MarketData) -> np.ndarray:
        """Per bar, the share of new open interest taken as long positions."""
        split = self.side_split
        n = len(market)
        if not isinstance(split, str):
            return np.full(n, float(split))
        has_taker = market.has("taker_buy") and market.has("taker_sell")
        has_net = market.has("taker_net")
        if split == "taker" or (split == "auto" and (has_taker or has_net)):
            if has_taker:
                buy, sell = market.column("taker_buy"), market.column("taker_sell")
                tot = buy + sell
                return np.divide(buy, tot, out=np.full(n, 0.5), where=tot > 0)
            if has_net:
                net = market.column("taker_net")
                if market.has("volume"):
                    vol = market.column("volume")
                    frac = np.divide(net, vol, out=np.zeros(n), where=vol > 0)
                    return 0.5 + 0.5 * np.clip(frac, -1.0, 1.0)
                scale = np.median(np.abs(net[net != 0])) if np.any(net != 0) else 1.0
                return 0.5 + 0.5 * net / (np.abs(net) + scale)
            raise ValueError(
                "side_split='taker' needs taker_buy and taker_sell (or taker_net) columns; "
                "use side_split='candle' or a fixed share such as 0.5"
            )
        if market.has(BAR_CANDLE):  # walked bars: the candle of the bar they came from
            return 0.5 + 0.5 * market.column(BAR_CANDLE)
        return 0.5 + 0.5 * candle(market)

    def entry_price(self, market: MarketData) -> np.ndarray:
        """Per side (row 0 long, row 1 short) and bar, the price new positions enter at."""
        col = market.column
        if self.entry == "hlc3":
            price = (col("high") + col("low") + col("close")) / 3.0
        elif self.entry == "ohlc4":
            price = (col("open") + col("high") + col("low") + col("close")) / 4.0
        else:
            price = col(self.entry)
        return np.stack([price, price])

    def seed_levels(
        self, market: MarketData, lev: np.ndarray, weights: np.ndarray, factors: np.ndarray
    ) -> Book:
        """Levels for the open interest already present before the first bar."""
        oi0 = float(market.column("open_interest")[0])
        if self.seed == "none" or oi0 <= 0:
            return Book.empty(lev)
        open0 = float(market.column("open")[0])
        sigma = self.seed_spread(market)
        z = np.linspace(-3.0, 3.0, 61)
        pz = np.exp(-0.5 * z**2)
        entries = open0 * np.exp(sigma * z)
        share = np.array([self.seed_long_share, 1.0 - self.seed_long_share])
        amount = pz[:, None, None] * share[None, :, None] * weights[None, None, :]
        price = entries[:, None, None] * factors[None, :, :]
        # A level already crossed by the first open was liquidated before our data starts.
        alive = np.where(np.arange(2)[None, :, None] == 0, price < open0, price > open0)
        amount = np.where(alive, amount, 0.0)
        if amount.sum() <= 0:
            return Book.empty(lev)
        amount *= oi0 / amount.sum()
        shape = amount.shape
        levels = Book(
            price=price.ravel(),
            weight=amount.ravel(),
            side=np.broadcast_to(np.arange(2)[None, :, None], shape).ravel().astype("int8"),
            tier=np.broadcast_to(np.arange(lev.size)[None, None, :], shape).ravel().astype("int16"),
            birth=np.zeros(amount.size, dtype="int64"),
            leverage=lev,
            entry=np.broadcast_to(entries[:, None, None], shape).ravel(),
        )
        return levels.subset(levels.weight > 0)

    def seed_spread(self, market: MarketData) -> float:
        """Log-price spread of the seeded entries: bar volatility scaled to ``seed_age``."""
        close = market.column("close")[: max(2, min(len(market), 2000))]
        r = np.diff(np.log(close))
        vol = float(np.std(r)) if r.size > 1 else 0.0
        bars = max(pd.Timedelta(self.seed_age) / market.timeframe, 1.0)
        return max(vol * np.sqrt(bars), 1e-4)

    def _validate(self) -> None:
        normalise_mix(self.leverage)
        split = self.side_split
        if isinstance(split, str):
            if split not in SIDE_SPLITS:
                raise ValueError(
                    f"side_split must be one of {SIDE_SPLITS} or a share, got {split!r}"
                )
        elif not 0.0 <= float(split) <= 1.0:
            raise ValueError(f"a fixed side_split must be in [0, 1], got {split}")
        if self.entry not in ENTRIES:
            raise ValueError(f"entry must be one of {ENTRIES}, got {self.entry!r}")
        if self.seed not in SEEDS:
            raise ValueError(f"seed must be one of {SEEDS}, got {self.seed!r}")
        if not 0.0 <= float(self.seed_long_share) <= 1.0:
            raise ValueError("seed_long_share must be in [0, 1]")
        if pd.Timedelta(self.turnover_every) <= pd.Timedelta(0):
            raise ValueError(f"turnover_every must be positive, got {self.turnover_every}")
        for name in ("decay", "turnover"):
            v = getattr(self, name)
            if v is not None and pd.Timedelta(v) <= pd.Timedelta(0):
                raise ValueError(f"{name} half-life must be positive, got {v}")
        if not 0.0 <= float(self.leverage_jitter) <= 2.0:
            raise ValueError(f"leverage_jitter must be in [0, 2], got {self.leverage_jitter}")
        if self.tick is not None and not float(self.tick) > 0:
            raise ValueError(f"tick must be positive, got {self.tick}")
        if not self.position_notional > 0:
            raise ValueError("position_notional must be positive")
        steps = self.path_steps
        if steps != "auto" and not (
            isinstance(steps, int | np.integer) and not isinstance(steps, bool) and 1 <= steps <= 60
        ):
            raise ValueError(f"path_steps must be 'auto' or a whole number 1-60, got {steps!r}")


def _differs(a, b) -> bool:
    try:
        return bool(a != b)
    except (ValueError, TypeError):
        return True
