// Hover text of a heat-layer cell. A cell holds a uint8 code: 0 empty, 1..127 long and
// 129..255 short notional, each on a log scale from the source's vmin to vmax.

const UNITS = [[1e9, "B"], [1e6, "M"], [1e3, "K"]];

/** Money as liqwidget.fmt.money writes it: "$1.23 B", "$45.6 M", "$820 K", "$512". */
function money(x) {
  const fixed = (v, digits) =>
    v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  for (const [u, s] of UNITS) {
    if (Math.abs(x) >= u) {
      const v = x / u;
      return "$" + fixed(v, Math.abs(v) < 10 ? 2 : Math.abs(v) < 100 ? 1 : 0) + " " + s;
    }
  }
  return "$" + fixed(x, 0);
}

/** "long ≈ $1.23 M" for the hovered code, "—" for an empty cell. */
export default function hoverLayer({ source }, code) {
  if (!code || code === 128) return "—";
  const d = source.data;
  const lo = Math.log(d.vmin[0]);
  const hi = Math.log(d.vmax[0]);
  const side = code > 128 ? "short" : "long";
  const k = code > 128 ? code - 128 : code;
  const v = Math.exp(lo + ((k - 1) / 126) * (hi - lo));
  return side + " ≈ " + money(v);
}
