"""Many markets at once: :func:`estimate_many` runs the model over each on a Dask cluster.

Every market is estimated in its own task, on whichever worker is free, and comes back as a
small summary (bars, swept totals, the densest clusters at the end, timing scores where
real liquidations exist). The estimates themselves (hundreds of MB for a year of one-minute
bars) stay on the workers unless ``keep=True`` asks for them.

A market is given as

- a :class:`~liqwidget.MarketData` (sent to the worker with its task),
- a :class:`StoredMarket` (exchange, symbol, timeframe) loaded by the worker from the store
  named by ``store=`` (a PostgreSQL URL for workers on other machines; a SQLite path works
  where the workers share the file), together with its recorded liquidations, or
- a function without arguments returning a ``MarketData`` (built where it runs: synthetic or
  custom loaders; it must be importable on the workers).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .calibration import MIN_EVENTS, calibrate
from .cluster import RETRIES, dask_client
from .estimate import ClusterEstimate
from .market import MarketData
from .model import ClusterModel
from .sides import SIDES

#: What the summary table holds per market, in this order.
SUMMARY_COLUMNS = (
    "exchange",
    "symbol",
    "bars",
    "start",
    "end",
    "close",
    "levels",
    "swept_long",
    "swept_short",
    "events",
    "digest",
)


@dataclass(frozen=True)
class StoredMarket:
    """A market to load from the store on the worker (``start``/``end`` optional)."""

    exchange: str
    symbol: str
    timeframe: str
    start: Any = None
    end: Any = None

    @property
    def name(self) -> str:
        return f"{self.exchange} {self.symbol} {self.timeframe}"


MarketSource = MarketData | StoredMarket | Callable[[], MarketData]


class EstimateManyError(RuntimeError):
    """One market could not be estimated; the message names it."""


@dataclass
class ManyEstimates:
    """What :func:`estimate_many` returns.

    ``summary``: one row per market (index: the market's name; columns
    :data:`SUMMARY_COLUMNS`; ``digest`` fingerprints the per-bar swept notional and the top
    clusters, so two runs can be compared exactly). ``clusters``: the ``top`` densest long
    and short bands of each market at its last bar. ``scores``: per market and side, the
    model's Spearman ρ and top-decile precision against real liquidations next to the best
    naive baseline (only markets with at least ``MIN_EVENTS`` recorded events).
    ``estimates``: the full results, only with ``keep=True``.
    """

    summary: pd.DataFrame
    clusters: pd.DataFrame
    scores: pd.DataFrame
    estimates: dict[str, ClusterEstimate] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"ManyEstimates({len(self.summary)} markets, {len(self.estimates)} kept)"


@dataclass
class _Part:
    row: dict[str, Any]
    clusters: pd.DataFrame
    scores: pd.DataFrame
    estimate: ClusterEstimate | None


def estimate_many(
    markets: Mapping[str, MarketSource] | Sequence[MarketSource],
    model: ClusterModel | None = None,
    *,
    scheduler: Any = None,
    n_workers: int | None = None,
    store: str | os.PathLike | None = None,
    liquidations: Mapping[str, pd.DataFrame] | None = None,
    top: int = 3,
    keep: bool = False,
) -> ManyEstimates:
    """Estimate every market with ``model`` (default ``ClusterModel()``) in parallel.

    ``scheduler``: ``None`` starts a local cluster of ``n_workers`` processes (default: one
    per core) for this call; ``"tcp://host:port"`` uses a running Dask scheduler; a
    ``distributed.Client`` is used as is; ``"serial"`` runs the same work in this process,
    one market after another (no Dask). ``store``: where :class:`StoredMarket` entries are
    loaded from (default: the default store). ``liquidations``: real events per market name
    for the scores (stored markets bring their own). ``keep``: also return the estimates.
    """
    named = _named(markets)
    model = model or ClusterModel()
    store_at = str(store) if store is not None else None
    events = dict(liquidations or {})
    unknown = sorted(set(events) - set(named))
    if unknown:
        raise ValueError(f"liquidations given for unknown market(s) {unknown}")
    jobs = [
        (name, source, model, store_at, events.get(name), top, keep)
        for name, source in named.items()
    ]
    if isinstance(scheduler, str) and scheduler == "serial":
        parts = [_estimate_one(*job) for job in jobs]
    else:
        with dask_client(scheduler, n_workers=n_workers) as client:
            futures = [
                client.submit(_estimate_one, *job, key=_task_key(job[0]), retries=RETRIES)
                for job in jobs
            ]
            parts = client.gather(futures)
    return _combine(list(named), parts)


def _named(markets) -> dict[str, MarketSource]:
    if isinstance(markets, Mapping):
        named = {str(k): v for k, v in markets.items()}
    else:
        named = {}
        for i, source in enumerate(markets):
            name = _default_name(source, i)
            if name in named:
                raise ValueError(f"two markets are both named {name!r}; pass a dict of names")
            named[name] = source
    if not named:
        raise ValueError("no markets to estimate")
    for name, source in named.items():
        if not isinstance(source, MarketData | StoredMarket) and not callable(source):
            raise TypeError(
                f"market {name!r} is a {type(source).__name__}; give MarketData, a "
                "StoredMarket or a function returning MarketData"
            )
    return named


def _default_name(source, i: int) -> str:
    if isinstance(source, StoredMarket):
        return source.name
    if isinstance(source, MarketData) and (source.exchange or source.symbol):
        return " ".join(x for x in (source.exchange, source.symbol) if x)
    return f"market {i}"


def _task_key(name: str) -> str:
    digest = hashlib.sha1(name.encode()).hexdigest()[:12]
    return f"liqwidget-estimate-{digest}-{os.urandom(4).hex()}"


def _load(source: MarketSource, store: str | None, events):
    if isinstance(source, MarketData):
        return source, events
    if isinstance(source, StoredMarket):
        from .store import Store

        with Store(store) as st:
            market = st.load_market(
                source.exchange, source.symbol, source.timeframe, source.start, source.end
            )
            if events is None:
                found = st.load_liquidations(source.exchange, source.symbol)
                events = found if len(found) else None
        return market, events
    market = source()
    if not isinstance(market, MarketData):
        raise TypeError(f"the market function returned a {type(market).__name__}, not MarketData")
    return market, events


def _estimate_one(name, source, model, store, events, top, keep) -> _Part:
    """The work of one task: load, estimate, summarise (runs on a worker)."""
    try:
        market, events = _load(source, store, events)
        est = model.estimate(market)
        swept = est.swept
        clusters = est.top_clusters(n=top)
        scores = _scores(est, events)
    except Exception as exc:
        raise EstimateManyError(f"market {name!r}: {type(exc).__name__}: {exc}") from exc
    h = hashlib.sha256(np.ascontiguousarray(swept.to_numpy(dtype="float64")).tobytes())
    h.update(np.ascontiguousarray(clusters[["price", "notional"]].to_numpy()).tobytes())
    row = {
        "exchange": market.exchange,
        "symbol": market.symbol,
        "bars": len(market),
        "start": market.index[0],
        "end": market.index[-1],
        "close": float(market.column("close")[-1]),
        "levels": len(est.raw),
        "swept_long": float(swept["long"].sum()),
        "swept_short": float(swept["short"].sum()),
        "events": 0 if events is None else len(events),
        "digest": h.hexdigest()[:16],
    }
    return _Part(row, clusters, scores, est if keep else None)


def _scores(est: ClusterEstimate, events) -> pd.DataFrame:
    """The model's timing scores per side next to the best baseline (empty: too few events)."""
    columns = ["side", "spearman", "top_decile_precision", "best_baseline", "baseline_spearman"]
    if events is None or len(events) < MIN_EVENTS:
        return pd.DataFrame(columns=columns)
    timing = calibrate(est, events).timing
    rows = []
    for side in SIDES:
        model = timing.loc[(side, "model")]
        others = timing.loc[side].drop("model")["spearman"].astype(float)
        best = str(others.idxmax()) if others.notna().any() else None
        rows.append(
            {
                "side": side,
                "spearman": float(model["spearman"]),
                "top_decile_precision": float(model["top_decile_precision"]),
                "best_baseline": best,
                "baseline_spearman": float(others[best]) if best else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _combine(names: list[str], parts: list[_Part]) -> ManyEstimates:
    summary = pd.DataFrame([p.row for p in parts], index=pd.Index(names, name="market"))
    summary = summary[list(SUMMARY_COLUMNS)]
    clusters = _stack(names, [p.clusters for p in parts])
    scores = _stack(names, [p.scores for p in parts])
    kept = {n: p.estimate for n, p in zip(names, parts, strict=True) if p.estimate is not None}
    return ManyEstimates(summary=summary, clusters=clusters, scores=scores, estimates=kept)


def _stack(names: list[str], frames: list[pd.DataFrame]) -> pd.DataFrame:
    filled = [f.assign(market=n) for n, f in zip(names, frames, strict=True) if len(f)]
    if not filled:
        return pd.DataFrame(columns=["market", *frames[0].columns])
    out = pd.concat(filled, ignore_index=True)
    return out[["market", *[c for c in out.columns if c != "market"]]]
