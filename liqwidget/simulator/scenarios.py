"""Named teaching scenarios: the knobs of one simulated market, and the phases it goes through.

A scenario is plain data. Its ``phases`` move a slowly drifting *anchor* that price is pulled
towards; a short phase with a large move is a shock. Everything else (volatility regimes,
how many traders open positions, how much leverage they take, which side they prefer, how
much a liquidation pushes price) is a field with a default that can be overridden in
:func:`liqwidget.simulator` (``simulate("calm-range", depth=5e7)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The leverage mix of the simulated traders unless a scenario says otherwise. It is the
#: simulator's own "true" market and deliberately independent of the model's prior
#: (``liqwidget.leverage.DEFAULT_LEVERAGE``), so matching the model to it is a choice.
TRUE_LEVERAGE: dict[float, float] = {3: 0.08, 5: 0.17, 10: 0.30, 20: 0.20, 50: 0.15, 100: 0.10}


@dataclass(frozen=True)
class Phase:
    """A stretch of the scenario, measured from the first reported bar.

    ``hours`` long; the anchor moves by the fraction ``move`` over it (``-0.02`` = 2 % down),
    volatility is scaled by ``vol``, the share of new positions that are long is
    ``long_share`` (``None``: the scenario's default) and the rate of new positions is scaled
    by ``activity``.
    """

    hours: float
    move: float = 0.0
    vol: float = 1.0
    long_share: float | None = None
    activity: float = 1.0


@dataclass(frozen=True)
class Scenario:
    """Every parameter of a simulated market (see the field comments for units)."""

    name: str
    description: str
    phases: tuple[Phase, ...] = (Phase(72.0),)
    days: float = 3.0  # reported length; the last phase is stretched or cut to fit
    warmup_days: float = 1.0  # simulated before the first bar so the book starts full
    start: str = "2026-06-01T00:00Z"  # UTC (liqwidget.times: a zone is required)
    start_price: float = 62_000.0
    tick: float = 0.1  # price increment (quote); prices and liquidation levels sit on ticks
    daily_vol: float = 0.022  # volatility of the background price noise, per day
    regimes: tuple[tuple[float, float], ...] = ((0.6, 6.0), (1.0, 8.0), (1.8, 2.0))
    # ^ volatility regimes as (multiplier, mean duration in hours); the chain hops at random
    reversion_hours: float = 4.0  # half-life of the pull of price towards the anchor
    opens_per_minute: float = 60.0  # mean number of positions opened per minute
    median_notional: float = 8_000.0  # quote notional of the median position
    notional_sigma: float = 1.1  # log-normal spread of position sizes
    hold_hours: float = 10.0  # mean time until a voluntary close (exponential)
    leverage: dict[float, float] = field(default_factory=lambda: dict(TRUE_LEVERAGE))
    long_share: float = 0.5  # default share of new positions that are long
    feedback: bool = True  # liquidations act as market orders that move price
    depth: float = 1.5e8  # quote notional of forced orders that moves price by 1 %
    permanent: float = 0.5  # share of a forced move that also shifts the anchor
    background_volume: float = 1.0  # non-position taker volume, relative to position flow
    formula: str = "simple"  # liquidation formula, see liqwidget.margin
    mmr: float = 0.005  # maintenance-margin rate (formulas without brackets)
    symbol: str = "BTC/USDT:USDT"  # ccxt symbol; settled in its base coin = inverse contract


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="calm-range",
            description=(
                "Three quiet days ranging around 62,000 with balanced longs and shorts: "
                "clusters build on both sides and only the nearest ones get tagged."
            ),
            phases=(Phase(72.0, vol=0.8),),
            regimes=((0.6, 8.0), (1.0, 6.0), (1.4, 1.0)),
            reversion_hours=2.0,
        ),
        Scenario(
            name="long-squeeze",
            description=(
                "Longs crowd into a slow two-day rally, then a sell-off trips their stops "
                "and forced selling cascades price several percent lower."
            ),
            phases=(
                Phase(44.0, move=0.035, vol=0.7, long_share=0.66),
                Phase(0.25, move=-0.03, vol=1.5, long_share=0.5),
                Phase(27.75, move=0.0, vol=1.0, long_share=0.45),
            ),
            long_share=0.55,
            depth=3.0e7,
            permanent=0.8,
        ),
        Scenario(
            name="short-squeeze",
            description=(
                "Shorts pile into a slow two-day decline, then a bounce liquidates them and "
                "forced buying squeezes price sharply higher."
            ),
            phases=(
                Phase(44.0, move=-0.035, vol=0.7, long_share=0.34),
                Phase(0.25, move=0.03, vol=1.5, long_share=0.5),
                Phase(27.75, move=0.0, vol=1.0, long_share=0.55),
            ),
            long_share=0.45,
            depth=3.0e7,
            permanent=0.8,
        ),
        Scenario(
            name="grind-and-sweep",
            description=(
                "A day of range trading stacks a dense band of long levels below price; "
                "price then grinds down into it and a fast sweep clears it before bouncing."
            ),
            phases=(
                Phase(26.0, vol=0.6, long_share=0.64),
                Phase(22.0, move=-0.02, vol=0.5, long_share=0.55, activity=0.7),
                Phase(0.5, move=-0.035, vol=1.5, long_share=0.5),
                Phase(5.0, move=0.04, vol=1.0, long_share=0.5),
                Phase(18.5, vol=0.8),
            ),
            long_share=0.6,
            reversion_hours=2.0,
            depth=5.0e7,
            permanent=0.3,
        ),
    )
}


def get_scenario(name: str) -> Scenario:
    """The named scenario; unknown names raise an error listing the valid ones."""
    if isinstance(name, Scenario):
        return name
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; choose one of {sorted(SCENARIOS)}") from None
