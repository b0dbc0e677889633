// Levels panel: the leverage-tier filter and the cumulative liquidation curves. The bars
// show only tiers at or above the filter's leverage (hidden tiers drawn as zeros, so the
// stack closes up); the curves sum the shown long notional from the top of the panel down
// and the short notional from the bottom up. Runs when the bars change (cursor, widget)
// and when the filter does.

/** Fill `shown` (filtered bars) and `cum` (cumulative curves) from `bars`. */
export default function cumulate({ filter, bars, cum, names, levs, sides, shown }) {
  const minLev = Number(filter.value);
  const d = bars.data;
  const nb = d.price.length;
  const long = new Float64Array(nb);
  const short = new Float64Array(nb);
  const out = { price: d.price };
  for (let j = 0; j < names.length; j++) {
    const on = levs[j] >= minLev;
    out[names[j]] = on ? d[names[j]] : new Float32Array(nb);
    if (!on) continue;
    const col = d[names[j]];
    const dst = sides[j] === 0 ? long : short;
    for (let i = 0; i < nb; i++) dst[i] += col[i];
  }
  for (let i = nb - 2; i >= 0; i--) long[i] += long[i + 1];
  for (let i = 1; i < nb; i++) short[i] += short[i - 1];
  shown.data = out;
  cum.data = { price: d.price, long, short };
}
