"""First-passage times: the first bar at which price reaches a level, for many levels at once."""

from __future__ import annotations

import numpy as np


class FirstPassage:
    """Answers "first bar ``t >= start`` with ``low[t] <= level``" (or ``high[t] >= level``).

    A sparse table of range minima (maxima) over the bars is built once; each query then
    descends it in ``log2(n)`` vectorised steps, so millions of levels cost a few numpy
    passes instead of a Python loop. The table is float32 rounded towards the safe side
    (minima down), which can only make a query stop early; such stops are checked against
    the exact float64 prices and resumed, so answers are exact. Bars never reached: ``n``.
    """

    def __init__(self, values: np.ndarray, kind: str):
        if kind not in ("below", "above"):
            raise ValueError("kind must be 'below' (lows) or 'above' (highs)")
        sign = 1.0 if kind == "below" else -1.0
        v = sign * np.asarray(values, dtype="float64")
        n = v.size
        self.n, self.sign, self.exact = n, sign, np.append(v, np.inf)
        low32 = v.astype("float32")
        over = low32.astype("float64") > v
        low32[over] = np.nextafter(low32[over], np.float32(-np.inf))
        levels = max(1, int(np.ceil(np.log2(n + 1))))
        table = np.empty((levels, n + 1), dtype="float32")
        table[0, :n] = low32
        table[0, n] = np.inf
        for j in range(1, levels):
            step = 1 << (j - 1)
            table[j, : n + 1 - step] = np.minimum(table[j - 1, : n + 1 - step], table[j - 1, step:])
            table[j, n + 1 - step :] = table[j - 1, n + 1 - step :]
        self.table = table

    def find(self, start: np.ndarray, level: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
        """Per query: first bar ``>= start`` whose price reaches ``level``; ``n`` if none."""
        start = np.minimum(np.asarray(start, dtype="int64"), self.n)
        thr = self.sign * np.asarray(level, dtype="float64")
        out = np.empty(start.size, dtype="int64")
        # Chunks keep each step's working set in cache.
        for a in range(0, start.size, chunk):
            out[a : a + chunk] = self._exact(start[a : a + chunk], thr[a : a + chunk])
        return out

    def _exact(self, start: np.ndarray, thr: np.ndarray) -> np.ndarray:
        pos = self._descend(start.copy(), thr)
        while True:
            # A float32 minimum can sit a hair below the exact one: resume past false stops.
            false = (pos < self.n) & (self.exact[pos] > thr)
            if not false.any():
                return pos
            pos[false] = self._descend(pos[false] + 1, thr[false])

    def _descend(self, pos: np.ndarray, thr: np.ndarray) -> np.ndarray:
        n = self.n
        thr32 = thr.astype("float32")
        # Round thresholds up so "block min > thr" in float32 implies it in float64.
        below = thr32.astype("float64") < thr
        thr32[below] = np.nextafter(thr32[below], np.float32(np.inf))
        for j in range(self.table.shape[0] - 1, -1, -1):
            pos += (self.table[j][pos] > thr32) << j
            np.minimum(pos, n, out=pos)
        return pos
