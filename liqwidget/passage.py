"""First-passage times: the first bar at which price reaches a level, for many levels at once."""

from __future__ import annotations

import numpy as np

_BLOCK_BITS = 8
_BLOCK = 1 << _BLOCK_BITS


def _sparse_min(values: np.ndarray, levels: int) -> np.ndarray:
    """``table[j, i] = min(values[i : i + 2**j])``, padded with +inf by ``2**levels``.

    Past the end counts as +inf, and the padding lets a descent step past the end without
    bounds checks.
    """
    n = values.size
    width = n + (1 << levels)
    table = np.full((levels, width), np.inf)
    table[0, :n] = values
    for j in range(1, levels):
        step = 1 << (j - 1)
        np.minimum(table[j - 1, : width - step], table[j - 1, step:], out=table[j, : width - step])
    return table


def _descend(table: np.ndarray, pos: np.ndarray, thr: np.ndarray) -> np.ndarray:
    """Greedy binary-lifting descent: first index ``>= pos`` whose value is ``<= thr``.

    Moves ``pos`` in place by at most ``2**levels - 1`` (the table's padding).
    """
    for j in range(table.shape[0] - 1, -1, -1):
        pos += (table[j][pos] > thr) << j
    return pos


class FirstPassage:
    """Answers "first bar ``t >= start`` with ``low[t] <= level``" (or ``high[t] >= level``).

    Bars are grouped in blocks of 256. A query first checks the rest of its own block (one
    lookup of a per-block suffix minimum); if the level is not reached there, a small
    sparse table over block minima (it stays in cache) finds the first block that reaches
    it, and an 8-step descent of a fine sparse table finds the bar inside that block. Every
    step is one vectorised numpy pass over all queries, so millions of levels cost a few
    dozen passes instead of a Python loop. Levels never reached get ``n``.
    """

    def __init__(self, values: np.ndarray, kind: str):
        if kind not in ("below", "above"):
            raise ValueError("kind must be 'below' (lows) or 'above' (highs)")
        self.sign = 1.0 if kind == "below" else -1.0
        v = self.sign * np.asarray(values, dtype="float64")
        self.n = n = v.size
        nb = max(1, -(-n // _BLOCK))
        padded = np.full(nb * _BLOCK, np.inf)
        padded[:n] = v
        blocks = padded.reshape(nb, _BLOCK)
        # Minimum from each bar to the end of its block.
        self.suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
        self.fine = _sparse_min(padded, _BLOCK_BITS)
        self.coarse = _sparse_min(blocks.min(axis=1), max(1, int(np.ceil(np.log2(nb + 1)))))
        self.n_blocks = nb

    def find(
        self,
        start: np.ndarray,
        level: np.ndarray,
        *,
        offset: int = 0,
        out: np.ndarray | None = None,
        chunk: int = 1 << 16,
    ) -> np.ndarray:
        """Per query: first bar ``>= start + offset`` (at least 0) whose price reaches
        ``level``; ``n`` if none. Written into ``out`` when given."""
        start = np.asarray(start)
        level = np.asarray(level, dtype="float64")
        if out is None:
            out = np.empty(start.size, dtype="int64")
        # Chunks keep each step's working set small and in cache.
        for a in range(0, start.size, chunk):
            first = np.maximum(start[a : a + chunk].astype("int64") + offset, 0)
            out[a : a + chunk] = self._find(first, self.sign * level[a : a + chunk])
        return out

    def _find(self, start: np.ndarray, thr: np.ndarray) -> np.ndarray:
        n, nb = self.n, self.n_blocks
        pos = np.minimum(start, nb * _BLOCK - 1)
        # Reached in the rest of the own block? Else look from the next block on. The
        # coarse descent keeps a query whose own block reaches the level where it is.
        elsewhere = self.suffix[pos] > thr
        block = (pos >> _BLOCK_BITS) + elsewhere
        block = np.minimum(_descend(self.coarse, block, thr), nb)
        pos = np.where(elsewhere, block << _BLOCK_BITS, pos)
        pos = _descend(self.fine, pos, thr)
        pos[start >= n] = n
        return np.minimum(pos, n, out=pos)
