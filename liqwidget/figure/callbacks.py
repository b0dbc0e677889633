"""Browser-side behaviour of the figure as Bokeh ``CustomJS`` code (works without a kernel)."""

from __future__ import annotations

#: Layer order in the toggle (CheckboxGroup indices).
LAYERS = ("clusters", "real", "price", "forecast")
LAYER_LABELS = ("Clusters (model estimate)", "Real liquidations", "Price", "Forecast")
#: Layers shown unless asked otherwise (the forecast is one toggle away).
DEFAULT_LAYERS = ("clusters", "real", "price")

TOGGLE = """
const on = new Set(cb_obj.active);
for (const r of clusters) r.visible = on.has(0);
for (const r of real) r.visible = on.has(1);
for (const r of price) r.visible = on.has(2);
for (const r of forecast) r.visible = on.has(3);
"""

#: Rebuild each layer palette: codes in the lowest ``threshold`` share of the log scale are
#: hidden and the rest stretched over the full ramp, so the brightest bands stand out.
THRESHOLD = """
const t = Math.min(Math.max(cb_obj.value, 0), 0.99);
const n = ramps[0][0].length;
for (let m = 0; m < mappers.length; m++) {
  const [lo, hi] = ramps[m];
  const pal = new Array(256).fill("#00000000");
  for (let k = 1; k <= n; k++) {
    const q = (k - 1) / (n - 1);
    if (q < t) continue;
    const j = Math.round((q - t) / (1 - t) * (n - 1));
    pal[k] = lo[j];
    pal[128 + k] = hi[j];
  }
  mappers[m].palette = pal;
}
"""

#: Move the time cursor; show the stored levels frame at or before it in the bars panel.
CURSOR = """
const v = cb_obj.value;
span.location = v;
const ft = frames.data.time;
let k = 0;
while (k + 1 < ft.length && ft[k + 1] <= v) k++;
const vals = frames.data.values[k];
const s = frames.data.scale[k] / 65535;
const nc = names.length;
const nb = bars.data.price.length;
const data = {price: bars.data.price};
for (let j = 0; j < nc; j++) {
  const a = new Float32Array(nb);
  for (let i = 0; i < nb; i++) a[i] = vals[i * nc + j] * s;
  data[names[j]] = a;
}
bars.data = data;
const when = new Date(ft[k]).toISOString().slice(5, 16).replace("T", " ");
panel.title.text = "Levels at " + when + " UTC";
"""

#: The leverage-tier filter and the cumulative liquidation curves of the levels panel: the
#: bars show only tiers at or above the filter's leverage (hidden tiers drawn as zeros, so
#: the stack closes up), and the curves sum the shown long notional from the top of the
#: panel down and the short notional from the bottom up. Runs when the bars change (cursor,
#: widget) and when the filter does.
CUMULATE = """
const min_lev = Number(filter.value);
const d = bars.data;
const nb = d.price.length;
const long = new Float64Array(nb), short = new Float64Array(nb);
const out = {price: d.price};
for (let j = 0; j < names.length; j++) {
  const on = levs[j] >= min_lev;
  out[names[j]] = on ? d[names[j]] : new Float32Array(nb);
  if (!on) continue;
  const col = d[names[j]];
  const dst = sides[j] == 0 ? long : short;
  for (let i = 0; i < nb; i++) dst[i] += col[i];
}
for (let i = nb - 2; i >= 0; i--) long[i] += long[i + 1];
for (let i = 1; i < nb; i++) short[i] += short[i - 1];
shown.data = out;
cum.data = {price: d.price, long: long, short: short};
"""

TAP_TO_CURSOR = """
if (cb_obj.x != null) slider.value = Math.min(Math.max(cb_obj.x, slider.start), slider.end);
"""

CURSOR_FORMAT = """
return new Date(tick).toISOString().slice(0, 16).replace("T", " ") + " UTC";
"""

#: Hover text of a heat layer cell: decode the uint8 code with the layer's vmin/vmax.
HOVER_LAYER = """
const c = value;
if (!c || c == 128) return "—";
const d = source.data;
const lo = Math.log(d.vmin[0]), hi = Math.log(d.vmax[0]);
const side = c > 128 ? "short" : "long";
const k = c > 128 ? c - 128 : c;
const v = Math.exp(lo + (k - 1) / 126 * (hi - lo));
const units = [[1e9, "B"], [1e6, "M"], [1e3, "k"]];
let txt = "$" + v.toFixed(0);
for (const [u, s] of units) { if (v >= u) { txt = "$" + (v / u).toFixed(2) + s; break; } }
return side + " ≈ " + txt;
"""

HOVER_SIDE = """
return value ? "short (forced buy)" : "long (forced sell)";
"""
