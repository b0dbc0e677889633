// When the document is ready: name each slider's handle (role="slider", drawn by BokehJS
// with no name) after its slider's title, so screen readers say what it sets.

/** Give every handle of `sliders[i]` the accessible name `names[i]`. */
export default function nameSliders({ sliders, names }, _ready, { cb_context }) {
  sliders.forEach((slider, i) => {
    for (const view of cb_context.index.find(slider)) {
      for (const handle of view.shadow_el.querySelectorAll('[role="slider"]')) {
        handle.setAttribute("aria-label", names[i]);
      }
    }
  });
}
