// A post's embed snippet names the map page as "embed/…", relative to the site. Without a
// configured site URL, make those links this site's absolute URLs, so that the snippet can
// be copied as shown. The script sits in assets/liqwidget/, two levels below the site's root.
(function () {
  var root = new URL("../../", document.currentScript.src).href;
  document.querySelectorAll("pre code").forEach(function (el) {
    if (el.textContent.indexOf('src="embed/') >= 0) {
      el.textContent = el.textContent.split('src="embed/').join('src="' + root + "embed/");
    }
  });
})();
