"""Where a site build gets its bars and real liquidations from."""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..estimate import ClusterEstimate
from ..events import undercount_notes, validate_events
from ..market import MarketData, load_sample

SOURCES = ("auto", "sample", "sim", "store")
#: The simulator scenario a default build shows.
DEFAULT_SCENARIO = "grind-and-sweep"
DEFAULT_SEED = 7
#: Length and bar size of the simulated market a default build shows.
SIM_DAYS = 8
SIM_TIMEFRAME = "5min"


@dataclass(frozen=True, eq=False)
class Dataset:
    """Bars, optional real liquidation events, and how to describe them on the pages."""

    market: MarketData
    liquidations: pd.DataFrame | None
    name: str  # e.g. "BTC/USDT:USDT"
    origin: str  # one sentence on where the data comes from
    simulated: bool
    #: On simulated data: the true book as an estimate, scored as the oracle next to the model.
    truth: ClusterEstimate | None = field(default=None, repr=False)

    @property
    def has_liquidations(self) -> bool:
        return self.liquidations is not None and len(self.liquidations) > 0

    def fingerprint(self) -> str:
        """A digest of the bars and events, used to key the rebuild cache."""
        h = hashlib.sha256()
        h.update(pd.util.hash_pandas_object(self.market.frame, index=True).to_numpy().tobytes())
        if self.liquidations is not None:
            liq = self.liquidations[["time", "side", "price", "notional"]]
            h.update(pd.util.hash_pandas_object(liq, index=False).to_numpy().tobytes())
        h.update(self.name.encode())
        return h.hexdigest()[:20]

    def liquidations_until(self, end: pd.Timestamp) -> pd.DataFrame | None:
        """Real events strictly before ``end`` (what was known at a snapshot)."""
        if self.liquidations is None:
            return None
        liq = self.liquidations
        return liq[liq["time"] < end].reset_index(drop=True)


def simulator_available() -> bool:
    """Whether the simulator (``liqwidget.simulator.simulate``) can be imported."""
    try:
        module = importlib.import_module("liqwidget.simulator")
    except ImportError:
        return False
    return callable(getattr(module, "simulate", None))


def load_source(
    source: str = "auto",
    *,
    scenario: str = DEFAULT_SCENARIO,
    seed: int = DEFAULT_SEED,
    store_path: str | None = None,
    symbol: str | None = None,
    exchange: str | None = None,
) -> Dataset:
    """Load the data a site is built from.

    ``"sim"`` is the built-in simulator (known truth and real liquidation events),
    ``"sample"`` the real Binance sample (no liquidations in it), ``"store"`` the local
    store the recorder fills, and ``"auto"`` the simulator when available, else the sample.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    if source == "auto":
        source = "sim" if simulator_available() else "sample"
    if source == "sample":
        market = load_sample()
        return Dataset(
            market=market,
            liquidations=None,
            name=(market.symbol or "BTC/USDT").split(":")[0],
            origin=(
                "real Binance USDⓈ-M BTCUSDT perpetual 5-minute bars with open interest "
                "(the sample shipped with liqwidget; it holds no liquidation events)"
            ),
            simulated=False,
        )
    if source == "sim":
        return _load_sim(scenario, seed)
    return _load_store(store_path, symbol, exchange)


def _load_sim(scenario: str, seed: int) -> Dataset:
    if not simulator_available():
        raise RuntimeError(
            "the simulator (liqwidget.simulator) is not available in this install; "
            "use --source sample"
        )
    from ..simulator import simulate  # type: ignore[attr-defined]

    result = simulate(scenario=scenario, seed=seed, timeframe=SIM_TIMEFRAME, days=SIM_DAYS)
    market = result.market
    return Dataset(
        market=market,
        liquidations=validate_events(result.liquidations),
        name=f"Simulated {(market.symbol or 'BTC/USDT').split(':')[0]}",
        origin=(
            f"the built-in market simulator, scenario “{scenario}” (seed {seed}, "
            f"{SIM_DAYS} days of {SIM_TIMEFRAME} bars), where every position and every "
            "liquidation is known"
        ),
        simulated=True,
        truth=result.truth_estimate(),
    )


def _load_store(store_path: str | None, symbol: str | None, exchange: str | None) -> Dataset:
    from ..store import Store, default_path

    path = Path(store_path).expanduser() if store_path else default_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"no store at {path}; record or fetch data into it first (see `liqwidget --help`), "
            "pass --store FILE, or build from built-in data with --source sim"
        )
    with Store(path) as store:
        series = store.series()
        if symbol is not None:
            series = series[series["symbol"] == symbol]
        if exchange is not None:
            series = series[series["exchange"] == exchange]
        if series.empty:
            which = " ".join(x for x in (exchange, symbol) if x)
            raise ValueError(
                f"the store at {store.path} holds no bars"
                + (f" for {which}" if which else "")
                + "; record or fetch some first (see `liqwidget --help`), or use --source sim"
            )
        row = series.sort_values("bars", ascending=False).iloc[0]
        market = store.load_market(row["exchange"], row["symbol"], row["timeframe"])
        liq = store.load_liquidations(row["exchange"], row["symbol"])
        path = store.path
    events = validate_events(liq) if len(liq) else None
    origin = f"the local store at {path}, recorded from {row['exchange']}"
    notes = undercount_notes(events) if events is not None else []
    if notes:
        origin += " (note: " + "; ".join(notes) + ")"
    return Dataset(
        market=market,
        liquidations=events,
        name=str(row["symbol"]).split(":")[0],
        origin=origin,
        simulated=False,
    )
