"""The two sides of a position, named once: longs are liquidated below price, shorts above."""

from __future__ import annotations

import numpy as np

#: Position sides, in the order every per-side array and table of liqwidget uses.
SIDES: tuple[str, str] = ("long", "short")


def side_sign(side) -> np.ndarray:
    """+1 for long, -1 for short; accepts 'long'/'short', +1/-1 or booleans (True = long)."""
    arr = np.asarray(side)
    if arr.dtype.kind == "O" and arr.size and all(isinstance(x, str) for x in arr.ravel()):
        arr = arr.astype(str)
    if arr.dtype.kind in "US":
        low = np.char.lower(arr.astype(str))
        ok = np.isin(low, ["long", "short", "buy", "sell"])
        if not ok.all():
            bad = arr.ravel()[np.flatnonzero(~ok.ravel())[0]]
            raise ValueError(f"unknown side {bad!r}; use 'long' or 'short'")
        return np.where(np.isin(low, ["long", "buy"]), 1.0, -1.0)
    if arr.dtype == bool:
        return np.where(arr, 1.0, -1.0)
    num = arr.astype("float64")
    if not np.isin(num, [1.0, -1.0]).all():
        raise ValueError("numeric sides must be +1 (long) or -1 (short)")
    return num
