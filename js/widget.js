// Front end of liqwidget.LiquidationMap: embed the Bokeh figure, fill it from binary
// buffers, and keep its controls and ranges in step with the Python traits.

import { bindAll, syncFromTraits } from "./bind.js";
import { ensureBokeh } from "./bokeh_loader.js";
import { applyProps, applySource, wireSpec } from "./wire.js";

/** Resolve after the browser has painted (two animation frames). */
const painted = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));

/** BokehJS only embeds into elements attached to the page; views may be attached later. */
function attached(el, timeoutMs = 60000) {
  if (el.isConnected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const poll = () => {
      if (el.isConnected) resolve();
      else if (performance.now() - start > timeoutMs) reject(new Error("widget view was never attached to the page"));
      else requestAnimationFrame(poll);
    };
    poll();
  });
}

function render({ model, el, experimental }) {
  const t0 = performance.now();
  const root = document.createElement("div");
  root.className = "liqwidget";
  const status = document.createElement("div");
  status.className = "liqwidget-status";
  status.style.cssText = "font: 12px sans-serif; color: #64748b; padding: 4px 0";
  status.textContent = "Loading the liquidation map…";
  const host = document.createElement("div");
  root.append(status, host);
  el.appendChild(root);

  let Bokeh = null;
  let views = [];
  let doc = null;
  let unbind = () => {};
  let closed = false;
  let first = true;
  let queue = Promise.resolve();

  const fail = (err) => {
    console.error("liqwidget:", err);
    status.style.color = "#b91c1c";
    status.textContent =
      `liqwidget could not draw the map: ${err.message}. ` +
      "Re-run the cell; if it persists, restart the kernel (the browser console has details).";
  };

  // The trait values last put into this view's document (an update ships only changed ones).
  let shown = {};

  async function draw() {
    const seq = model.get("_seq");
    if (doc == null || !seq) return;
    const start = performance.now();
    for (const [trait, name] of Object.entries(wireSpec(model).sources)) {
      const cols = model.get(trait);
      if (cols !== shown[trait]) applySource(Bokeh, doc, name, cols);
      shown[trait] = cols;
    }
    applyProps(doc, model.get("_props"));
    // Recompute the levels panel for the cursor from the new stored frames.
    doc.get_model_by_name("cursor-slider").properties.value.change.emit();
    performance.measure("liqwidget:apply", { start, end: performance.now() });
    await painted();
    if (closed) return;
    const end = performance.now();
    const label = first ? "liqwidget:first-render" : "liqwidget:update";
    performance.measure(label, { start: first ? t0 : start, end });
    first = false;
    status.textContent = "";
    model.set("rendered", seq);
    model.set("_render_log", { seq, at: Date.now(), ms: end - start, label });
    model.save_changes();
  }

  async function embed() {
    unbind();
    for (const v of views) v.remove();
    views = [];
    host.replaceChildren();
    const target = document.createElement("div");
    host.appendChild(target);
    const t = performance.now();
    const manager = await Bokeh.embed.embed_item(structuredClone(model.get("_spec")), target);
    views = [...manager];
    performance.measure("liqwidget:embed", { start: t, end: performance.now() });
    if (closed) return;
    doc = views[0].model.document;
    shown = {};
    syncFromTraits(model, doc);
    unbind = bindAll(model, doc);
    await draw();
  }

  // Serialise work so a data update never races an embed.
  const enqueue = (job) => {
    queue = queue.then(() => (closed ? null : job())).catch(fail);
  };
  const onSpec = () => enqueue(embed);
  const onData = () => enqueue(draw);  // _seq changes last in every update

  enqueue(async () => {
    Bokeh = await ensureBokeh(experimental?.invoke, model.get("bokeh_version"));
    await attached(host);
    await embed();
  });
  model.on("change:_spec", onSpec);
  model.on("change:_seq", onData);

  return () => {
    closed = true;
    model.off("change:_spec", onSpec);
    model.off("change:_seq", onData);
    unbind();
    for (const v of views) v.remove();
  };
}

export default { render };
