"""Numbers as people read them: one style for money, prices, percentages and times, used by
the map's notes, the command line, the site's tables and the generated prose."""

from __future__ import annotations

import pandas as pd


def money(x: float) -> str:
    """Quote notional in short form: $1.23 B, $45.6 M, $820 K."""
    a = abs(x)
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if a >= div:
            v = x / div
            return (
                f"${v:,.2f} {unit}"
                if abs(v) < 10
                else f"${v:,.1f} {unit}"
                if abs(v) < 100
                else f"${v:,.0f} {unit}"
            )
    return f"${x:,.0f}"


def price(x: float) -> str:
    """A price with thousands separators and sensible precision."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:,.2f}" if abs(x) >= 1 else f"{x:.5f}"


def pct(x: float, signed: bool = False) -> str:
    """A fraction as a percentage: 0.0234 → '2.3 %'."""
    return f"{x * 100:+.1f} %" if signed else f"{abs(x) * 100:.1f} %"


def when(t: pd.Timestamp) -> str:
    """'25 Nov 2026, 12:00 UTC'."""
    return f"{t.day} {t:%b %Y, %H:%M} UTC"


def span(t) -> str:
    """A duration in words: '6 h', '1.5 h', '1 day', '2 days', '45 min'."""
    td = pd.Timedelta(t)
    hours = td / pd.Timedelta("1h")
    if hours >= 24 and hours % 24 == 0:
        days = int(hours // 24)
        return f"{days} day{'s' if days > 1 else ''}"
    if hours >= 1:
        return f"{round(hours, 1):g} h"
    return f"{round(td / pd.Timedelta('1min')):g} min"
