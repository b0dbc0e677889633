"""Where a site build gets its bars and real liquidations from."""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..escape import slug
from ..estimate import ClusterEstimate
from ..events import undercount_notes, validate_events
from ..feeds import completeness_line
from ..market import MarketData, load_sample

SOURCES = ("auto", "sample", "sim", "store")
#: The simulator scenario a default build shows.
DEFAULT_SCENARIO = "grind-and-sweep"
DEFAULT_SEED = 7
#: Length and bar size of the simulated market a default build shows.
SIM_DAYS = 8
SIM_TIMEFRAME = "5min"


@dataclass(frozen=True)
class SimMarket:
    """A built-in simulated market: a scenario at its own price scale and contract kind."""

    symbol: str
    scenario: str
    seed: int
    start_price: float
    tick: float

    @property
    def name(self) -> str:
        return f"Simulated {self.symbol.split(':')[0]}"


#: Built-in simulated markets, by the name ``--markets`` takes. Different price scales
#: (BTC-, ETH- and SOL-like) and one coin-margined (inverse) contract.
SIM_MARKETS: dict[str, SimMarket] = {
    "btc": SimMarket("BTC/USDT:USDT", DEFAULT_SCENARIO, DEFAULT_SEED, 62_000.0, 0.1),
    "eth": SimMarket("ETH/USDT:USDT", "long-squeeze", 11, 3_100.0, 0.01),
    "sol": SimMarket("SOL/USDT:USDT", "short-squeeze", 13, 150.0, 0.001),
    "btcusd": SimMarket("BTC/USD:BTC", "calm-range", 17, 62_000.0, 0.5),
}
#: The markets a default ``liqwidget site build`` publishes.
DEFAULT_MARKETS = ("btc", "eth")


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
    key: str = field(default="")  # the market's section on the site, e.g. "btc-usdt"

    @property
    def section(self) -> str:
        """URL name of the market's section: ``key``, else made from ``name``."""
        return self.key or slug(self.name.removeprefix("Simulated ").split(":")[0])

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
        return _load_sim(SimMarket("BTC/USDT:USDT", scenario, seed, 62_000.0, 0.1))
    return _load_store(store_path, symbol, exchange)


def load_markets(
    source: str = "auto",
    *,
    markets: Sequence[str] = DEFAULT_MARKETS,
    scenario: str | None = None,
    store_path: str | None = None,
    symbols: Sequence[str] | None = None,
) -> list[Dataset]:
    """Several markets for one site: built-in simulated ones by name (see
    :data:`SIM_MARKETS`; ``scenario`` replaces each one's scenario), or every base coin in
    the store (``symbols`` to choose), each aggregated over the exchanges that have it."""
    if source == "auto":
        source = "sim" if simulator_available() else "sample"
    if source == "sim":
        unknown = [m for m in markets if m not in SIM_MARKETS]
        if unknown or not markets:
            raise ValueError(
                f"unknown simulated market(s) {unknown}; choose from {', '.join(SIM_MARKETS)}"
            )
        return [load_sim_market(m, scenario) for m in dict.fromkeys(markets)]
    if source == "store":
        return _load_store_markets(store_path, symbols)
    return [load_source(source)]


def load_sim_market(name: str, scenario: str | None = None) -> Dataset:
    """One built-in simulated market (``scenario`` replaces its own)."""
    spec = SIM_MARKETS[name]
    if scenario is not None:
        spec = SimMarket(spec.symbol, scenario, spec.seed, spec.start_price, spec.tick)
    return _load_sim(spec)


def _load_sim(spec: SimMarket) -> Dataset:
    if not simulator_available():
        raise RuntimeError(
            "the simulator (liqwidget.simulator) is not available in this install; "
            "use --source sample"
        )
    from ..simulator import simulate  # type: ignore[attr-defined]

    result = simulate(
        scenario=spec.scenario,
        seed=spec.seed,
        timeframe=SIM_TIMEFRAME,
        days=SIM_DAYS,
        symbol=spec.symbol,
        start_price=spec.start_price,
        tick=spec.tick,
    )
    kind = "a coin-margined (inverse) contract" if "USD:" in spec.symbol else "a linear contract"
    return Dataset(
        market=result.market,
        liquidations=validate_events(result.liquidations),
        name=spec.name,
        origin=(
            f"the built-in market simulator, {spec.symbol} ({kind}), scenario “{spec.scenario}” "
            f"(seed {spec.seed}, {SIM_DAYS} days of {SIM_TIMEFRAME} bars), where every "
            "position and every liquidation is known"
        ),
        simulated=True,
        truth=result.truth_estimate(),
    )


def _existing_store(store_path: str | None) -> str:
    """The store to read (``--store``, else the default); a missing file is an error, not
    a new empty store."""
    from ..store import default_location, is_url

    target = store_path or default_location()
    if is_url(target):
        return target
    path = Path(target).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"no store at {path}; record or fetch data into it first (see `liqwidget --help`), "
            "pass --store FILE or URL, or build from built-in data with --source sim"
        )
    return str(path)


def _load_store(store_path: str | None, symbol: str | None, exchange: str | None) -> Dataset:
    from ..store import Store

    target = _existing_store(store_path)
    with Store(target) as store:
        series = store.series()
        if symbol is not None:
            series = series[series["symbol"] == symbol]
        if exchange is not None:
            series = series[series["exchange"] == exchange]
        if series.empty:
            which = " ".join(x for x in (exchange, symbol) if x)
            raise ValueError(
                f"the store at {store.location} holds no bars"
                + (f" for {which}" if which else "")
                + "; record or fetch some first (see `liqwidget --help`), or use --source sim"
            )
        row = series.sort_values("bars", ascending=False).iloc[0]
        market = store.load_market(row["exchange"], row["symbol"], row["timeframe"])
        liq = store.load_liquidations(row["exchange"], row["symbol"])
    events = validate_events(liq) if len(liq) else None
    # Published on the site: where the store lives on this machine is nobody's business.
    origin = f"recorded by liqwidget from {row['exchange']}"
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


def _load_store_markets(store_path: str | None, symbols: Sequence[str] | None) -> list[Dataset]:
    """One dataset per base coin in the store, aggregated over every exchange and symbol
    (linear and inverse) that holds it at the coin's main timeframe."""
    from ..store import Store
    from ..venues import Venue

    out = []
    with Store(_existing_store(store_path)) as store:
        series = store.series()
        if symbols:
            series = series[series["symbol"].isin(list(symbols))]
        if series.empty:
            raise ValueError(
                f"the store at {store.location} holds no bars"
                + (f" for {', '.join(symbols)}" if symbols else "")
                + "; record or fetch some first (see `liqwidget --help`), or use --source sim"
            )
        series = series.assign(base=series["symbol"].str.split("/").str[0])
        series = series.sort_values("bars", ascending=False, kind="stable")
        for base, group in series.groupby("base", sort=True):
            tf = group["timeframe"].iloc[0]
            rows = group[group["timeframe"] == tf]
            pairs = list(zip(rows["exchange"], rows["symbol"], strict=True))
            market = store.load_market(pairs, None, tf)
            liq = store.load_liquidations(pairs)
            events = validate_events(liq) if len(liq) else None
            venues = market.venues or (Venue(*pairs[0]),)
            many = len(pairs) > 1
            origin = "recorded by liqwidget: " + ", ".join(f"{e} {s}" for e, s in pairs)
            if many:
                origin += (
                    " (open interest summed in USD; "
                    + completeness_line(v.exchange for v in venues)
                    + ")"
                )
            elif events is not None and undercount_notes(events):
                origin += " (note: " + "; ".join(undercount_notes(events)) + ")"
            out.append(
                Dataset(
                    market=market,
                    liquidations=events,
                    name=f"{base} aggregated" if many else str(pairs[0][1]).split(":")[0],
                    origin=origin,
                    simulated=False,
                    key=slug(str(base)),
                )
            )
    return out
