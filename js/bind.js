// Two-way binding between widget traits and Bokeh model properties.

import { wireSpec } from "./wire.js";

/** Keep trait `trait` and the Bokeh properties `attrs` of `bm` in step; returns an unbind function. */
function bindTrait(model, trait, bm, attrs, { toBokeh, fromBokeh, debounceMs = 0 }) {
  let timer = null;
  let pushing = false;
  const push = () => {
    timer = null;
    const value = fromBokeh(bm);
    if (value === undefined) return;
    pushing = true;
    model.set(trait, value);
    model.save_changes();
    pushing = false;
  };
  const onBokeh = () => {
    if (pushing) return;
    if (debounceMs > 0) {
      clearTimeout(timer);
      timer = setTimeout(push, debounceMs);
    } else push();
  };
  const onTrait = () => {
    const value = model.get(trait);
    if (value == null) return;
    const props = toBokeh(value);
    const changed = {};
    for (const [k, v] of Object.entries(props)) if (bm[k] !== v) changed[k] = v;
    if (Object.keys(changed).length) bm.setv(changed);
  };
  const slots = attrs.map((a) => {
    const signal = bm.properties[a].change;
    signal.connect(onBokeh);
    return signal;
  });
  model.on(`change:${trait}`, onTrait);
  return () => {
    clearTimeout(timer);
    for (const s of slots) s.disconnect(onBokeh);
    model.off(`change:${trait}`, onTrait);
  };
}

/** The tier filter's option for a minimum leverage: the highest tier not above it. */
function tierValue(select, minLeverage) {
  let best = select.options[0][0];
  for (const [value] of select.options) if (Number(value) <= minLeverage) best = value;
  return best;
}

function sameList(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Bind layers, threshold, the tier filter, cursor and the visible ranges of one figure. */
export function bindAll(model, doc) {
  const get = (name) => {
    const m = doc.get_model_by_name(name);
    if (m == null) throw new Error(`no model named ${name} in the figure`);
    return m;
  };
  const toggle = get("layer-toggle");
  const { layers: order } = wireSpec(model);  // the toggle's checkbox order
  const unbind = [
    bindTrait(model, "layers", toggle, ["active"], {
      toBokeh: (layers) => {
        const active = order.flatMap((l, i) => (layers.includes(l) ? [i] : []));
        return sameList(active, toggle.active) ? {} : { active };
      },
      fromBokeh: (t) => order.filter((_, i) => t.active.includes(i)),
    }),
    bindTrait(model, "threshold", get("threshold"), ["value"], {
      toBokeh: (v) => ({ value: v }),
      fromBokeh: (s) => s.value,
      debounceMs: 50,
    }),
    bindTrait(model, "min_leverage", get("tier-filter"), ["value"], {
      toBokeh: (v) => ({ value: tierValue(get("tier-filter"), v) }),
      fromBokeh: (s) => Number(s.value),
    }),
    bindTrait(model, "cursor", get("cursor-slider"), ["value"], {
      toBokeh: (v) => ({ value: v }),
      fromBokeh: (s) => s.value,
      debounceMs: 50,
    }),
    bindTrait(model, "x_range", get("time-range"), ["start", "end"], {
      toBokeh: ([start, end]) => ({ start, end }),
      fromBokeh: (r) => [r.start, r.end],
      debounceMs: 150,
    }),
    bindTrait(model, "y_range", get("price-range"), ["start", "end"], {
      toBokeh: ([start, end]) => ({ start, end }),
      fromBokeh: (r) => [r.start, r.end],
      debounceMs: 150,
    }),
  ];
  return () => unbind.forEach((f) => f());
}

/** Push the traits' current values into the figure (after an embed). */
export function syncFromTraits(model, doc) {
  const toggle = doc.get_model_by_name("layer-toggle");
  const { layers: order } = wireSpec(model);
  const layers = model.get("layers");
  const active = order.flatMap((l, i) => (layers.includes(l) ? [i] : []));
  if (!sameList(active, toggle.active)) toggle.active = active;
  const threshold = doc.get_model_by_name("threshold");
  if (threshold.value !== model.get("threshold")) threshold.value = model.get("threshold");
  const tiers = doc.get_model_by_name("tier-filter");
  const tier = tierValue(tiers, model.get("min_leverage"));
  if (tiers.value !== tier) tiers.value = tier;
  for (const [trait, name] of [["x_range", "time-range"], ["y_range", "price-range"]]) {
    const v = model.get(trait);
    if (v != null) doc.get_model_by_name(name).setv({ start: v[0], end: v[1] });
  }
}
