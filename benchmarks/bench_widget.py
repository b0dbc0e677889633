"""Widget speed in a real JupyterLab + Chromium: first render and Python-side updates.

Measures, for a 2000 × 1000 heat layer:

* **first render** — from the widget view's ``render()`` to the map painted, with BokehJS
  already on the page (the ESM's ``liqwidget:first-render`` performance measure);
* **update round trip** — ``LiquidationMap.set_params`` in the kernel until the browser has
  painted the new map (kernel wall clock → browser wall clock, same machine), split into the
  Python part (model + gridding + encoding) and transport + draw;

next to two plain references doing the same layer update in the same page:

* the layer sent as a **JSON number list** trait and copied into the Bokeh image;
* a **full json_item re-embed** (the figure rebuilt in Python, arrays base64 inside the JSON).

Targets: first render <= 1 s, update <= 300 ms. Run: ``python benchmarks/bench_widget.py``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import CHROMIUM_ARGS  # noqa: E402
from test_jupyterlab_browser import JupyterLab  # noqa: E402

SETUP = r'''
import json, time
import numpy as np
import anywidget, traitlets
from bokeh.embed import json_item
from bokeh.plotting import figure
import liqwidget
from liqwidget.widget import LiquidationMap

market = liqwidget.load_sample()
W, H = 2000, 1000

REF_ESM = """
const painted = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
async function render({ model, el }) {
  const Bokeh = globalThis.Bokeh[model.get("version")];
  const host = document.createElement("div");
  el.appendChild(host);
  let views = [...(await Bokeh.embed.embed_item(structuredClone(model.get("item")), host))];
  const report = () => { model.set("at", Date.now()); model.save_changes(); };
  model.on("change:values", async () => {
    const { ndarray } = Bokeh.require("core/util/ndarray");
    const values = model.get("values");
    const image = ndarray(Float32Array.from(values), { dtype: "float32", shape: [model.get("h"), model.get("w")] });
    const source = views[0].model.document.get_model_by_name("ref-source");
    source.data = { ...source.data, image: [image] };
    await painted();
    report();
  });
  model.on("change:item", async () => {
    for (const v of views) v.remove();
    host.replaceChildren();
    views = [...(await Bokeh.embed.embed_item(structuredClone(model.get("item")), host))];
    await painted();
    report();
  });
}
export default { render };
"""


def ref_figure(layer):
    from bokeh.models import ColumnDataSource
    src = ColumnDataSource({"image": [layer]}, name="ref-source")
    fig = figure(width=1000, height=500, x_range=(0, 1), y_range=(0, 1))
    fig.image(image="image", x=0, y=0, dw=1, dh=1, source=src, palette="Viridis256")
    return fig


class Reference(anywidget.AnyWidget):
    """Plain ways to update the same layer: a JSON number list, or a full re-embed."""
    _esm = REF_ESM
    version = traitlets.Unicode().tag(sync=True)
    item = traitlets.Dict().tag(sync=True)
    values = traitlets.List().tag(sync=True)
    w = traitlets.Int(W).tag(sync=True)
    h = traitlets.Int(H).tag(sync=True)
    at = traitlets.Float(0).tag(sync=True)
'''

WARM = """
import bokeh
warm = LiquidationMap(market, width=700, height=300, resolution=(300, 150))
warm
"""

BIG = """
big = LiquidationMap(market, width=1000, height=500, resolution=(W, H))
big
"""

UPDATE = """
t0 = time.time()
big.set_params(side_split={split})
t1 = time.time()
"""

# A new 2000 × 1000 cluster layer, computed beforehand, pushed to the open map.
LAYER = """
from liqwidget.figure import figure_data
new = figure_data(liqwidget.ClusterModel(side_split={split}).estimate(market), resolution=(W, H))
t0 = time.time()
with big.hold_sync():  # the source trait's own serialiser encodes it as it is sent
    big._clusters = new.sources["clusters-source"]
    big._seq += 1
t1 = time.time()
"""

READ_UPDATE = """
print("RESULT", json.dumps({"seq_ok": big.rendered == big._seq, "python_ms": (t1 - t0) * 1e3,
      "total_ms": big._render_log["at"] - t0 * 1e3, "after_python_ms": big._render_log["at"] - t1 * 1e3,
      "draw_ms": big._render_log["ms"], "bytes": big.figure_data.nbytes()}))
"""

REF = """
layer = big.figure_data.heatmap.long.astype("float32")
ref = Reference(version=bokeh.__version__, item=json_item(ref_figure(layer[:2, :2])))
ref
"""

REF_JSON = """
layer = (big.figure_data.heatmap.long * {scale}).astype("float32")
ref.at = 0
t0 = time.time()
ref.values = layer.ravel().tolist()
t1 = time.time()
"""

REF_ITEM = """
layer = (big.figure_data.heatmap.long * {scale}).astype("float32")
ref.at = 0
t0 = time.time()
ref.item = json_item(ref_figure(layer))
t1 = time.time()
"""

READ_REF = """
print("RESULT", json.dumps({"python_ms": (t1 - t0) * 1e3, "total_ms": ref.at - t0 * 1e3}))
"""


UPDATES = "() => performance.getEntriesByName('liqwidget:update').length"


def result(out: str) -> dict:
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="updates per method (default 5)")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-widget-"))
    root = tmp / "lab"
    root.mkdir()
    nb = {
        "cells": [],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / "bench.ipynb").write_text(json.dumps(nb))
    try:
        with JupyterLab(root) as lab, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            print("starting JupyterLab and the kernel …", flush=True)
            lab.open_notebook(page, "bench.ipynb")
            lab.run_code(page, SETUP)
            count = "(n) => performance.getEntriesByName('liqwidget:first-render').length >= n"
            lab.run_code(page, WARM)
            page.wait_for_function(count, arg=1, timeout=300_000)
            print("BokehJS loaded; measuring the first render of a 2000 × 1000 map …", flush=True)
            lab.run_code(page, BIG)
            page.wait_for_function(count, arg=2, timeout=300_000)
            first = page.evaluate(
                "() => performance.getEntriesByName('liqwidget:first-render')[1].duration"
            )
            embed = page.evaluate(
                "() => performance.getEntriesByName('liqwidget:embed')[1].duration"
            )

            updates: dict[str, list[dict]] = {"layer": [], "set_params": []}
            for i in range(args.repeat):
                # Different side splits each time, so every update carries a new layer.
                for kind, code, split in (
                    ("layer", LAYER, 0.2 + 0.1 * (i % 7)),
                    ("set_params", UPDATE, 0.25 + 0.1 * (i % 7)),
                ):
                    n = page.evaluate(UPDATES)
                    lab.run_code(page, code.format(split=split))
                    page.wait_for_function(f"() => ({UPDATES})() > {n}", timeout=120_000)
                    r = result(lab.run_code(page, READ_UPDATE))
                    assert r["seq_ok"], "the browser did not draw the latest update"
                    updates[kind].append(r)
                    print(
                        f"  {kind} {i + 1}: {r['total_ms']:.0f} ms (Python {r['python_ms']:.0f}, "
                        f"transport {r['after_python_ms'] - r['draw_ms']:.0f}, "
                        f"draw {r['draw_ms']:.0f})",
                        flush=True,
                    )

            lab.run_code(page, REF)
            refs: dict[str, list[dict]] = {"json": [], "item": []}
            for method, code in (("json", REF_JSON), ("item", REF_ITEM)):
                for i in range(args.repeat):
                    lab.run_code(page, code.format(scale=1.0 + 0.1 * i))
                    r = {}
                    for _ in range(600):
                        r = result(lab.run_code(page, READ_REF))
                        if r["total_ms"] > 0:
                            break
                    refs[method].append(r)
                    print(f"  reference {method} {i + 1}: {r['total_ms']:.0f} ms", flush=True)
            browser.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(rows, key):
        return statistics.median(r[key] for r in rows)

    layer, full = updates["layer"], updates["set_params"]
    print()
    print(f"2000 × 1000 heat layer (uint8, 2.0 MB binary), median of {args.repeat} runs")
    print(
        f"first render (BokehJS already loaded):      {first:7.0f} ms   target <= 1000 ms "
        f"(of which embedding the document {embed:.0f} ms)"
    )
    print(
        f"liqwidget layer update → painted:           {med(layer, 'total_ms'):7.0f} ms   "
        f"target <= 300 ms (encode {med(layer, 'python_ms'):.0f}, "
        f"draw {med(layer, 'draw_ms'):.0f})"
    )
    print(
        f"liqwidget set_params → painted:             {med(full, 'total_ms'):7.0f} ms   "
        f"(model + grids + encode in Python {med(full, 'python_ms'):.0f}, "
        f"draw {med(full, 'draw_ms'):.0f})"
    )
    print(
        f"reference: JSON number list → painted:      {med(refs['json'], 'total_ms'):7.0f} ms   "
        f"(Python serialise {med(refs['json'], 'python_ms'):.0f} ms)"
    )
    print(
        f"reference: full json_item re-embed:         {med(refs['item'], 'total_ms'):7.0f} ms   "
        f"(Python build+serialise {med(refs['item'], 'python_ms'):.0f} ms)"
    )


if __name__ == "__main__":
    main()
