/* Theme pages: a permalink to one chart (/themes/<slug>?chart=<id>, as the export menu's "copy
 * link" gives) opens the page at that chart's heading, and keeps it there while the page settles.
 *
 * The page is still growing when Dash has drawn it: the charts above the one asked for are drawn
 * by plotly (loaded lazily) a moment later, and a chart's box can change height as its legend and
 * labels are laid out. One scroll made at a fixed delay ends up wherever the growth above pushes
 * the heading (it was found 800 px down, out of sight). So the heading is brought under the sticky
 * borough picker (its `scroll-margin-top`), focused for keyboard and screen-reader users, and
 * brought back each time the page's size changes, until the reader scrolls, clicks, touches or
 * types, or the page has been still for a while.
 */
(function () {
  var SETTLE_MS = 1500;    // the page still this long: it has settled
  var LONGEST_MS = 20000;  // never hold the page longer than this
  var USER = ["wheel", "touchstart", "pointerdown", "keydown"];

  function openAt(chartId) {
    if (!chartId) { return window.dash_clientside.no_update; }
    var started = Date.now(), lastChange = Date.now(), stopped = false, observer = null, timer = null;

    function heading() { return document.getElementById("chart-title-" + chartId); }
    function align() {
      var h = heading();
      if (!h) { return false; }
      h.scrollIntoView({ block: "start" });
      return true;
    }
    function stop() {
      if (stopped) { return; }
      stopped = true;
      if (observer) { observer.disconnect(); }
      if (timer) { clearInterval(timer); }
      USER.forEach(function (kind) { window.removeEventListener(kind, stop, true); });
    }
    USER.forEach(function (kind) { window.addEventListener(kind, stop, true); });

    // each change of the page's size (a chart drawn, a font loaded) before it settles: align again
    if (window.ResizeObserver) {
      observer = new ResizeObserver(function () {
        if (stopped) { return; }
        lastChange = Date.now();
        align();
      });
      observer.observe(document.body);
    }
    var focused = false;
    timer = setInterval(function () {
      var h = heading();
      if (!h) { if (Date.now() - started > LONGEST_MS) { stop(); } return; }
      var top = h.getBoundingClientRect().top;
      var margin = parseFloat(getComputedStyle(h).scrollMarginTop) || 0;
      if (Math.abs(top - margin) > 2 && !(window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 1)) {
        lastChange = Date.now();
        align();
      }
      if (!focused) {
        // focused once it is in place, without a second scroll
        focused = true;
        h.setAttribute("tabindex", "-1");
        align();
        h.focus({ preventScroll: true });
      }
      if (Date.now() - lastChange > SETTLE_MS || Date.now() - started > LONGEST_MS) { stop(); }
    }, 100);
    return window.dash_clientside.no_update;
  }

  // under the app's one clientside namespace (ClientsideFunction("explorer", name))
  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.explorer = Object.assign(window.dash_clientside.explorer || {}, { themeOpenAt: openAt });
})();
