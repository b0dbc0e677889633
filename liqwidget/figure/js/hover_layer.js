// Hover text of a heat-layer cell. A cell holds a uint8 code: 0 empty, 1..127 long and
// 129..255 short notional, each on a log scale from the source's vmin to vmax.

const UNITS = [[1e9, "B"], [1e6, "M"], [1e3, "k"]];

/** "long ≈ $1.23M" for the hovered code, "—" for an empty cell. */
export default function hoverLayer({ source }, code) {
  if (!code || code === 128) return "—";
  const d = source.data;
  const lo = Math.log(d.vmin[0]);
  const hi = Math.log(d.vmax[0]);
  const side = code > 128 ? "short" : "long";
  const k = code > 128 ? code - 128 : code;
  const v = Math.exp(lo + ((k - 1) / 126) * (hi - lo));
  let txt = "$" + v.toFixed(0);
  for (const [u, s] of UNITS) {
    if (v >= u) {
      txt = "$" + (v / u).toFixed(2) + s;
      break;
    }
  }
  return side + " ≈ " + txt;
}
