/* Theme pages: the map explorer's layer style (explorer.map.layerStyle, unchanged) plus the
 * page's selection. The hideout carries `selected` (GSS codes of the places picked on the map, in
 * a chart or with the borough picker) and `focus` (true when this layer holds one of them):
 *  - a selected feature is outlined in the charts' dark outline colour (the outline their selected
 *    points carry), thicker than its neighbours: orange would vanish on the warm air-quality scale;
 *  - in a layer that holds a selected feature the other features fade a little and keep their
 *    colours (the map still reads), so the outline stands out against its neighbours (3:1 or more)
 *    whatever the palette, and not by colour alone. */
window.explorer = Object.assign({}, window.explorer, {
  theme: {
    HIGHLIGHT: "#cc4a00",
    OUTLINE: "#353d42",
    FADED_FILL: 0.5,
    _lastList: null,
    _lastSet: null,
    selectedSet: function (list) {
      var t = window.explorer.theme;
      if (list !== t._lastList) {
        var set = {};
        for (var i = 0; i < list.length; i++) { set[String(list[i])] = true; }
        t._lastList = list;
        t._lastSet = set;
      }
      return t._lastSet;
    },
    // The map explorer's tooltips, but each area out of the Tab order: a map of 5,000 small
    // areas must not take 5,000 presses of Tab to get past. Keyboard users pick places with the
    // borough picker (and pan and zoom the map itself with the arrow and +/- keys).
    onEachFeature: function (feature, layer, context) {
      window.explorer.map.layerTooltip(feature, layer, context);
      layer.on("add", function () {
        var el = typeof layer.getElement === "function" ? layer.getElement() : null;
        if (el && el.setAttribute) { el.setAttribute("tabindex", "-1"); }
      });
    },
    layerStyle: function (feature, context) {
      var t = window.explorer.theme;
      var base = window.explorer.map.layerStyle(feature, context);
      var h = (context && context.hideout) || {};
      if (h.interactive === false) {
        // drawn on top (boundaries) without catching the pointer: areas beneath keep their
        // tooltips. Set before Leaflet adds the path, so it takes effect.
        base = Object.assign({}, base, { interactive: false });
      }
      if (h.pending || h.hidden || ((!h.selected || !h.selected.length) && !(h.inside && h.inside.length))) { return base; }
      var p = feature.properties || {};
      var code = p._code;
      var on = code !== undefined && code !== null && t.selectedSet(h.selected)[String(code)] === true;
      if (!on && h.inside && h.inside.length && /^E0[12]/.test(String(code)) && p._name) {
        // a borough picked in the browser: the small areas inside it, whose names begin with its
        // name (assets/theme_selection.js, as map_focus does on the server)
        for (var k = 0; k < h.inside.length && !on; k++) { on = String(p._name).indexOf(h.inside[k] + " ") === 0; }
      }
      if (on) {
        return Object.assign({}, base, { color: t.OUTLINE, weight: h.mode === "outline" ? 4 : 3, opacity: 1 });
      }
      if (h.focus && base.fillOpacity) {
        return Object.assign({}, base, { fillOpacity: Math.min(base.fillOpacity, t.FADED_FILL),
                                         opacity: Math.min(base.opacity === undefined ? 1 : base.opacity, 0.3) });
      }
      return base;
    }
  }
});
