// Layer toggle (CheckboxGroup "layer-toggle"): checkbox i shows the renderers of layer i.
// args.layers holds one list of renderers per layer, in the order of figure.callbacks.LAYERS.

/** Show each layer's renderers when its checkbox is ticked. */
export default function toggleLayers({ layers }, toggle) {
  const on = new Set(toggle.active);
  layers.forEach((renderers, i) => {
    for (const r of renderers) r.visible = on.has(i);
  });
}
