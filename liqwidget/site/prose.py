"""Plain-language commentary generated from a snapshot's key numbers.

Every sentence is chosen by the situation (which side is heavier, how close the nearest band
is, what was swept, whether the model beats its baselines); where several wordings fit, one is
picked deterministically from the numbers so that rebuilding gives the same text.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

from ..calibration import MIN_EVENTS
from ..escape import md_text
from ..fmt import money, pct, price, span, when
from .accuracy import Accuracy
from .mix import NO_EVENTS, TOO_FEW, UNFIT, Mix
from .numbers import Cluster, KeyNumbers

SIDE_WORD = {"long": "long", "short": "short"}
FLOW = {"long": "forced selling", "short": "forced buying"}
WHERE = {"long": "below", "short": "above"}
#: Below this ratio of nearby long to short notional (or back), the sides count as even.
BALANCED = 1.25


class Writer:
    """Picks among equivalent phrasings with a seed derived from the numbers."""

    def __init__(self, numbers: KeyNumbers):
        key = f"{numbers.time.isoformat()}|{numbers.price:.2f}|{numbers.near}"
        self.rng = random.Random(int(hashlib.sha256(key.encode()).hexdigest()[:12], 16))
        self.used: dict[str, int] = {}

    def pick(self, options: Sequence[str], slot: str | None = None) -> str:
        """One of ``options``; within a ``slot``, never the same choice twice in a row."""
        i = self.rng.randrange(len(options))
        if slot is not None:
            if len(options) > 1 and self.used.get(slot) == i:
                i = (i + 1) % len(options)
            self.used[slot] = i
        return options[i]


def _band(c: Cluster) -> str:
    return f"{price(c.price)} ({pct(c.distance)} {WHERE[c.side]})"


def _reach(distance: float) -> str:
    """How far away a band is, in words."""
    d = abs(distance)
    if d < 0.01:
        return "close enough that an ordinary intraday swing reaches it"
    if d < 0.03:
        return "within the range of a busy day"
    if d < 0.07:
        return "a few days' move away at typical volatility"
    return "far from the current price"


def headline(k: KeyNumbers, name: str) -> str:
    """One-line title of the post."""
    return f"{name} liquidation map, {when(k.time)}"


def lead(k: KeyNumbers, name: str, w: Writer) -> str:
    """The opening paragraph (also the excerpt shown on the blog index and in the feed)."""
    heavy = k.fuel_side
    light = "short" if heavy == "long" else "long"
    h5, l5 = k.near[heavy][0.05], k.near[light][0.05]
    ratio = k.fuel_ratio
    opening = w.pick(
        [
            f"At {when(k.time)}, {name} stood at {price(k.price)}.",
            f"{name} closed the {k.time:%H:%M} UTC bar on {k.time.day} {k.time:%B} at {price(k.price)}.",
            f"This snapshot was taken at {when(k.time)}, with {name} at {price(k.price)}.",
        ]
    )
    if h5 <= 0 and l5 <= 0:
        balance = (
            "The model sees almost nothing stacked within 5 % of price on either side, "
            "so there is little nearby fuel for a cascade in either direction."
        )
    elif l5 <= 0:
        balance = (
            f"Within 5 % of price the estimate holds {money(h5)} of {heavy} liquidations "
            f"{WHERE[heavy]} and essentially no {light} levels {WHERE[light]}: the book is one-sided."
        )
    elif ratio >= 2:
        balance = w.pick(
            [
                f"The book is lopsided: about {money(h5)} of {heavy} liquidations sit within 5 % "
                f"{WHERE[heavy]} price, {ratio:.1f} times the {money(l5)} of {light} levels {WHERE[light]}.",
                f"Most of the nearby fuel is on the {heavy} side — {money(h5)} within 5 % "
                f"{WHERE[heavy]}, against {money(l5)} of {light} levels {WHERE[light]} "
                f"({ratio:.1f} to 1).",
            ]
        )
    elif ratio >= BALANCED:
        balance = w.pick(
            [
                f"The estimate leans {heavy}: {money(h5)} of {heavy} levels within 5 % "
                f"{WHERE[heavy]} versus {money(l5)} of {light} levels {WHERE[light]}.",
                f"Nearby, the {heavy} side carries more: {money(h5)} within 5 % {WHERE[heavy]} "
                f"price compared with {money(l5)} {WHERE[light]}.",
            ]
        )
    else:
        balance = w.pick(
            [
                f"The two sides are roughly balanced within 5 % of price ({money(k.near['long'][0.05])} "
                f"of longs below, {money(k.near['short'][0.05])} of shorts above).",
                f"Neither side dominates: {money(k.near['long'][0.05])} of long levels below and "
                f"{money(k.near['short'][0.05])} of short levels above, all within 5 %.",
            ]
        )
    return f"{opening} {balance}{_headline_event(k, w)}"


def _headline_event(k: KeyNumbers, w: Writer) -> str:
    """One more sentence for the excerpt when something stands out: a sweep or a close band."""
    swept = k.swept["long"] + k.swept["short"]
    nearby = k.near["long"][0.05] + k.near["short"][0.05]
    if k.prev_time is not None and k.change is not None and swept > 0.2 * max(nearby, 1.0):
        side = "long" if k.swept["long"] >= k.swept["short"] else "short"
        move = (
            f"dip to {price(k.low_since)}" if side == "long" else f"push to {price(k.high_since)}"
        )
        return " " + w.pick(
            [
                f"Since the previous snapshot a {move} swept about {money(k.swept[side])} of "
                f"{side} levels.",
                f"The {move} since the last snapshot consumed roughly {money(k.swept[side])} of "
                f"estimated {side} liquidations.",
            ]
        )
    close = [c for c in (k.nearest("long"), k.nearest("short")) if c and abs(c.distance) < 0.015]
    if close:
        c = min(close, key=lambda c: abs(c.distance))
        return " " + w.pick(
            [
                f"The band to watch is a {c.side} cluster just {pct(c.distance)} {WHERE[c.side]}, "
                f"near {price(c.price)}.",
                f"Closest to price: about {money(c.notional)} of {c.side} levels near "
                f"{price(c.price)}, {pct(c.distance)} {WHERE[c.side]}.",
            ]
        )
    return ""


def magnets(k: KeyNumbers, w: Writer) -> str:
    """Where the largest and nearest bands are, and what they mean."""
    parts = []
    for side in ("short", "long"):
        big, near = k.largest(side), k.nearest(side)
        if big is None:
            parts.append(
                f"There is no notable {side} band {WHERE[side]} price in the examined range "
                f"(±15 %), so {'rallies' if side == 'short' else 'drops'} have no obvious "
                f"pool of {FLOW[side]} to run into."
            )
            continue
        role = "resistance" if side == "short" else "support"
        s = w.pick(
            slot="largest",
            options=[
                f"The largest {side} cluster is near {_band(big)}, about {money(big.notional)}.",
                f"The heaviest {side} band sits around {_band(big)} and holds roughly "
                f"{money(big.notional)}.",
            ],
        )
        if near is not None and near is not big:
            s += (
                f" A closer one, near {_band(near)} with {money(near.notional)}, is "
                f"{_reach(near.distance)}."
            )
        else:
            s += f" It is also the nearest notable band, {_reach(big.distance)}."
        nearest = near or big
        if abs(nearest.distance) < 0.03:
            s += " " + w.pick(
                slot="magnet",
                options=[
                    f"Bands like this tend to pull price toward them, because the {FLOW[side]} "
                    "they would trigger is liquidity that larger traders can use.",
                    f"A band this close works as a magnet: reaching it releases {FLOW[side]}, "
                    "which is exactly the flow large orders look for.",
                ],
            )
        else:
            s += " " + w.pick(
                slot="distant",
                options=[
                    f"Until price gets closer it is better read as soft {role} on the map than "
                    "as a target.",
                    f"At that distance it matters mainly as a marker of where {role} would "
                    "turn into a cascade, not as an imminent target.",
                ],
            )
        parts.append(s)
    return "\n\n".join(parts)


def swept(k: KeyNumbers, w: Writer) -> str:
    """What happened since the previous snapshot."""
    if k.prev_time is None or k.change is None:
        return (
            "This is the first snapshot of the series, so there is no earlier map to compare "
            "with; the next post will report what this one's bands turned into."
        )
    move = k.change
    direction = (
        f"rose {pct(move)}" if move > 0 else f"fell {pct(move)}" if move < 0 else "ended flat"
    )
    rng = f"trading between {price(k.low_since)} and {price(k.high_since)}"
    first = w.pick(
        [
            f"Since the previous snapshot ({when(k.prev_time)}) price {direction}, {rng}.",
            f"Over the {_hours(k)} since {when(k.prev_time)}, price {direction} after {rng}.",
        ]
    )
    sl, ss = k.swept["long"], k.swept["short"]
    if sl <= 0 and ss <= 0:
        second = w.pick(
            [
                "No estimated level was reached in that time: nothing was swept, and every band "
                "on the previous map is still in place.",
                "The move never touched an estimated level, so the earlier bands are all still "
                "standing.",
            ]
        )
    elif sl > 0 and ss > 0 and min(sl, ss) > 0.25 * max(sl, ss):
        second = w.pick(
            [
                f"Both sides were hit: the model counts about {money(sl)} of long levels and "
                f"{money(ss)} of short levels consumed, the signature of a choppy range that "
                "wicked into both books.",
                f"Price swung far enough to clear levels on both sides — roughly {money(sl)} of "
                f"longs below and {money(ss)} of shorts above were consumed in the model.",
            ]
        )
    else:
        side = "long" if sl >= ss else "short"
        amount = max(sl, ss)
        other = min(sl, ss)
        into = "dropped into them" if side == "long" else "pushed up into them"
        rest = f" (only {money(other)} on the other side)" if other > 0 else ""
        second = w.pick(
            [
                f"The sweep was one-sided: about {money(amount)} of {side} levels were "
                f"consumed{rest}, meaning {FLOW[side]} was released as price {into}.",
                f"Only one book really got used: an estimated {money(amount)} of {side} "
                f"liquidations fired{rest} as price {into}, adding {FLOW[side]} to the move.",
            ]
        )
    if k.consumed:
        big = k.consumed[0]
        more = len(k.consumed) - 1
        third = (
            f" The biggest band that disappeared was the {big.side} cluster near "
            f"{price(big.price)} (about {money(big.notional)} at the previous snapshot)"
            + (f", along with {more} smaller one{'s' if more > 1 else ''}" if more else "")
            + ". "
            + w.pick(
                [
                    "A band that has been swept is empty on the way back: it no longer attracts "
                    "price or cushions it.",
                    "Those positions are gone, so if price returns to that level it will find "
                    "no forced orders waiting there.",
                    "Swept bands do not refill by themselves; only new positions opened nearby "
                    "can rebuild them.",
                ]
            )
        )
    else:
        third = ""
    return f"{first} {second}{third}"


def _hours(k: KeyNumbers) -> str:
    h = (k.time - k.prev_time).total_seconds() / 3600
    return f"{h:.0f} hours" if h != 1 else "hour"


def _some(amount: float, side: str) -> str:
    return f"{money(amount)} of {side} levels" if amount > 0 else f"no {side} levels"


def loaded(k: KeyNumbers, w: Writer) -> str:
    """What is still stacked close to price, and which way a cascade would run."""
    l2, s2 = k.near["long"][0.02], k.near["short"][0.02]
    l5, s5 = k.near["long"][0.05], k.near["short"][0.05]
    s = w.pick(
        [
            f"Within 2 % of price the estimate holds {_some(l2, 'long')} below and "
            f"{_some(s2, 'short')} above; widening to 5 % gives {money(l5)} and {money(s5)}.",
            f"Close in (±2 %) the model sees {_some(l2, 'long')} under price and "
            f"{_some(s2, 'short')} over it; out to ±5 % the totals are {money(l5)} of longs "
            f"and {money(s5)} of shorts.",
        ]
    )
    heavy = k.fuel_side
    if max(l5, s5) <= 0:
        return s + " With so little nearby, a move in either direction has little to feed on."
    if k.fuel_ratio >= BALANCED:
        if heavy == "long":
            s += " " + w.pick(
                [
                    "More cascade fuel lies below: if price slips into the long bands, each "
                    "liquidation is a market sell that can push price into the next level.",
                    "The downside carries more fuel. A drop into the long levels would turn "
                    "into forced selling that may feed on itself until the bands are used up.",
                ]
            )
        else:
            s += " " + w.pick(
                [
                    "More cascade fuel lies above: a push into the short bands would trigger "
                    "forced buying, the raw material of a short squeeze.",
                    "The upside carries more fuel. Shorts liquidated on a rally buy back at "
                    "market, which can lift price into the next band.",
                ]
            )
    else:
        s += " Neither side clearly dominates, so the map gives no strong directional hint."
    if l2 <= 0 < s2:
        s += " Just below price the long book is empty — recent lows already cleared it."
    elif s2 <= 0 < l2:
        s += " Just above price the short book is empty — recent highs already cleared it."
    return s


def trust(acc: Accuracy | None, simulated: bool, w: Writer, method_link: str) -> str:
    """The caveat and the measured accuracy."""
    caveat = w.pick(
        [
            "Remember what this map is: an estimate built from open-interest changes and an "
            "assumed spread of leverage, not a list of real orders. Exchanges do not publish "
            "where positions would be liquidated.",
            "The cluster layer is a model's guess, made from open-interest changes and an "
            "assumed leverage mix; it is a map of where liquidations are likely, not a ledger "
            "of actual positions.",
        ]
    )
    if acc is None:
        score = (
            "This market has no recorded liquidation events to check the estimate against, so "
            "its accuracy here is unmeasured; see the [model explainer]"
            f"({method_link}) for how the model is scored where the truth is known."
        )
        return f"{caveat} {score}"
    truth = "the simulator's true liquidations" if simulated else "recorded liquidations"
    sides = acc.sides
    names = " and ".join(f"{x.side}s" for x in sides)

    def each(values: list[str]) -> str:
        return values[0] if len(values) == 1 else " and ".join(values)

    stretch = (
        f"{acc.bars:,} bars up to this snapshot"
        if acc.since is None
        else f"the {acc.bars:,} bars of this map's window, which its leverage mix never saw"
    )
    timing = (
        f"Checked against {truth} ({acc.events:,} events over {stretch}), the estimate's swept notional per bar ranks with the real liquidations "
        f"at a Spearman correlation of {each([f'{x.spearman:.2f}' for x in sides])} "
        f"({names}), and {each([pct(x.precision) for x in sides])} of its top-decile bars were "
        f"top-decile liquidation bars too (95 % intervals "
        f"{each([f'{pct(x.low)}–{pct(x.high)}' for x in sides])}; random picks score 10 %)."
    )
    beaten = [x for x in sides if x.beats_baseline]
    if len({x.baseline for x in sides}) == 1:
        scores = ", ".join(f"{x.baseline_spearman:.2f} for {x.side}s" for x in sides)
        best = f"{sides[0].baseline} ({scores})"
    else:
        best = each([f"{x.baseline} ({x.baseline_spearman:.2f} for {x.side}s)" for x in sides])
    if len(beaten) == len(sides):
        verdict = w.pick(
            [
                f" That beats the strongest naive baseline, {best}.",
                f" No naive rule does as well: the best one, {best}, trails it.",
            ]
        )
    else:
        verdict = "".join(
            f" On the {x.side} side it does **not** beat the naive baseline {x.baseline} "
            f"({x.baseline_spearman:.2f}): there the timing signal is no better than watching "
            "volatility."
            for x in sides
            if not x.beats_baseline
        )
    where = _where_text(sides, acc.horizon, method_link, each)
    return caveat + " " + timing + verdict + where


def _quoted(sides, attr: str) -> tuple[list, str]:
    """The sides whose ``attr`` where-score may be quoted, and a sentence for the ones the
    true book does not validate on this stretch (left out)."""
    scored = [x for x in sides if getattr(x, attr) is not None]
    left = [x for x in scored if getattr(x, attr).validated is False]
    note = "".join(
        f" On the {x.side} side even the true book does not beat {getattr(x, attr).baseline} "
        "on this stretch, so that score says nothing about the map and is left out."
        for x in left
    )
    return [x for x in scored if x not in left], note


def _ceiling(scores, each) -> str:
    """ "the true book: …; " when the true book's scores are known."""
    if not scores or any(w.oracle is None for w in scores):
        return ""
    return f"the true book: {each([pct(w.oracle) for w in scores])}; "


def _where_text(sides, horizon: str, method_link: str, each) -> str:
    """Where the liquidations happened: the two "where" scores, if measured, quoted only
    where the true book validates them (when it is known)."""
    out = ""
    given, left_given = _quoted(sides, "given")
    if given:
        scores = [x.given for x in given]
        out += (
            " As for where: cutting the range each hour actually traded through into up to ten "
            f"bands, the band the map showed densest held {each([pct(w.model) for w in scores])} "
            f"of the {' and '.join(x.side for x in given)} liquidation notional "
            f"({_ceiling(scores, each)}best naive rule: "
            f"{each([f'{w.baseline} {pct(w.baseline_value)}' for w in scores])})."
        )
        out += "".join(
            f" On the {x.side} side that is **no better** than {x.given.baseline}."
            for x in given
            if not x.given.beats_baseline
        )
    out += left_given
    fc, left_fc = _quoted(sides, "forecast")
    if fc:
        scores = [x.forecast for x in fc]
        out += (
            f" Read as a forecast of the next {horizon}, the tenth of bands where it expected "
            f"the most held {each([pct(w.model) for w in scores])} of what was then "
            f"liquidated ({_ceiling(scores, each)}best naive rule: "
            f"{each([f'{w.baseline} {pct(w.baseline_value)}' for w in scores])}; "
            "random bands 10 %)."
        )
        out += "".join(
            f" On the {x.side} side the forecast does **not** beat {x.forecast.baseline}."
            for x in fc
            if not x.forecast.beats_baseline
        )
    out += left_fc
    if given or fc:
        out += (
            " On the simulator, where every position is known, the true book scored the same "
            f"way sets the ceiling for these numbers (see the [model explainer]({method_link}))."
        )
    return out


def _tiers(tiers) -> str:
    names = [f"{k:g}×" for k in tiers]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def mix_text(mix: Mix | None) -> str:
    """Which leverage mix drew the Clusters layer, and why (empty without ``--calibrate``)."""
    if mix is None:
        return ""
    if mix.learned:
        heavy = sorted(mix.identified, key=lambda k: -mix.leverage[k])[:3]
        shares = ", ".join(f"{k:g}× {pct(mix.leverage[k])}" for k in heavy if mix.leverage[k])
        return (
            f"The Clusters layer uses a leverage mix learned from {mix.events:,} liquidations "
            f"recorded before this window (tiers the data pinned down: {_tiers(mix.identified)}"
            + (f"; the largest shares: {shares}" if shares else "")
            + "; the other tiers keep their starting weight"
            + (
                f"; positions are taken to close and reopen with a half-life of "
                f"{span(mix.model.turnover)})."
                if mix.model.turnover is not None
                else ")."
            )
        )
    head = "The Clusters layer uses the model's prior leverage mix"
    n = mix.events
    if mix.reason == NO_EVENTS:
        why = "this market has no recorded liquidations to learn one from"
    elif mix.reason == TOO_FEW and n == 0:
        why = "no liquidations were recorded before this window, so there is nothing to learn from"
    elif mix.reason == TOO_FEW:
        why = (
            f"only {n:,} liquidation{'s were' if n > 1 else ' was'} recorded before this "
            f"window, too few (under {MIN_EVENTS}) to learn one"
        )
    elif mix.reason == UNFIT:
        why = (
            f"the {n:,} liquidations recorded before this window could not be fitted ({mix.detail})"
        )
    else:
        why = (
            f"the {n:,} liquidations recorded before this window did not pin down any leverage tier"
        )
    return f"{head}: {why}."


def commentary(
    k: KeyNumbers,
    acc: Accuracy | None,
    *,
    name: str,
    simulated: bool,
    method_link: str,
    mix: Mix | None = None,
) -> dict[str, str]:
    """All prose sections of a snapshot post, keyed by section.

    The sections are Markdown: ``name`` (data) enters them escaped. ``"lead_text"`` is the
    lead as plain text (for the page description, the feed and the JSON numbers file).
    """
    w = Writer(k)
    return {
        "lead": lead(k, md_text(name), w),
        "lead_text": lead(k, name, Writer(k)),
        "magnets": magnets(k, w),
        "swept": swept(k, w),
        "loaded": loaded(k, w),
        "trust": trust(acc, simulated, w, method_link),
        "model": md_text(mix_text(mix)),
    }
