"""The rebuild cache: a snapshot's generated files, keyed by its data, settings and code version.

A snapshot is recomputed only when something it depends on changes: the bars and events
known at its time, the previous snapshot time, the model parameters, whether the leverage
mix is learned (``--calibrate``), the map window, the site URL, or the code (liqwidget's own
source files and the bokeh version).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from functools import cache
from pathlib import Path

import bokeh
import pandas as pd

from ..sources.dataset import Dataset
from .snapshot import SnapshotSpec

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
#: Cache entries unused for this long (seconds) are deleted after a build.
STALE_AFTER = 14 * 24 * 3600.0


@cache
def code_version() -> str:
    """A digest of every file of the installed liqwidget package and the bokeh version.

    The whole package, not a hand-kept list of modules: a module added or moved can never
    leave a stale snapshot behind.
    """
    h = hashlib.sha256(bokeh.__version__.encode())
    for path in sorted(PACKAGE_ROOT.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(PACKAGE_ROOT)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def data_digest(data: Dataset, end: pd.Timestamp) -> str:
    """A digest of the bars and events known at ``end`` (later data does not change it)."""
    h = hashlib.sha256(data.name.encode())
    bars = data.market.frame.loc[: end - data.market.timeframe]
    h.update(pd.util.hash_pandas_object(bars, index=True).to_numpy().tobytes())
    events = data.liquidations_until(end)
    if events is not None and len(events):
        cols = events[["time", "side", "price", "notional"]]
        h.update(pd.util.hash_pandas_object(cols, index=False).to_numpy().tobytes())
    return h.hexdigest()


def snapshot_key(data: Dataset, spec: SnapshotSpec, site_url: str) -> str:
    """The cache key of one snapshot."""
    parts = {
        "data": data_digest(data, spec.time),
        "origin": data.origin,
        "time": spec.time.isoformat(),
        "prev": spec.prev_time.isoformat() if spec.prev_time is not None else None,
        "window": spec.window,
        "model": {k: repr(v) for k, v in sorted(spec.model_params.items())},
        "calibrate": spec.calibrate,
        "site_url": site_url,
        "code": code_version(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


class SnapshotCache:
    """Generated files per snapshot under ``root/<key>/`` (site-relative paths inside)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def get(self, key: str) -> dict[str, bytes] | None:
        """The cached files of ``key``, or ``None`` when it was never built (or is incomplete)."""
        folder = self.root / key
        manifest = folder / "manifest.json"
        if not manifest.is_file():
            return None
        try:
            names = json.loads(manifest.read_text())
            files = {name: (folder / "files" / name).read_bytes() for name in names}
            os.utime(manifest)  # last used now: keeps the entry out of prune()
            return files
        except (OSError, ValueError):
            return None

    def put(self, key: str, files: dict[str, bytes]) -> None:
        """Store files; the manifest is written last so a half-written entry is never used."""
        folder = self.root / key
        if folder.exists():
            shutil.rmtree(folder)
        for name, content in files.items():
            path = folder / "files" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        (folder / "manifest.json").write_text(json.dumps(sorted(files)))

    def prune(self, max_age: float = STALE_AFTER) -> int:
        """Delete entries not used for ``max_age`` seconds; return how many went."""
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - max_age
        removed = 0
        for folder in self.root.iterdir():
            manifest = folder / "manifest.json"
            used = manifest.stat().st_mtime if manifest.is_file() else folder.stat().st_mtime
            if folder.is_dir() and used < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed
