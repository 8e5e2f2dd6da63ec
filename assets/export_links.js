/* Export links that follow the page's choices, in the browser (callbacks/export_menu.py,
 * callbacks/chart_builder.py), under the app's one clientside namespace:
 * window.dash_clientside.explorer.<name>, wired with ClientsideFunction("explorer", "<name>").
 * Image links end .png, .svg and .pdf, in the order of explorer.export.sizes.FORMATS. */
(function () {
  "use strict";
  var EMBED = /(^|[?&])embed=1(&|$)/;

  function noUpdate() { return window.dash_clientside.no_update; }

  function size(preset) { return "preset=" + encodeURIComponent(preset || "a4"); }

  function images(base, query, preset) {
    var q = "?" + (query ? query + "&" : "") + size(preset);
    return [base + ".png" + q, base + ".svg" + q, base + ".pdf" + q];
  }

  // A theme chart's images at the chosen size.
  function chartExportLinks(preset, target) {
    if (!target) { return noUpdate(); }
    return images("/export/chart/" + encodeURIComponent(target.theme) + "/" + encodeURIComponent(target.chart),
                  "", preset);
  }

  // The map's images and data, of the view its permalink query names (the map-url store).
  function mapExportLinks(search, preset) {
    var query = (search || "").replace(/^\?/, "");
    return images("/export/map", query, preset).concat(["/download/layer.zip" + (query ? "?" + query : "")]);
  }

  // The dataset page's chart builder: the address follows the chart (not in an embedded chart,
  // whose address is its own), and so do the images and data.
  function datasetChartLinks(target, preset) {
    if (!target) { return noUpdate(); }
    var path = "/dataset/" + encodeURIComponent(target.dataset);
    if (!EMBED.test(window.location.search)) {
      window.dash_clientside.explorer.replaceQuery(path, target.query ? "?" + target.query : "");
    }
    return images("/export/dataset-chart/" + encodeURIComponent(target.dataset), target.query, preset)
      .concat(["/download/dataset-chart/" + encodeURIComponent(target.dataset) + ".zip" +
               (target.query ? "?" + target.query : "")]);
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.explorer = Object.assign(window.dash_clientside.explorer || {}, {
    chartExportLinks: chartExportLinks,
    mapExportLinks: mapExportLinks,
    datasetChartLinks: datasetChartLinks
  });
})();
