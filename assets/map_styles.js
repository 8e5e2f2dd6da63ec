/* Style functions for dash-leaflet layers, parameterised by the layer's `hideout`.
 * Changing classes or colours changes only `hideout`: the geometry is not sent again.
 *
 * The hideout: what the scripts read of it. The contract, what each key means and the builders
 * every server-side writer uses, is explorer/maps/hideout.py; in the browser it is written by
 * assets/map_explorer.js (layerHideout, compareHideout: the map explorer's merge of values, style
 * and controls) and assets/theme_selection.js (mapStyles: a theme page's selection).
 * tests/unit/test_hideout_contract.py checks these lines against the contract and the scripts.
 *
 *   reads map_styles.js: uid pending hidden compared canvas role kind unit mode breaks colours colour line nodata values opacity
 *   reads canvas_layer.js: uid pending hidden compared geometry mode breaks colours colour line nodata values opacity
 *   reads first_view.js: geometry pending hidden compared
 *   reads theme_map.js: interactive pending hidden selected inside focus mode
 *   reads theme_selection.js: prefixes
 *   carried, read by no script (the legend is drawn on the server): labels no_data method_label
 */
window.explorer = Object.assign({}, window.explorer, {
  map: {
    classify: function (value, breaks) {          // one rule for every layer: assets/canvas_layer.js
      return window.explorer.canvas.classify(value, breaks);
    },
    outline: function () {
      return { color: "#00577d", weight: 1, opacity: 0.6, fill: true, fillColor: "#ffffff", fillOpacity: 0.15 };
    },
    hideouts: {},
    // The callbacks leave each layer's latest hideout here; a layer drawn by our own canvas
    // (assets/canvas_layer.js) repaints from it.
    setHideout: function (h) {
      window.explorer.map.hideouts[h.uid] = h;
      if (window.explorer.canvas) { window.explorer.canvas.restyle(h.uid); }
    },
    format: function (v) {
      if (v === null || v === undefined || Number.isNaN(v)) { return "no data"; }
      var a = Math.abs(v);
      return a >= 1000 ? Math.round(v).toLocaleString("en-GB") : Number(v.toPrecision(4)).toLocaleString("en-GB");
    },
    // Context drawn from our own data: the London outline and the Thames, so the map reads
    // well without internet tiles.
    context: function (feature, context) {
      var h = (context && context.hideout) || {};
      if (h.role === "thames") {
        return { color: "#7fb7d9", weight: 0.5, fillColor: "#a9d3ee", fillOpacity: 0.9 };
      }
      return { color: "#00577d", weight: 1.5, opacity: 0.8, fill: true, fillColor: "#ffffff", fillOpacity: 0.35 };
    },
    layerStyle: function (feature, context) {
      var h = (context && context.hideout) || {};
      var m = window.explorer.map;
      // dash-leaflet drops a hideout that arrives before the layer's geometry has loaded, so the
      // callbacks also leave the latest hideout here and a layer that loads late picks it up.
      if (h.uid) {
        if (h.pending && m.hideouts[h.uid] && !m.hideouts[h.uid].pending) { h = m.hideouts[h.uid]; }
        else { m.hideouts[h.uid] = h; }
      }
      if (h.pending) { return { opacity: 0, fillOpacity: 0 }; }
      if (h.hidden || h.compared) { return { opacity: 0, fillOpacity: 0, stroke: false, fill: false }; }
      var op = h.opacity === undefined ? 0.8 : h.opacity;
      if (h.mode === "outline") {
        return { color: h.line || "#1d2b36", weight: 2, opacity: Math.max(op, 0.2), fill: true, fillOpacity: 0 };
      }
      if (h.mode === "single") {
        return { color: "#ffffff", weight: 1, opacity: op, fillColor: h.colour, fillOpacity: op };
      }
      var i = feature.properties ? feature.properties._i : undefined;
      var v = (h.values && i !== undefined) ? h.values[i] : null;
      var fill = h.nodata || "#d9d9d9";
      if (v !== null && v !== undefined && h.breaks && h.colours) {
        fill = h.colours[m.classify(v, h.breaks)];
      }
      var point = h.kind === "points";
      return { fillColor: fill, fillOpacity: op, color: point ? "#ffffff" : "#ffffff",
               weight: point ? 1 : 0.4, opacity: Math.min(1, op + 0.1) };
    },
    layerPoint: function (feature, latlng, context) {
      return L.circleMarker(latlng, { radius: 5, weight: 1, color: "#ffffff", fillColor: "#d62a62", fillOpacity: 0.9 });
    },
    // One canvas per map for the big layers, in a pane between the London outline and the SVG
    // layers (layouts/map_explorer.py): thousands of SVG paths take a second to build, a canvas
    // paints them in one pass. Leaflet still hit-tests the canvas for hover and click.
    canvasFor: function (map) {
      if (!map._explorerCanvas) {
        if (!map.getPane("explorer-fill")) { map.createPane("explorer-fill").style.zIndex = 390; }
        map._explorerCanvas = L.canvas({ pane: "explorer-fill", padding: 0.3 });
      }
      return map._explorerCanvas;
    },
    // Called from onEachFeature, before the layer joins the map, so its renderer can still be chosen.
    paintOnCanvas: function (layer, context) {
      if (context && context.hideout && context.hideout.canvas && context.map && layer.options) {
        layer.options.renderer = window.explorer.map.canvasFor(context.map);
      }
    },
    // The tooltip's content for a shape of the layer ``uid``: name, code and the value shown.
    tooltipFor: function (uid, feature) {
      var m = window.explorer.map;
      var h = (uid && m.hideouts[uid]) || {};
      if (h.hidden || h.compared) { return ""; }
      var p = (feature && feature.properties) || {};
      var el = document.createElement("div");
      var name = document.createElement("strong");
      name.textContent = p._name === null || p._name === undefined ? (p._code || "") : String(p._name);
      el.appendChild(name);
      if (p._code && p._name) { el.appendChild(document.createTextNode(" · " + p._code)); }
      if (h.values && p._i !== undefined) {
        el.appendChild(document.createElement("br"));
        var v = h.values[p._i];
        el.appendChild(document.createTextNode(m.format(v) + (v !== null && v !== undefined && h.unit ? " " + h.unit : "")));
      }
      return el;
    },
    layerTooltip: function (feature, layer, context) {
      var uid = context && context.hideout ? context.hideout.uid : null;
      var m = window.explorer.map;
      m.paintOnCanvas(layer, context);
      if (!(context && context.hideout && context.hideout.canvas)) {
        // SVG shapes each get their own tooltip (which also opens when a shape has keyboard focus)
        layer.bindTooltip(function () { return m.tooltipFor(uid, feature); }, { sticky: true });
        return;
      }
      // A canvas layer gets one tooltip for all its shapes, bound to the layer's group once the
      // shapes have joined it (this runs for each shape before it does): thousands of tooltips,
      // each with its listeners, cost a fifth of the time to build the layer.
      if (context.__tooltipQueued) { return; }
      context.__tooltipQueued = true;
      Promise.resolve().then(function () {
        context.__tooltipQueued = false;
        var parents = layer._eventParents || {};
        Object.keys(parents).forEach(function (id) {
          var group = parents[id];
          if (group._explorerTooltip) { return; }
          group._explorerTooltip = true;
          group.bindTooltip(function (shape) { return m.tooltipFor(uid, shape && shape.feature); }, { sticky: true });
        });
      });
    }
  }
});
