"""The quickstart in a real JupyterLab, driven in Chromium: the map draws and state is two-way.

JupyterLab runs on 127.0.0.1 (random port, token, temporary root holding a copy of the
quickstart). Every wait is on a condition with a generous limit, never a fixed sleep, so a
slow 2-core machine only makes the test slower.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "notebooks" / "quickstart.ipynb"
SHOTS = Path(os.environ.get("LIQWIDGET_SHOTS", ROOT / "build" / "screenshots"))
#: Upper bounds for conditions (seconds); reached only when something is broken.
SERVER_START = 120
CELL_RUN = 240
UI = 60

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """A JupyterLab server on loopback for one test (use as a context manager)."""

    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.log = root.parent / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> JupyterLab:
        home = self.root.parent / "jupyter-home"
        env = dict(
            os.environ,
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
            # Isolate config, runtime files, settings and workspaces from the user's own.
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        )
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]
        # No news pop-ups over the notebook, and no language-server probing (its server
        # extension may be absent, which would log a 404 in the console).
        labconfig = home / "config" / "labconfig"
        labconfig.mkdir(parents=True, exist_ok=True)
        disabled = {
            "@jupyterlab/apputils-extension:announcements": True,
            "@jupyterlab/lsp-extension": True,
            "@jupyterlab/fileeditor-extension:language-server": True,
            "@jupyterlab/notebook-extension:language-server": True,
        }
        (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}))
        self._logf = self.log.open("w")
        self.proc = subprocess.Popen(cmd, stdout=self._logf, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + SERVER_START
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited early; log:\n{self.log.read_text()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=5):
                    return self
            time.sleep(0.25)
        raise RuntimeError(
            f"JupyterLab did not answer within {SERVER_START} s; log:\n{self.log.read_text()}"
        )

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._logf.close()

    # ------------------------------------------------------------------ notebook driving
    def open_notebook(self, page, name: str) -> None:
        page.goto(f"{self.url}/lab/tree/{name}?token={self.token}", timeout=UI * 1000)
        page.wait_for_function(
            """() => {
              const app = window.jupyterapp;
              const w = app && app.shell.currentWidget;
              return !!(w && w.sessionContext && w.sessionContext.session &&
                        w.sessionContext.session.kernel &&
                        w.sessionContext.session.kernel.status === 'idle');
            }""",
            timeout=SERVER_START * 1000,
            polling=250,
        )

    def run_all(self, page) -> None:
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.wait_idle(page)
        errors = self.errors(page)
        assert not errors, f"cells raised: {errors}"

    def errors(self, page) -> list[str]:
        """Errors in the notebook's outputs (name, message and the traceback's last line)."""
        return page.evaluate(
            """() => {
              const nb = window.jupyterapp.shell.currentWidget.content;
              const out = [];
              for (const c of nb.widgets) {
                if (c.model.type !== 'code') continue;
                for (const o of c.model.outputs.toJSON()) {
                  if (o.output_type === 'error') out.push(`${o.ename}: ${o.evalue}`);
                }
              }
              return out;
            }"""
        )

    def wait_idle(self, page, last_only: bool = False) -> None:
        """Wait until the code cells (or only the last one) have run and the kernel is idle."""
        page.wait_for_function(
            """(lastOnly) => {
              const nb = window.jupyterapp.shell.currentWidget.content;
              const cells = nb.widgets.filter(c => c.model.type === 'code');
              const busy = (lastOnly ? cells.slice(-1) : cells).some(c =>
                  c.model.executionCount === null || c.promptNode.textContent.includes('*'));
              return !busy && window.jupyterapp.shell.currentWidget.sessionContext
                  .session.kernel.status === 'idle';
            }""",
            arg=last_only,
            timeout=CELL_RUN * 1000,
            polling=250,
        )

    def run_code(self, page, code: str) -> str:
        """Append a code cell, run it, and return its text output."""
        page.evaluate(
            """async (code) => {
              const app = window.jupyterapp;
              const panel = app.shell.currentWidget;
              const nb = panel.content;
              nb.activeCellIndex = nb.widgets.length - 1;
              await app.commands.execute('notebook:insert-cell-below');
              nb.activeCell.model.sharedModel.setSource(code);
              await app.commands.execute('notebook:run-cell');
            }""",
            code,
        )
        self.wait_idle(page, last_only=True)
        errors = self.errors(page)
        assert not errors, f"{code!r} raised: {errors}"
        return page.evaluate(
            """() => {
              const nb = window.jupyterapp.shell.currentWidget.content;
              const cell = nb.widgets[nb.widgets.length - 1];
              return cell.outputArea.node.innerText;
            }"""
        )


# In-page helpers: Bokeh renders into (open) shadow roots, so search them too.
FIND_CANVAS_STATS = """
() => {
  const all = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.tagName === 'CANVAS') all.push(el);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  const host = document.querySelector('.liqwidget');
  if (!host) return null;
  walk(host);
  const big = all.filter(c => c.width > 300 && c.height > 200);
  return big.map(c => {
    const ctx = c.getContext('2d');
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    let dark = 0, ink = 0;
    for (let i = 0; i < d.length; i += 4 * 7) {
      if (d[i + 3] === 0) continue;
      colours.add((d[i] >> 3) << 10 | (d[i + 1] >> 3) << 5 | (d[i + 2] >> 3));
      if (d[i] + d[i + 1] + d[i + 2] < 200) dark++;
      else if (d[i] + d[i + 1] + d[i + 2] < 600) ink++;
    }
    return {width: c.width, height: c.height, colours: colours.size, dark, ink};
  });
}
"""

BOKEH_STATE = """
() => {
  const B = window.Bokeh && window.Bokeh[window.__lw_version];
  const docs = [];
  for (const v of B.index) docs.push(v.model.document);
  const doc = docs[docs.length - 1];
  const get = (n) => doc.get_model_by_name(n);
  const map = get('map');
  return {
    version: B.version,
    active: get('layer-toggle').active,
    threshold: get('threshold').value,
    cursor: get('cursor-slider').value,
    span: get('cursor-span').location,
    clusters_visible: get('clusters-image').visible,
    real_visible: get('real-image').visible,
    forecast_visible: get('forecast-image').visible,
    labels: get('layer-toggle').labels,
    forecast_sum: get('forecast-source').data.image[0].reduce((a, b) => a + b, 0),
    profile_visible: get('forecast-profile-long').visible && get('forecast-profile-short').visible,
    profile_sum: [...get('forecast-profile').data.long, ...get('forecast-profile').data.short]
      .reduce((a, b) => a + b, 0),
    x_range: [get('time-range').start, get('time-range').end],
    axes: map.left.length + map.below.length,
    axis_labels: [map.left[0].axis_label, map.below[0].axis_label],
    image_shape: get('clusters-source').data.image[0].shape,
    palette0: get('clusters-mapper').palette.slice(0, 80).filter(c => c !== '#00000000').length,
  };
}
"""

LAST_DOC = (
    "() => { const v = [...window.Bokeh[window.__lw_version].index];"
    " const doc = v[v.length - 1].model.document;"
)
IMAGE_SUM = (
    " return doc.get_model_by_name('clusters-source').data.image[0].reduce((a, b) => a + b, 0); }"
)
#: Whether the cumulative long curve's total equals the shown (50x and above) long bars.
CUM_MATCHES = (
    " const d = (n) => doc.get_model_by_name(n).data;"
    " const raw = d('levels-source'), shown = d('levels-shown'), cum = d('cumulative-source');"
    " let want = 0, hidden = 0;"
    " for (const k of Object.keys(raw)) {"
    "   if (!k.startsWith('long_')) continue;"
    "   const s = raw[k].reduce((a, b) => a + b, 0);"
    "   if (Number(k.slice(5)) >= 50) want += s;"
    "   else hidden += shown[k].reduce((a, b) => a + b, 0);"
    " }"
    " return want > 0 && hidden === 0 && Math.abs(cum.long[0] - want) <= 1e-3 * want; }"
)
UPDATES = "() => performance.getEntriesByName('liqwidget:update').length"
#: The accessible names of the widget's slider handles (in Bokeh's open shadow roots).
SLIDER_NAMES = """
() => {
  const names = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.getAttribute('role') === 'slider') names.push(el.getAttribute('aria-label'));
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document.querySelector('.liqwidget'));
  return names.sort();
}
"""
HANDLES = ["Contrast threshold (hide the faintest share)", "Time cursor"]


def probe(condition: str) -> str:
    """A page function that evaluates ``condition`` on the figure state ``s``."""
    return f"() => {{ const s = ({BOKEH_STATE})(); return {condition}; }}"


def test_quickstart_in_jupyterlab(page, tmp_path):
    import bokeh

    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(QUICKSTART, root / "quickstart.ipynb")
    SHOTS.mkdir(parents=True, exist_ok=True)

    with JupyterLab(root) as lab:
        lab.open_notebook(page, "quickstart.ipynb")
        lab.run_all(page)
        # The map is drawn: the widget reports the first data version as rendered.
        page.wait_for_function(
            "() => performance.getEntriesByName('liqwidget:first-render').length > 0",
            timeout=CELL_RUN * 1000,
            polling=250,
        )
        page.evaluate(f"() => {{ window.__lw_version = {json.dumps(bokeh.__version__)}; }}")
        state = page.evaluate(BOKEH_STATE)
        assert state["version"] == bokeh.__version__
        assert state["axes"] >= 2 and state["axis_labels"] == ["Price", "Time (UTC)"]
        assert state["image_shape"][0] > 100 and state["image_shape"][1] > 300
        assert state["active"] == [0, 1, 2] and state["clusters_visible"] and state["real_visible"]
        # Each slider handle is named after its slider (set when the document is ready).
        page.wait_for_function(
            f"() => ({SLIDER_NAMES})().join('|') === {json.dumps('|'.join(HANDLES))}",
            timeout=UI * 1000,
        )
        for name in HANDLES:
            assert page.locator(".liqwidget").get_by_role("slider", name=name).count() == 1

        map_el = page.locator(".liqwidget").first
        map_el.scroll_into_view_if_needed()
        stats = page.evaluate(FIND_CANVAS_STATS)
        assert stats, "no Bokeh canvas inside the widget"
        main = max(stats, key=lambda s: s["width"] * s["height"])
        # A blank canvas has one or two colours; the map has the dark frame, heat ramps, price.
        assert main["colours"] > 40, main
        assert main["dark"] > 1000, main
        map_el.screenshot(path=str(SHOTS / "jupyterlab-quickstart.png"))

        # Browser → kernel: untick "Real liquidations"; the kernel sees the new layers.
        page.get_by_text("Real liquidations", exact=True).click()
        page.wait_for_function(probe("!s.real_visible"), timeout=UI * 1000)
        out = lab.run_code(page, "print('layers=', lmap.layers)")
        assert "layers= ['clusters', 'price']" in out

        # Browser → kernel: clicking the map moves the time cursor.
        map_el.scroll_into_view_if_needed()
        box = map_el.bounding_box()
        before = page.evaluate(BOKEH_STATE)["cursor"]
        fig = page.evaluate(BOKEH_STATE)
        assert fig["cursor"] == fig["span"]
        page.mouse.click(box["x"] + 200, box["y"] + 250)
        page.wait_for_function(probe(f"s.cursor !== {before}"), timeout=UI * 1000)
        clicked = page.evaluate(BOKEH_STATE)["cursor"]
        import pandas as pd

        expected = pd.Timestamp(int(clicked * 1e6), tz="UTC").isoformat()[:16]
        # The browser sends the cursor after a short debounce: ask until the kernel has it.
        deadline = time.monotonic() + UI
        while True:
            out = lab.run_code(page, "print('cursor=', lmap.cursor.isoformat())")
            if f"cursor= {expected}" in out or time.monotonic() > deadline:
                break
            page.wait_for_timeout(250)
        assert f"cursor= {expected}" in out

        # Kernel → browser: threshold, layers and cursor set from Python show in the page.
        lab.run_code(
            page,
            "lmap.threshold = 0.8\nlmap.layers = ['clusters', 'real', 'price']\n"
            "lmap.cursor = '2026-06-02 12:00Z'",
        )
        page.wait_for_function(
            probe("s.threshold === 0.8 && s.real_visible && s.cursor === Date.UTC(2026, 5, 2, 12)"),
            timeout=UI * 1000,
        )
        state = page.evaluate(BOKEH_STATE)
        assert state["span"] == state["cursor"]
        assert state["palette0"] < 20  # the threshold hid the faint end of the long ramp
        page.get_by_text("2026-06-02 12:00 UTC").first.wait_for(timeout=UI * 1000)

        # Kernel → browser: new model parameters redraw the same document in place.
        page.evaluate(LAST_DOC + " doc.__lw_mark = 'kept'; }")
        before = page.evaluate(LAST_DOC + IMAGE_SUM)
        updates = page.evaluate(UPDATES)
        lab.run_code(page, "lmap.set_params(side_split=0.9)\nseq = lmap._seq")
        page.wait_for_function(f"() => ({UPDATES})() > {updates}", timeout=CELL_RUN * 1000)
        assert page.evaluate(LAST_DOC + " return doc.__lw_mark; }") == "kept"
        assert page.evaluate(LAST_DOC + IMAGE_SUM) != before
        out = lab.run_code(page, "print('rendered', lmap.rendered == seq, lmap.model.side_split)")
        assert "rendered True 0.9" in out

        # The Forecast layer: one click shows it (browser → kernel), and a new horizon set
        # from Python redraws it and renames its toggle (kernel → browser).
        assert not state["forecast_visible"] and state["labels"][-1] == "Forecast (next 4h)"
        lab.run_code(page, "lmap.threshold = 0.3")
        page.wait_for_function(probe("s.threshold === 0.3"), timeout=UI * 1000)
        page.get_by_text("Forecast (next 4h)", exact=True).click()
        page.wait_for_function(
            probe("s.forecast_visible && s.profile_visible && s.profile_sum > 0"),
            timeout=UI * 1000,
        )  # the layer, and its profile beside the levels
        out = lab.run_code(page, "print('layers=', lmap.layers)")
        assert "layers= ['clusters', 'real', 'price', 'forecast']" in out
        page.get_by_text("Clusters (model estimate)", exact=True).click()
        page.wait_for_function(probe("!s.clusters_visible"), timeout=UI * 1000)
        state = page.evaluate(BOKEH_STATE)
        before, profile = state["forecast_sum"], state["profile_sum"]
        map_el.screenshot(path=str(SHOTS / "jupyterlab-forecast-4h.png"))
        lab.run_code(page, "lmap.forecast_horizon = '1D'")
        page.wait_for_function(
            probe(
                f"s.labels[3] === 'Forecast (next 1D)' && s.forecast_sum !== {before}"
                f" && s.profile_sum !== {profile}"
            ),
            timeout=CELL_RUN * 1000,
        )
        page.get_by_text("Forecast (next 1D)", exact=True).wait_for(timeout=UI * 1000)
        page.get_by_text("(next 1D): the liquidations").wait_for(timeout=UI * 1000)  # notes
        map_el.screenshot(path=str(SHOTS / "jupyterlab-forecast-1D.png"))
        lab.run_code(page, "lmap.layers = ['clusters', 'real', 'price']")
        page.wait_for_function(
            probe("!s.forecast_visible && !s.profile_visible && s.clusters_visible"),
            timeout=UI * 1000,
        )

        # Streaming: new liquidations and new bars arrive in the open map.
        updates = page.evaluate(UPDATES)
        lab.run_code(
            page,
            "import pandas as pd\n"
            "n0 = len(lmap.liquidations)\n"
            "late = sim.liquidations.tail(5).assign(time=lambda d: d['time'] - pd.Timedelta('1h'))\n"
            "lmap.append_liquidations(late)\n"
            "seq = lmap._seq",
        )
        page.wait_for_function(f"() => ({UPDATES})() > {updates}", timeout=CELL_RUN * 1000)
        out = lab.run_code(
            page, "print('added', len(lmap.liquidations) - n0, lmap.rendered == seq)"
        )
        assert "added 5 True" in out
        # Browser → kernel: a mouse-wheel zoom narrows x_range, and the kernel redraws the
        # heat layers for the visible window (finer time columns).
        updates = page.evaluate(UPDATES)
        map_el.scroll_into_view_if_needed()
        box = map_el.bounding_box()
        page.mouse.move(box["x"] + 300, box["y"] + 250)
        page.mouse.wheel(0, -500)
        page.wait_for_function(f"() => ({UPDATES})() > {updates}", timeout=CELL_RUN * 1000)
        out = lab.run_code(
            page,
            "full = lmap.market.index[-1] - lmap.market.index[0]\n"
            "shown = lmap.x_range[1] - lmap.x_range[0]\n"
            "cols = lmap.figure_data.heatmap.time_edges\n"
            "print('zoomed', shown < 0.95 * full, (cols[-1] - cols[0]) < full)",
        )
        assert "zoomed True True" in out
        map_el.screenshot(path=str(SHOTS / "jupyterlab-after-updates.png"))

        # The levels panel's tier filter and cumulative curves work in the widget too: the
        # curves sum the bars the filter shows and follow the bars the kernel sends; the
        # filter is the min_leverage trait both ways, so it survives a redraw.
        # The kernel gets the filter asynchronously (and a redraw still in flight may embed
        # a fresh document with the old value): ask until it has it, choosing again on the
        # newest document if a redraw reset the choice.
        choose = LAST_DOC + " const f = doc.get_model_by_name('tier-filter');"
        choose += " if (f.value !== '50') f.value = '50'; }"
        deadline = time.monotonic() + UI
        while True:
            page.evaluate(choose)
            page.wait_for_function(LAST_DOC + CUM_MATCHES, timeout=UI * 1000)
            out = lab.run_code(page, "print('min_leverage', lmap.min_leverage)")
            if "min_leverage 50.0" in out or time.monotonic() > deadline:
                break
        assert "min_leverage 50.0" in out
        updates = page.evaluate(UPDATES)
        lab.run_code(page, "lmap.set_params(side_split=0.5)")
        page.wait_for_function(f"() => ({UPDATES})() > {updates}", timeout=CELL_RUN * 1000)
        page.wait_for_function(LAST_DOC + CUM_MATCHES, timeout=UI * 1000)
        lab.run_code(page, "lmap.min_leverage = 0")
        page.wait_for_function(
            LAST_DOC + " return doc.get_model_by_name('tier-filter').value === '0'; }",
            timeout=UI * 1000,
        )
        assert page.evaluate(SLIDER_NAMES) == HANDLES  # still named after every redraw

    page.log.assert_clean()
