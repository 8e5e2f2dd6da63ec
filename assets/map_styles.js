/* Style functions for dash-leaflet layers, parameterised by the layer's `hideout`.
 * Changing classes or colours changes only `hideout`: the geometry is not sent again. */
window.explorer = Object.assign({}, window.explorer, {
  map: {
    classify: function (value, breaks) {
      var i = 0;
      while (i < breaks.length && value > breaks[i]) { i++; }
      return i;
    },
    outline: function () {
      return { color: "#00577d", weight: 1, opacity: 0.6, fill: true, fillColor: "#ffffff", fillOpacity: 0.15 };
    },
    choropleth: function (feature, context) {
      var h = (context && context.hideout) || {};
      var colours = h.colours || ["#007acc"];
      var breaks = h.breaks || [];
      var value = feature.properties ? feature.properties._value : undefined;
      var fill = colours[0];
      if (breaks.length) {
        fill = (value === null || value === undefined) ? h.nodata : colours[window.explorer.map.classify(value, breaks)];
      }
      var opacity = h.opacity === undefined ? 0.8 : h.opacity;
      return { fillColor: fill, fillOpacity: opacity, color: "#ffffff", weight: 0.6, opacity: 0.9 };
    },
    point: function (feature, latlng, context) {
      var h = (context && context.hideout) || {};
      return L.circleMarker(latlng, { radius: 4, color: "#ffffff", weight: 1, fillColor: h.point || "#d62a62", fillOpacity: 0.9 });
    },
    tooltip: function (feature, layer) {
      var p = feature.properties || {};
      var el = document.createElement("div");
      var name = document.createElement("strong");
      name.textContent = p._name === undefined || p._name === null ? "" : String(p._name);
      el.appendChild(name);
      if (p._code) { el.appendChild(document.createTextNode(" " + p._code)); }
      if (p._value !== undefined) {
        el.appendChild(document.createElement("br"));
        el.appendChild(document.createTextNode(p._value === null ? "no data" : Number(p._value).toLocaleString("en-GB")));
      }
      if (name.textContent || p._value !== undefined) { layer.bindTooltip(el, { sticky: true }); }
    }
  }
});
