// Contrast threshold (Slider "threshold"): rebuild each heat layer's palette. Codes in the
// lowest `threshold` share of the log scale are hidden and the rest are stretched over the
// full ramp, so the brightest bands stand out.

/** Palettes of `mappers` from their `[long, short]` colour `ramps` and the slider value. */
export default function threshold({ mappers, ramps }, slider) {
  const t = Math.min(Math.max(slider.value, 0), 0.99);
  const n = ramps[0][0].length;
  mappers.forEach((mapper, m) => {
    const [lo, hi] = ramps[m];
    const pal = new Array(256).fill("#00000000");
    for (let k = 1; k <= n; k++) {
      const q = (k - 1) / (n - 1);
      if (q < t) continue;
      const j = Math.round(((q - t) / (1 - t)) * (n - 1));
      pal[k] = lo[j];
      pal[128 + k] = hi[j];
    }
    mapper.palette = pal;
  });
}
