// Fits liqwidget's map frames to their content (served as embed/frame-height.js).
//
// The same file plays both parts of a small postMessage exchange:
// - in a map page shown inside an iframe, it sends the page's height to the parent page
//   whenever it changes (the preview turning into the map, controls wrapping, rotation);
// - in the page around the iframe (a snapshot post, or any site that pastes the embed
//   snippet with this script), it sets each liqwidget iframe's height from those messages.
// The iframe's height attribute is the fallback without JavaScript. Messages carry only a
// number, are taken only from the window of one of the page's own iframes, and the height
// is kept within sane bounds.
(function () {
  "use strict";

  if (window.liqwidgetFrameHeight) {
    return; // the snippet pasted twice on one page
  }
  window.liqwidgetFrameHeight = true;

  const HEIGHT = "liqwidget:frame-height";
  const ASK = "liqwidget:frame-height?";
  const MIN = 120;
  const MAX = 6000;

  // ---- inside the iframe: tell the parent how tall this page is
  if (window.parent !== window) {
    let sent = 0;
    const send = function (always) {
      const root = document.documentElement;
      // The page's own height, plus a horizontal scroll bar's when a wide map has one.
      const height = Math.ceil(root.getBoundingClientRect().height) +
        Math.max(0, window.innerHeight - root.clientHeight);
      if (always === true || height !== sent) {
        sent = height;
        window.parent.postMessage({ type: HEIGHT, height: height }, "*");
      }
    };
    new ResizeObserver(function () {
      send(false);
    }).observe(document.documentElement);
    window.addEventListener("message", function (event) {
      if (event.source === window.parent && event.data && event.data.type === ASK) {
        send(true);
      }
    });
  }

  // ---- around the iframe: take each frame's height from its own messages
  window.addEventListener("message", function (event) {
    const data = event.data;
    if (!data || data.type !== HEIGHT || typeof data.height !== "number") {
      return;
    }
    if (!Number.isFinite(data.height)) {
      return;
    }
    const height = Math.min(Math.max(Math.round(data.height), MIN), MAX);
    for (const frame of document.querySelectorAll("iframe")) {
      if (frame.contentWindow === event.source) {
        // Under `box-sizing: border-box` the height includes the frame's borders.
        const borders = getComputedStyle(frame).boxSizing === "border-box"
          ? frame.offsetHeight - frame.clientHeight : 0;
        frame.style.height = height + borders + "px";
      }
    }
  });

  // Frames that loaded before this script did sent their height to nobody: ask again.
  function ask() {
    for (const frame of document.querySelectorAll("iframe")) {
      if (frame.contentWindow) {
        frame.contentWindow.postMessage({ type: ASK }, "*");
      }
    }
  }
  ask();
  window.addEventListener("load", ask);
})();
