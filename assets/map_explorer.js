/* Browser-side callbacks of the map explorer (callbacks/map_explorer.py), under the app's one
 * clientside namespace: window.dash_clientside.explorer.<name>, wired with
 * ClientsideFunction("explorer", "<name>").
 *
 * A layer's hideout (the contract: explorer/maps/hideout.py; what each script reads: the head of
 * assets/map_styles.js) is merged here from the layer's values (sent once per variable or year),
 * its style (breaks and colours, a few hundred bytes per restyle) and its card's controls, and the
 * map's address follows the map without a round trip through the router. */
(function () {
  "use strict";

  function noUpdate() { return window.dash_clientside.no_update; }

  // One layer's hideout: the keys explorer.maps.hideout.layer writes for the first paint.
  // In the compare view the layer on the right-hand map is hidden on the left one.
  function layerHideout(values, style, opacity, visible, compare, meta, id) {
    if (!style) { return noUpdate(); }
    var h = Object.assign({}, style);
    h.uid = id.index;
    h.values = values ? values.values : null;
    h.opacity = (opacity === undefined || opacity === null ? 80 : opacity) / 100;
    h.hidden = !(visible && visible.length);
    h.compared = Boolean(compare && compare.on && compare.uid === id.index);
    h.kind = meta ? meta.kind : null;
    h.unit = meta ? meta.unit : null;
    h.canvas = Boolean(meta && meta.canvas);
    window.explorer.map.setHideout(h);
    return h;
  }

  // The right-hand map of the compare view shows the chosen layer exactly as the panel styles it.
  function compareHideout(hideouts, compare, _url, ids) {
    if (!compare || !compare.on) { return noUpdate(); }
    for (var i = 0; i < ids.length; i++) {
      if (ids[i].index === compare.uid && hideouts[i]) {
        var h = Object.assign({}, hideouts[i]);
        h.uid = compare.uid + "-compare";
        h.hidden = false;
        h.compared = false;
        window.explorer.map.setHideout(h);
        return h;
      }
    }
    return noUpdate();
  }

  // The left map changes width when the compare view opens or closes: Leaflet must measure it
  // again once the browser has laid the page out (invalidateSize keeps its centre).
  function remeasure(_compare) {
    return new Promise(function (resolve) { setTimeout(function () { resolve(Date.now()); }, 60); });
  }

  // The two maps move together: each follows the other unless it is already there.
  function followView(center, zoom, otherCenter, otherZoom) {
    if (!center || zoom === undefined || zoom === null) { return noUpdate(); }
    var lat = Array.isArray(center) ? center[0] : center.lat;
    var lng = Array.isArray(center) ? center[1] : center.lng;
    if (otherCenter && otherZoom === zoom) {
      var olat = Array.isArray(otherCenter) ? otherCenter[0] : otherCenter.lat;
      var olng = Array.isArray(otherCenter) ? otherCenter[1] : otherCenter.lng;
      if (Math.abs(olat - lat) < 1e-7 && Math.abs(olng - lng) < 1e-7) { return noUpdate(); }
    }
    return { center: [lat, lng], zoom: zoom, transition: "setView" };
  }

  // The map's permalink (its query, written by explorer.maps.layers.MapState.to_search on the
  // server) becomes the address in place: no new history entry, and dcc.Location does not hear
  // of it, so the router does not draw the page again (explorer.replaceQuery, assets/pages.js).
  function showMapAddress(search) {
    if (typeof search === "string") { window.dash_clientside.explorer.replaceQuery("/map", search); }
    return noUpdate();
  }

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.explorer = Object.assign(window.dash_clientside.explorer || {}, {
    layerHideout: layerHideout,
    compareHideout: compareHideout,
    remeasure: remeasure,
    followView: followView,
    showMapAddress: showMapAddress
  });
})();
