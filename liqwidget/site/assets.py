"""The site's own static files (the embed facade's script and style), under content-hashed
names so that hosts can cache them for ever: a changed file gets a new name."""

from __future__ import annotations

import hashlib
import shutil
from functools import cache
from pathlib import Path

from ..figure.precompiled import ASSET_DIR

STATIC = Path(__file__).resolve().parent / "static"


def content_hash(data: bytes, n: int = 10) -> str:
    """A short hex digest used in long-cache file names."""
    return hashlib.sha256(data).hexdigest()[:n]


@cache
def asset_urls() -> dict[str, str]:
    """Each static file's name → its site-relative, content-hashed path."""
    out = {}
    for f in sorted(STATIC.iterdir()):
        if f.is_file():
            out[f.name] = f"{ASSET_DIR}/{f.stem}.{content_hash(f.read_bytes())}{f.suffix}"
    return out


def copy_assets(site_root: Path) -> list[str]:
    """Copy the static files into ``site_root`` under their hashed names."""
    for name, rel in asset_urls().items():
        dest = site_root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(STATIC / name, dest)
    return list(asset_urls().values())
