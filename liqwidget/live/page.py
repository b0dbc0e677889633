"""The live page's static files: ``embed/live.html`` and the script it runs.

The page holds no data of its own. Its script (``assets/live.js``, bundled from ``js/live.js``)
loads the map's precompiled callbacks and embeds the map skeleton the live process wrote once,
then polls the market's data file and redraws the open map in place. Everything comes from
the same site: BokehJS from the installed ``bokeh`` package, no inline scripts, no eval, so
the page runs under the site's Content-Security-Policy; nothing comes from other hosts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..figure.bokehjs import asset_dir, bundle_names, copy_bokehjs
from ..figure.precompiled import runtime_path, runtime_source
from ..html_page import standalone_head, write_frame_script
from .publish import LIVE_DIR

STATIC = Path(__file__).resolve().parent.parent / "static"
SCRIPT = "assets/live.js"
EMBED = "embed/live.html"  # what liqwidget.site.pages.embed_path("live") gives
#: Height of the live map's iframe (the map plus its status line) where the frame-height
#: script does not run (see ``liqwidget/frame_height.js``).
EMBED_HEIGHT = 700


def live_script() -> Path:
    """The bundled page script; a clear error when the front end was never built."""
    path = STATIC / "live.js"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the front end is not built. Run `npm ci && npm run build` in "
            "the repository (or reinstall with pip install -e .)"
        )
    return path


def embed_html(title: str = "Liquidation map, live") -> str:
    """The standalone live map page (``embed/live.html``)."""
    up = "../"
    sources = [f"{asset_dir()}/{name}" for name in bundle_names()] + [runtime_path()]
    scripts = "\n".join(f'<script src="{up}{src}"></script>' for src in sources)
    head = standalone_head(
        title,
        "Liquidation map that updates itself: estimated clusters and recorded liquidations.",
        f"""<style>
  html, body {{ margin: 0; padding: 0; background: #fff; color: #222;
    font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }}
  .lw-live {{ padding: 4px; }}
  .lw-live-status {{ margin: 2px 2px 6px; padding: 4px 8px; border-radius: 4px;
    background: #e2e8f0; color: #334155; }}
  .lw-live-status[data-state="live"] {{ background: #dcfce7; color: #14532d; }}
  .lw-live-status[data-state="stale"] {{ background: #fee2e2; color: #7f1d1d; font-weight: 600; }}
  .lw-live-markets a {{ margin-right: 12px; color: #1f5fa8; }}
  .lw-live-markets a[aria-current] {{ font-weight: 600; color: #222; }}
  .lw-caption {{ margin: 4px 2px 0; color: #555; }}
</style>
{scripts}
<script src="{up}{SCRIPT}" defer></script>""",
    )
    return f"""{head}
<body>
<div class="lw-live" data-liqwidget-live data-base="{up}{LIVE_DIR}/">
<div class="lw-live-markets"></div>
<div class="lw-live-status" data-state="waiting" role="status" aria-live="polite">Loading the live map…</div>
<div class="lw-live-map"></div>
<noscript>The live map needs JavaScript: it reads the newest data file every few seconds.</noscript>
<p class="lw-caption">Updated by <code>liqwidget live</code> after every bar. Clusters are a
model estimate, not real orders; real liquidations are as recorded from the exchange feed.</p>
</div>
</body>
</html>
"""


def write_live_pages(root: Path) -> list[str]:
    """Write the live page, its script and BokehJS into a site folder; return the paths."""
    root = Path(root)
    paths = copy_bokehjs(root)
    script = root / SCRIPT
    script.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(live_script(), script)
    runtime = root / runtime_path()
    runtime.parent.mkdir(parents=True, exist_ok=True)
    runtime.write_bytes(runtime_source())
    from ..site.csp import apply_policy  # (the site package imports this module)

    page = root / EMBED
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(apply_policy(embed_html(), where=EMBED), encoding="utf-8")
    return [*paths, runtime_path(), SCRIPT, write_frame_script(root), EMBED]


def keep_live_data(built: Path, staging: Path) -> int:
    """Copy the live data files of a built site into the staging folder of a rebuild.

    mkdocs empties its output folder; carrying the newest files over keeps the live page
    working across a rebuild (the live process rewrites them after its next bar anyway).
    """
    source = Path(built) / LIVE_DIR
    if not source.is_dir():
        return 0
    dest = Path(staging) / LIVE_DIR
    dest.mkdir(parents=True, exist_ok=True)
    copied = 0
    for f in source.glob("*.json"):
        try:
            shutil.copyfile(f, dest / f.name)
            copied += 1
        except FileNotFoundError:  # replaced at this very moment: the next one comes soon
            pass
    return copied
