// When the document is ready (a map that fits its page): the heatmap's plot frame lines up
// with the levels panel's (the same price on the same pixel row) while the panel is beside
// it. Bokeh aligns the frames of a row's plots even when the row wraps, which on a phone
// left the heatmap under an empty band as tall as the panel's title and top axis; so once
// the panel sits under the heatmap, each plot keeps its own top and bottom.

/** Align the frames of `map` and `levels` only while they share a line; follow resizes. */
export default function alignFrames({ map, levels }, _ready, { cb_context }) {
  const heat = cb_context.index.find_one(map);
  const panel = cb_context.index.find_one(levels);
  if (heat == null || panel == null) return;
  const update = () => {
    const a = heat.el.getBoundingClientRect();
    const under = a.height > 0 && panel.el.getBoundingClientRect().top >= a.bottom - 1;
    for (const plot of [map, levels]) {
      if (plot.frame_align !== !under) plot.frame_align = !under;
    }
  };
  new ResizeObserver(update).observe(heat.el);
  update();
}
