/* Theme pages: a selection made in the browser, shown in the browser.
 *
 * Choosing a borough in the picker, clicking a bar, a line or a point, or drawing a box or lasso in
 * a chart sets the page's selection (the `theme-selection` store) here, and every chart and map
 * layer shows it here: no request goes to the server for that (only a click on the map asks the
 * server which places lie under the pointer, and the "selected place" panel's figures come from
 * the server).
 *
 *  - select(): picker, chart clicks and selections, Clear -> the selection {codes, names, label,
 *    source} and the picker's value;
 *  - highlight(): every chart restyled from the hints its traces carry in `meta` (`meta.hl` names how)
 *    (explorer/themes/charts.py, "selection hints"): the selected places' bars and points in the
 *    highlight orange with a dark outline, the others muted; a selected place's line drawn on top,
 *    orange and thick, with its name in the legend; a histogram's selected rows counted per bin and
 *    drawn over the muted bars. As the server draws an exported chart with `?highlight=`;
 *  - mapStyles(): each map layer's hideout given the codes to outline (and, for a borough, the
 *    small areas inside it, matched by name as their names begin with the borough's), read by
 *    explorer.theme.layerStyle (assets/theme_map.js).
 */
(function () {
  var GSS = /^[EWSNK]\d{8}$/;
  var HIGHLIGHT = "#cc4a00";
  var EMPTY = { codes: [], names: {}, label: "", source: null, at: [] };

  function noUpdate() { return window.dash_clientside.no_update; }

  function triggered() {
    var ctx = window.dash_clientside.callback_context || {};
    var first = (ctx.triggered || [])[0];
    if (!first || !first.prop_id || first.prop_id === ".") { return null; }
    var cut = first.prop_id.lastIndexOf(".");
    var id = first.prop_id.slice(0, cut);
    try { id = JSON.parse(id); } catch (e) { /* a plain string id */ }
    return { id: id, prop: first.prop_id.slice(cut + 1), value: first.value };
  }

  // plotly.py sends numeric arrays as {dtype, bdata} (base64 of the typed array): read as a list
  var TYPED = { f8: Float64Array, f4: Float32Array, i4: Int32Array, u4: Uint32Array, i2: Int16Array,
                u2: Uint16Array, i1: Int8Array, u1: Uint8Array };
  function list(value) {
    if (Array.isArray(value)) { return value; }
    if (value && typeof value.bdata === "string" && TYPED[value.dtype]) {
      var raw = atob(value.bdata), bytes = new Uint8Array(raw.length);
      for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
      return Array.prototype.slice.call(new TYPED[value.dtype](bytes.buffer));
    }
    return value == null ? [] : [value];
  }

  function setOf(list) {
    var set = {};
    (list || []).forEach(function (c) { set[String(c)] = true; });
    return set;
  }

  function plainText(text) {
    return String(text == null ? "" : text).replace(/<br>/g, " ").replace(/\s+/g, " ").trim();
  }

  function shorten(text, n) {
    if (text.length <= n) { return text; }
    var cut = text.slice(0, n - 1);
    var space = cut.lastIndexOf(" ");
    return (space > 0 ? cut.slice(0, space) : cut) + "\u2026";
  }

  // ------------------------------------------------------------------------------ the selection
  function chartPick(chartId, data, pickerOptions) {
    var points = (data && data.points) || [];
    var codes = [], names = {};
    var known = {};
    (pickerOptions || []).forEach(function (o) { known[o.value] = o.label; });
    points.forEach(function (point) {
      var custom = point.customdata;
      var values = Array.isArray(custom) ? custom : [custom];
      values.forEach(function (value) {
        if (typeof value === "string" && GSS.test(value) && codes.indexOf(value) < 0 && codes.length < 2000) {
          codes.push(value);
          var name = known[value] || point.hovertext ||
            (typeof point.y === "string" ? point.y : null) || (point.data && point.data.meta && point.data.meta.name);
          if (name) { names[value] = plainText(name); }
        }
      });
    });
    if (!codes.length) { return null; }
    var label;
    if (codes.length === 1) {
      label = names[codes[0]] || codes[0];
    } else {
      var heading = document.getElementById("chart-title-" + chartId);
      var title = heading ? plainText(heading.textContent) : chartId;
      label = codes.length.toLocaleString("en-GB") + " places selected in the chart \u201c" + shorten(title, 70) + "\u201d";
    }
    return { codes: codes, names: names, label: label, source: "chart", chart: chartId, at: [] };
  }

  function select(picked, chartClicks, chartSelections, clearClicks, current, pickerOptions) {
    var t = triggered();
    if (!t) { return [noUpdate(), noUpdate()]; }
    if (t.id === "theme-clear") { return [EMPTY, null]; }
    if (t.id === "theme-picker") {
      if (!picked) { return [EMPTY, noUpdate()]; }
      // the picker set by a click on the map or in a chart: that selection stands
      if (current && current.source !== "picker" && (current.codes || []).indexOf(picked) >= 0) {
        return [noUpdate(), noUpdate()];
      }
      var label = picked;
      (pickerOptions || []).forEach(function (o) { if (o.value === picked) { label = o.label; } });
      var names = {};
      names[picked] = label;
      return [{ codes: [picked], names: names, label: label, source: "picker", at: [] }, noUpdate()];
    }
    if (t.id && t.id.type === "theme-chart") {
      // a selection that empties (the figure was redrawn) sends nothing and changes nothing
      var place = chartPick(t.id.index, t.value, pickerOptions);
      if (!place) { return [noUpdate(), noUpdate()]; }
      var one = place.codes.length === 1 && /^E09/.test(place.codes[0]) ? place.codes[0] : null;
      return [place, one];
    }
    return [noUpdate(), noUpdate()];
  }

  // ------------------------------------------------------------------------------ the charts
  function matches(hint, i, code, selected) {
    if (code != null && selected[String(code)]) { return true; }
    var g = hint.groups;
    if (g && g.index && g.index[i] >= 0 && selected[g.codes[g.index[i]]]) { return true; }
    return false;
  }

  function restyleBars(trace, hint, selected) {
    var codes = list(trace.customdata);
    var n = list(trace.x).length, flags = [], any = false, i;
    for (i = 0; i < n; i++) { flags.push(matches(hint, i, codes[i], selected)); any = any || flags[i]; }
    var marker = Object.assign({}, trace.marker || {});
    if (!any) {
      marker.color = hint.none.color;
      marker.opacity = hint.none.opacity;
      marker.line = Object.assign({}, marker.line || {}, { color: "rgba(0,0,0,0)", width: 0 });
    } else {
      marker.color = flags.map(function (f) { return f ? hint.on.color : hint.off.color; });
      marker.opacity = flags.map(function (f) { return f ? hint.on.opacity : hint.off.opacity; });
      marker.line = Object.assign({}, marker.line || {}, {
        color: flags.map(function (f) { return f ? hint.on.line : "rgba(0,0,0,0)"; }),
        width: flags.map(function (f) { return f ? hint.on.width : 0; })
      });
    }
    trace.marker = marker;
    return any;
  }

  function pickIndex(value, flags) {
    if (value == null) { return value; }
    var items = list(value), out = [];
    for (var i = 0; i < flags.length; i++) { if (flags[i]) { out.push(items[i]); } }
    return out;
  }

  function overlayPoints(trace, hint, selected) {
    var codes = list(trace.customdata);
    var n = list(trace.x).length, flags = [], count = 0, i;
    for (i = 0; i < n; i++) { flags.push(matches(hint, i, codes[i], selected)); if (flags[i]) { count++; } }
    var marker = Object.assign({}, trace.marker || {});
    marker.color = count ? hint.off.color : hint.none.color;
    trace.marker = marker;
    if (!count) { return null; }
    return {
      type: "scatter", mode: "markers", x: pickIndex(trace.x, flags), y: pickIndex(trace.y, flags),
      xaxis: trace.xaxis, yaxis: trace.yaxis,
      customdata: pickIndex(trace.customdata, flags), hovertext: pickIndex(trace.hovertext, flags),
      hovertemplate: trace.hovertemplate, name: "Selected (" + count.toLocaleString("en-GB") + ")",
      marker: { color: hint.on.color, size: hint.on.size, opacity: hint.on.opacity,
                line: { color: hint.on.line, width: hint.on.width } },
      meta: { hl: "added" }
    };
  }

  function overlayHistogram(trace, hint, selected) {
    var bins = hint.bins || [], counts = list(trace.x).map(function () { return 0; }), total = 0;
    for (var i = 0; i < bins.length; i++) {
      if (bins[i] >= 0 && matches(hint, i, hint.codes ? hint.codes[i] : null, selected)) {
        counts[bins[i]] += 1;
        total += 1;
      }
    }
    var marker = Object.assign({}, trace.marker || {});
    marker.color = total ? hint.off.color : hint.none.color;
    trace.marker = marker;
    if (!total) { return null; }
    return {
      type: "bar", x: trace.x, y: counts, width: trace.width, xaxis: trace.xaxis, yaxis: trace.yaxis,
      name: "Selected (" + total.toLocaleString("en-GB") + ")", customdata: trace.customdata,
      hovertemplate: hint.hover,
      marker: { color: hint.on.color, line: { color: hint.on.line, width: hint.on.width } },
      meta: { hl: "added" }
    };
  }

  // a trace's hint: its meta, when that says how to show a selection ({hl: "bars"|"points"|…})
  function hintOf(trace) {
    var meta = trace.meta;
    return meta && typeof meta.hl === "string" && meta.hl !== "added" ? meta : null;
  }

  function restyleFigure(figure, selected) {
    var data = (figure.data || []).filter(function (tr) { return !(tr.meta && tr.meta.hl === "added"); });
    if (!data.some(function (tr) { return hintOf(tr); })) { return null; }
    var out = Object.assign({}, figure, { layout: Object.assign({}, figure.layout) });
    var traces = [], added = [], lifted = [];
    var anyPerPanel = {};
    function panel(tr) { return (tr.xaxis || "x") + "/" + (tr.yaxis || "y"); }
    data.forEach(function (tr) {
      var hint = hintOf(tr);
      if (hint && hint.hl === "line" && selected[hint.code]) { anyPerPanel[panel(tr)] = true; }
    });
    var legendGiven = false;
    data.forEach(function (original) {
      var tr = Object.assign({}, original);
      var hint = hintOf(tr);
      if (!hint) { traces.push(tr); return; }
      if (hint.hl === "bars") {
        restyleBars(tr, hint, selected);
      } else if (hint.hl === "points") {
        var extra = overlayPoints(tr, hint, selected);
        if (extra) { added.push(extra); }
      } else if (hint.hl === "hist") {
        var bars = overlayHistogram(tr, hint, selected);
        if (bars) { added.push(bars); out.layout.barmode = "overlay"; }
      } else if (hint.hl === "line") {
        var line = Object.assign({}, tr.line || {});
        if (selected[hint.code]) {
          line.color = hint.on.color;
          line.width = hint.on.width;
          tr.line = line;
          tr.opacity = 1;
          tr.mode = "lines+markers";
          tr.marker = Object.assign({}, tr.marker || {}, { size: 6 });
          if (hint.context) {
            tr.name = hint.name;
            tr.legendgroup = hint.code;
            tr.showlegend = !!hint.legend;
          }
          lifted.push(tr);   // drawn over the others
          return;
        }
        line.color = anyPerPanel[panel(tr)] ? hint.off.color : hint.none.color;
        tr.line = line;
        if (hint.context) {
          // one legend entry for the context lines, on the first one still drawn as context
          tr.showlegend = !!hint.legend && !legendGiven;
          if (hint.legend) { legendGiven = true; }
        }
      }
      traces.push(tr);
    });
    out.data = traces.concat(lifted, added);
    return out;
  }

  function highlight(selection, figures) {
    var selected = setOf((selection && selection.codes) || []);
    return (figures || []).map(function (figure) {
      if (!figure) { return noUpdate(); }
      var restyled = restyleFigure(figure, selected);
      return restyled || noUpdate();
    });
  }

  // ------------------------------------------------------------------------------ the map
  function mapStyles(selection, visible, visibleIds, hideouts, geoIds) {
    var sel = selection || {};
    var codes = sel.codes || [];
    var shown = {};
    (visibleIds || []).forEach(function (id, i) { shown[id.index] = !!(visible[i] && visible[i].length); });
    var boroughsOnly = codes.length > 0 && codes.every(function (c) { return /^E09/.test(c); });
    // a borough picked in the browser also outlines the small areas inside it (by name)
    var inside = (!sel.map_codes && boroughsOnly)
      ? codes.map(function (c) { return (sel.names || {})[c]; }).filter(Boolean) : [];
    return (hideouts || []).map(function (h, i) {
      var out = Object.assign({}, h || {});
      var uid = geoIds[i].index;
      out.selected = sel.map_codes || codes;
      out.inside = inside;
      if (sel.focus) {
        out.focus = sel.focus.indexOf(uid) >= 0;
      } else {
        var prefixes = out.prefixes || [];
        out.focus = codes.some(function (c) { return prefixes.indexOf(c.slice(0, 3)) >= 0; }) ||
          (inside.length > 0 && (prefixes.indexOf("E01") >= 0 || prefixes.indexOf("E02") >= 0));
      }
      if (uid in shown) { out.hidden = !shown[uid]; }
      return out;
    });
  }

  // under the app's one clientside namespace (ClientsideFunction("explorer", name))
  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.explorer = Object.assign(window.dash_clientside.explorer || {}, {
    themeSelect: select, themeHighlight: highlight, themeMapStyles: mapStyles, themeRestyleFigure: restyleFigure
  });
})();
