// The always-current live page: embed the live map once, then poll the data file that
// `liqwidget live` rewrites after each bar and put the new arrays into the open map.
// Works from any static host; loads nothing from other hosts; says how old its data is.

import { applyProps, decodeColumn } from "./wire.js";

const state = (globalThis.__liqwidgetLive = {
  updates: 0,
  embeds: 0,
  written: null,
  state: "waiting",
  errors: 0,
});

function bytes(b64) {
  const text = atob(b64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out.buffer;
}

async function getJSON(url) {
  const res = await fetch(url, { cache: "no-cache" });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

/** Load a same-site script (the map's precompiled callbacks) and wait for it. */
function loadScript(src) {
  return new Promise((resolve, reject) => {
    const el = document.createElement("script");
    el.src = src;
    el.onload = resolve;
    el.onerror = () => reject(new Error(`${src}: could not load`));
    document.head.appendChild(el);
  });
}

function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

function when(ms) {
  const t = new Date(Number(ms));
  if (Number.isNaN(t.getTime())) return "an unknown time"; // never stop the status line
  return t.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

/** Put one data file into the open map; keep the reader's zoom and cursor unless they follow the end. */
function apply(Bokeh, doc, data, previous) {
  for (const [name, cols] of Object.entries(data.sources)) {
    const source = doc.get_model_by_name(name);
    if (source == null) throw new Error(`no data source named ${name} in the live map`);
    const out = {};
    for (const [col, spec] of Object.entries(cols)) {
      out[col] = spec && spec.dtype ? decodeColumn(Bokeh, { ...spec, data: bytes(spec.data) }) : spec;
    }
    source.data = out;
  }
  const props = structuredClone(data.props);
  const slider = doc.get_model_by_name("cursor-slider");
  if (previous) {
    // The reader moved the view or the cursor: leave them where they are.
    const x = doc.get_model_by_name("time-range");
    const y = doc.get_model_by_name("price-range");
    const was = previous.props;
    const followX = x.start === was["time-range"].start && x.end === was["time-range"].end;
    const followY = y.start === was["price-range"].start && y.end === was["price-range"].end;
    if (!followX) delete props["time-range"];
    if (!followY) delete props["price-range"];
    if (slider.value < was["cursor-slider"].end - 1) {
      const value = Math.min(Math.max(slider.value, props["cursor-slider"].start), props["cursor-slider"].end);
      props["cursor-slider"].value = value;
      props["cursor-span"] = { location: value };
    }
  }
  applyProps(doc, props);
  slider.properties.value.change.emit(); // redraw the levels panel from the new frames
}

function showStatus(el, data, failing) {
  const now = Date.now();
  if (!data) {
    el.dataset.state = "waiting";
    el.textContent = failing
      ? `No live data here yet (${failing}). Start \`liqwidget live\` with --out pointing at this site.`
      : "Waiting for live data…";
    return "waiting";
  }
  const age = now - data.last_bar_close;
  const stale = age > data.stale_after_ms || failing;
  const label = stale ? "STALE" : "LIVE";
  let text =
    `${label} · ${data.title} · newest bar closed ${ago(age)} ago (${when(data.last_bar_close)})` +
    ` · file written ${ago(now - data.written)} ago`;
  const candles = data.health?.candles;
  if (candles?.failing_since) text += ` · exchange not answering since ${when(candles.failing_since)}`;
  const feed = data.health?.liquidations;
  if (feed?.connected === false) text += " · liquidation feed disconnected (reconnecting)";
  if (feed?.warning) text += ` · liquidation feed: ${String(feed.warning)}`;
  const mix = data.health?.mix;
  if (mix) {
    text += mix.learned
      ? ` · leverage mix learned from ${Number(mix.events).toLocaleString("en")} liquidations`
      : ` · prior leverage mix (${String(mix.reason)})`;
  }
  if (failing) text += ` · cannot read the data file (${failing})`;
  if (stale) text += " — the map below is not current.";
  el.dataset.state = stale ? "stale" : "live";
  el.textContent = text;
  return el.dataset.state;
}

function picker(el, markets, slug) {
  if (!el || markets.length < 2) return;
  el.replaceChildren(
    ...markets.map((m) => {
      const a = document.createElement("a");
      a.href = `?market=${encodeURIComponent(m.slug)}`;
      a.textContent = m.title;
      if (m.slug === slug) a.setAttribute("aria-current", "page");
      return a;
    }),
  );
}

async function main() {
  const root = document.querySelector("[data-liqwidget-live]");
  if (!root) return;
  const base = root.dataset.base;
  const status = root.querySelector(".lw-live-status");
  const mapEl = root.querySelector(".lw-live-map");
  const Bokeh = globalThis.Bokeh;
  let index = null;
  while (index == null) {
    try {
      index = await getJSON(`${base}index.json`);
      if (!index.markets?.length) throw new Error("no markets listed");
    } catch (err) {
      index = null;
      showStatus(status, null, err.message);
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
  const wanted = new URLSearchParams(location.search).get("market");
  const slug = index.markets.some((m) => m.slug === wanted) ? wanted : index.markets[0].slug;
  picker(root.querySelector(".lw-live-markets"), index.markets, slug);
  let shown = null;
  let failing = null;
  let doc = null;
  let docTiers = null;
  let timer = 5000;
  const embed = async () => {
    const skeleton = await getJSON(`${base}${slug}-doc.json`);
    if (skeleton.callbacks) await loadScript(`${base}${skeleton.callbacks}`);
    if (doc != null) doc.clear();
    mapEl.replaceChildren();
    const views = [...(await Bokeh.embed.embed_item(skeleton.item, mapEl))];
    doc = views[0].model.document;
    docTiers = JSON.stringify(skeleton.tiers ?? null);
    shown = null;
    state.embeds += 1;
  };
  const tick = async () => {
    try {
      if (doc == null) await embed();
      const data = await getJSON(`${base}${slug}.json`);
      if (data.format !== 1) throw new Error(`data format ${data.format} is not understood`);
      // New leverage tiers (a newly learned mix) come with a new skeleton: embed it again.
      if (data.tiers && JSON.stringify(data.tiers) !== docTiers) await embed();
      if (shown == null || data.written !== shown.written) {
        apply(Bokeh, doc, data, shown);
        shown = data;
        state.updates += 1;
        state.written = data.written;
        state.lastBarClose = data.last_bar_close;
      }
      timer = data.poll_ms || timer;
      failing = null;
    } catch (err) {
      failing = err.message;
      state.errors += 1;
    }
    state.state = showStatus(status, shown, failing);
    setTimeout(tick, timer);
  };
  setInterval(() => (state.state = showStatus(status, shown, failing)), 1000);
  tick();
}

main();
