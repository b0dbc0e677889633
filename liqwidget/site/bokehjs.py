"""BokehJS for the static site, copied from the installed ``bokeh`` package (never a CDN)."""

from __future__ import annotations

import shutil
from pathlib import Path

import bokeh

#: The BokehJS bundles a map page needs, in load order.
BUNDLES = ("bokeh.min.js", "bokeh-widgets.min.js", "bokeh-tables.min.js")


def bokehjs_dir() -> Path:
    """Where the installed bokeh keeps its compiled JavaScript."""
    return Path(bokeh.__file__).parent / "server" / "static" / "js"


def asset_dir() -> str:
    """Site-relative folder of the copied bundles, versioned so browsers never mix versions."""
    return f"assets/bokeh/{bokeh.__version__}"


def copy_bokehjs(site_root: Path) -> list[str]:
    """Copy the bundles into ``site_root``; return their site-relative paths."""
    src = bokehjs_dir()
    dest = site_root / asset_dir()
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name in BUNDLES:
        f = src / name
        if not f.is_file():
            raise FileNotFoundError(
                f"BokehJS bundle {f} is missing from the installed bokeh {bokeh.__version__}; "
                "reinstall bokeh (pip install --force-reinstall bokeh)"
            )
        target = dest / name
        if not target.exists() or target.stat().st_size != f.stat().st_size:
            shutil.copyfile(f, target)
        out.append(f"{asset_dir()}/{name}")
    return out
