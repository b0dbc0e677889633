// The map facade of liqwidget's embed pages.
//
// The page first shows the snapshot's preview image and key numbers: light, readable at
// once, no BokehJS. The interactive map (BokehJS plus the figure's document) is loaded only
// when the reader asks for it (click, tap or Enter on the facade), or at once when the page
// URL carries `?interactive` (or `#interactive`). Everything is loaded with plain <script>
// tags from this site, so it also works from the file system and under a strict
// Content-Security-Policy (no inline scripts, no fetch).
(function () {
  "use strict";

  const loaded = {};

  function loadScript(src) {
    if (!loaded[src]) {
      loaded[src] = new Promise(function (resolve, reject) {
        const el = document.createElement("script");
        el.src = src;
        el.async = false;
        el.onload = function () {
          resolve();
        };
        el.onerror = function () {
          reject(new Error("could not load " + src));
        };
        document.head.appendChild(el);
      });
    }
    return loaded[src];
  }

  async function activate(box) {
    if (box.dataset.state) {
      return;
    }
    box.dataset.state = "loading";
    const facade = box.querySelector(".lw-facade");
    const status = box.querySelector(".lw-status");
    status.textContent = "Loading the interactive map\u2026";
    try {
      for (const src of box.dataset.bokeh.split(" ")) {
        await loadScript(src);
      }
      await loadScript(box.dataset.doc);
      const item = (globalThis.liqwidgetDocs || {})[box.dataset.key];
      if (!item) {
        throw new Error("the map document " + box.dataset.doc + " did not register itself");
      }
      const target = box.querySelector(".lw-target");
      await globalThis.Bokeh.embed.embed_item(item, target);
      target.hidden = false;
      facade.remove();
      box.dataset.state = "ready";
      status.textContent = "";
    } catch (err) {
      box.dataset.state = "";
      status.textContent = "The interactive map could not load (" + err.message + "). The image above shows the same window.";
      console.error("liqwidget:", err);
    }
  }

  function init() {
    const wanted = /(^|[?&#])interactive\b/.test(location.search + location.hash);
    for (const box of document.querySelectorAll("[data-lw-map]")) {
      const facade = box.querySelector(".lw-facade");
      facade.addEventListener("click", function () {
        activate(box);
      });
      if (wanted) {
        activate(box);
      }
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
