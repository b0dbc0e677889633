"""First-passage times: the first bar at which price reaches a level, for many levels at once."""

from __future__ import annotations

import numpy as np


class FirstPassage:
    """Answers "first bar ``t >= start`` with ``low[t] <= level``" (or ``high[t] >= level``).

    A sparse table of range minima (maxima) over the bars is built once; each query then
    descends it in ``log2(n)`` vectorised steps, so millions of levels cost a few numpy
    passes instead of a Python loop. Bars are never reached: the answer is ``n``.
    """

    def __init__(self, values: np.ndarray, kind: str):
        if kind not in ("below", "above"):
            raise ValueError("kind must be 'below' (lows) or 'above' (highs)")
        sign = 1.0 if kind == "below" else -1.0
        v = sign * np.asarray(values, dtype="float64")
        n = v.size
        self.n, self.sign = n, sign
        levels = max(1, int(np.ceil(np.log2(n + 1))))
        table = np.empty((levels, n + 1))
        table[0, :n] = v
        table[0, n] = np.inf
        idx = np.arange(n + 1)
        for j in range(1, levels):
            step = 1 << (j - 1)
            table[j] = np.minimum(table[j - 1], table[j - 1][np.minimum(idx + step, n)])
        self.table = table

    def find(self, start: np.ndarray, level: np.ndarray) -> np.ndarray:
        """Per query: first bar ``>= start`` whose price reaches ``level``; ``n`` if none."""
        pos = np.minimum(np.asarray(start, dtype="int64"), self.n).copy()
        thr = self.sign * np.asarray(level, dtype="float64")
        n = self.n
        for j in range(self.table.shape[0] - 1, -1, -1):
            jump = self.table[j][pos] > thr
            pos[jump] = np.minimum(pos[jump] + (1 << j), n)
        return pos
