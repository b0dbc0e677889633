"""Colours of the map: cool for long levels (below price), warm for short ones (above).

Each heat layer uses one 256-entry palette indexed by the layer's ``uint8`` code (see
:mod:`liqwidget.figure.data`): entry 0 and 128 are transparent, 1–127 the long ramp and
129–255 the short ramp. The threshold control rebuilds the palette in the browser from the
two ramps, so the ramps are also passed to JavaScript.
"""

from __future__ import annotations

import numpy as np

from .data import LEVELS

TRANSPARENT = "#00000000"
BACKGROUND = "#0b0f1c"

CLUSTER_LONG = ("#0c2a5b", "#1565c0", "#29b6f6", "#b3f0ff", "#ffffff")
CLUSTER_SHORT = ("#4a1206", "#b23c0b", "#f57c00", "#ffc46b", "#fffbe6")
REAL_LONG = ("#5c0a26", "#c2185b", "#ff4f81", "#ffc1d3")
REAL_SHORT = ("#0a4a2e", "#12a05c", "#37f59a", "#c8ffe3")
FORECAST_LONG = ("#2e1065", "#7c3aed", "#c084fc", "#f3e8ff")
FORECAST_SHORT = ("#3f2a00", "#a16207", "#facc15", "#fef9c3")

#: Marker colours for real events (index 0 long, 1 short), matching the real heat layer.
MARKER_COLORS = ("#ff4f81", "#37f59a")
#: Levels bars: long tiers in blues, short tiers in oranges (low → high leverage).
BAR_LONG = ("#0d47a1", "#1976d2", "#42a5f5", "#81d4fa", "#e1f5fe", "#b2ebf2", "#80deea")
BAR_SHORT = ("#bf360c", "#e65100", "#fb8c00", "#ffb74d", "#ffe0b2", "#ffccbc", "#ffab91")


def ramp(
    stops: tuple[str, ...],
    n: int = LEVELS,
    alpha: tuple[float, float] = (0.15, 1.0),
    gamma: float = 1.8,
) -> list[str]:
    """``n`` colours through ``stops``, alpha rising from dim to opaque.

    ``gamma > 1`` keeps most of the ramp dark so only the densest cells turn bright.
    """
    rgb = np.array([[int(s[i : i + 2], 16) for i in (1, 3, 5)] for s in stops], dtype="float64")
    pos = np.linspace(0.0, 1.0, len(stops))
    t = np.linspace(0.0, 1.0, n) ** gamma
    chans = np.stack([np.interp(t, pos, rgb[:, c]) for c in range(3)], axis=1)
    a = np.interp(t, [0.0, 1.0], alpha) * 255
    return [
        f"#{int(r):02x}{int(g):02x}{int(b):02x}{int(x):02x}"
        for (r, g, b), x in zip(np.rint(chans), np.rint(a), strict=True)
    ]


def split_palette(long: list[str], short: list[str]) -> list[str]:
    """The 256-entry palette for a layer code image."""
    return [TRANSPARENT, *long, TRANSPARENT, *short]


def bar_colors(side: str, n: int) -> list[str]:
    base = BAR_LONG if side == "long" else BAR_SHORT
    return [base[i % len(base)] for i in range(n)]


def threshold_palette(long: list[str], short: list[str], threshold: float) -> list[str]:
    """The layer palette with the faintest ``threshold`` share of codes hidden, the rest
    stretched over the whole ramp (the same rule as the threshold slider's JavaScript)."""
    t = min(max(float(threshold), 0.0), 0.99)
    n = len(long)
    pal = [TRANSPARENT] * 256
    for k in range(1, n + 1):
        q = (k - 1) / (n - 1)
        if q < t:
            continue
        j = round((q - t) / (1 - t) * (n - 1))
        pal[k], pal[128 + k] = long[j], short[j]
    return pal
