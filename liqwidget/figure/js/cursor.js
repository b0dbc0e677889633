// Time cursor (Slider "cursor-slider"): move the span and show, in the levels panel, the
// stored frame at or before the cursor. A frame's `values` are uint16 codes, row-major
// (price bin, bar column), scaled by `scale / 65535`; its `forecast` codes (uint8), row-major
// (price bin, side), scaled by `forecast_scale / 255`, fill the Forecast profile beside the bars.

/** Move the cursor span and fill the levels bars from the stored frame at the cursor. */
export default function cursor({ span, frames, bars, names, panel, forecast }, slider) {
  const v = slider.value;
  span.location = v;
  const ft = frames.data.time;
  let k = 0;
  while (k + 1 < ft.length && ft[k + 1] <= v) k++;
  const vals = frames.data.values[k];
  const s = frames.data.scale[k] / 65535;
  const nc = names.length;
  const nb = bars.data.price.length;
  const data = { price: bars.data.price };
  for (let j = 0; j < nc; j++) {
    const a = new Float32Array(nb);
    for (let i = 0; i < nb; i++) a[i] = vals[i * nc + j] * s;
    data[names[j]] = a;
  }
  bars.data = data;
  const fv = frames.data.forecast[k];
  const fs = frames.data.forecast_scale[k] / 255;
  const long = new Float32Array(nb);
  const short = new Float32Array(nb);
  for (let i = 0; i < nb; i++) {
    long[i] = fv[2 * i] * fs;
    short[i] = fv[2 * i + 1] * fs;
  }
  forecast.data = { price: bars.data.price, long, short };
  const when = new Date(ft[k]).toISOString().slice(5, 16).replace("T", " ");
  panel.title.text = "Levels at " + when + " UTC";
}
