"""BokehJS for every page that shows the map, always from the installed ``bokeh`` package.

One list of the files the figure needs, used by the widget (sent to the browser over the
widget's comm) and by the static site (copied next to the pages). Nothing comes from a CDN,
and the browser always runs exactly the Python side's Bokeh version.
"""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

import bokeh

#: BokehJS parts the figure uses, in load order: the core and the widgets (sliders, checkboxes).
COMPONENTS = ("bokeh", "bokeh-widgets")


def bokehjs_dir() -> Path:
    """Where the installed bokeh keeps its compiled JavaScript."""
    return Path(bokeh.__file__).parent / "server" / "static" / "js"


def bundle_names() -> tuple[str, ...]:
    """The minified file names of :data:`COMPONENTS`, in load order."""
    return tuple(f"{c}.min.js" for c in COMPONENTS)


def bundle_files() -> list[Path]:
    """The minified bundles, in load order; a clear error when the installation lacks one."""
    files = [bokehjs_dir() / name for name in bundle_names()]
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(
                f"BokehJS bundle {f} is missing from the installed bokeh {bokeh.__version__}; "
                "reinstall bokeh (pip install --force-reinstall bokeh)"
            )
    return files


@cache
def bundle_sources() -> tuple[bytes, ...]:
    """The bundles' contents, in load order (UTF-8 JavaScript)."""
    return tuple(f.read_bytes() for f in bundle_files())


def asset_dir() -> str:
    """Site-relative folder of the copied bundles, versioned so browsers never mix versions."""
    return f"assets/bokeh/{bokeh.__version__}"


def copy_bokehjs(site_root: Path) -> list[str]:
    """Copy the bundles into ``site_root``; return their site-relative paths."""
    dest = site_root / asset_dir()
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for f in bundle_files():
        target = dest / f.name
        if not target.exists() or target.stat().st_size != f.stat().st_size:
            shutil.copyfile(f, target)
        out.append(f"{asset_dir()}/{f.name}")
    return out
