/* Browser-side callbacks of the frame around every page (callbacks/router.py,
 * callbacks/export_menu.py), under the app's one clientside namespace:
 * window.dash_clientside.explorer.<name>, wired with ClientsideFunction("explorer", "<name>"). */
(function () {
  "use strict";
  var EMBED = /(^|[?&])embed=1(&|$)/;

  function noUpdate() { return window.dash_clientside.no_update; }

  // The tab's title follows the page; at phone width the catalogue's filters and the map's layer
  // drawer start folded, so results and the map come first.
  function pageShown(title) {
    if (title) { document.title = title; }
    setTimeout(function () {
      if (window.innerWidth < 860) {
        document.querySelectorAll("details.facets-drawer, details.layer-drawer").forEach(function (d) { d.open = false; });
      }
    }, 0);
    return noUpdate();
  }

  // ?embed=1 hides the header, footer and panels. Sticky for the page's life: the map and the chart
  // builder rewrite their addresses.
  function embedMode(search) {
    if (EMBED.test(search || "")) {
      document.documentElement.classList.add("embed");
      return true;
    }
    return document.documentElement.classList.contains("embed");
  }

  // Replace the address's query without a new history entry and without telling dcc.Location (so
  // the router does not draw the page again): the map and the chart builder keep their state
  // there. An embedded view keeps its ?embed=1, so a reload stays embedded.
  function replaceQuery(path, search) {
    if (window.location.pathname !== path) { return false; }   // the person has gone elsewhere
    search = search && search !== "?" ? (search.charAt(0) === "?" ? search : "?" + search) : "";
    if (EMBED.test(window.location.search) && !EMBED.test(search)) {
      search = (search ? search + "&" : "?") + "embed=1";
    }
    if (window.location.search === search) { return false; }
    window.history.replaceState(window.history.state, "", path + search + window.location.hash);
    return true;
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.explorer = Object.assign(window.dash_clientside.explorer || {}, {
    pageShown: pageShown,
    embedMode: embedMode,
    replaceQuery: replaceQuery
  });
})();
