/* Big polygon and line layers of the map explorer, drawn by our own canvas layer.
 *
 * Leaflet's own way (GeoJSON decoded into objects, then one L.Polygon per shape, each with its
 * LatLngs projected one by one) took about a third of a second for the 4,994 LSOAs before the
 * first pixel. This layer reads the geobuf the server sends (explorer/maps/layer_geometry.py, encoded
 * by explorer/geo/geobuf.py) straight into typed arrays of Web Mercator coordinates, and paints every shape from them in one pass at each
 * view: no object per shape or per coordinate.
 *
 * The Dash side (layouts/map_explorer.py) is a dl.LayerGroup, whose arrival on the map attaches
 * this layer and whose removal takes it away, holding a dl.GeoJSON without data whose hideout
 * names the geometry. Its style comes from the same hideout the SVG layers use, kept in
 * window.explorer.map.hideouts by the callbacks, and a hideout change repaints it: the geometry
 * is never fetched again. Hover shows the same tooltip as the SVG layers; a click goes to the
 * map, whose click callback reports every visible layer at that place.
 *
 * The same reading and painting draw a map's first view before Dash has started
 * (assets/first_view.js, showView below): this script is loaded by the index page itself, right
 * after the page's static copy (explorer/web/first_paint.py), and needs Leaflet only once a live map
 * attaches a layer.
 */
(function () {
  "use strict";
  var PANE = "explorer-fill";            // between the London outline (350) and the SVG layers (400)
  var MAX_CACHED = 6;                    // decoded geometries kept, by URL, for layers re-added
  var geometries = new Map();            // url -> Promise of decoded geometry
  var layers = {};                       // uid -> the CanvasLayer drawing it

  // ---------------------------------------------------------------------------------------------
  // geobuf (geobuf.proto v3) into typed arrays
  // ---------------------------------------------------------------------------------------------
  function Reader(buffer) {
    this.buf = new Uint8Array(buffer);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.pos = 0;
  }
  Reader.prototype.varint = function () {
    var buf = this.buf, pos = this.pos, b, value = 0, mul = 1;
    do {
      if (pos >= buf.length) { throw new Error("truncated varint at byte " + this.pos); }
      b = buf[pos++];
      value += (b & 0x7f) * mul;
      mul *= 128;
    } while (b >= 0x80);
    this.pos = pos;
    return value;
  };
  Reader.prototype.svarint = function () {
    var v = this.varint();
    return v % 2 === 1 ? -(v + 1) / 2 : v / 2;
  };
  Reader.prototype.end = function () {       // the end of a length-delimited field starting here
    var len = this.varint(), end = this.pos + len;
    if (end > this.buf.length) { throw new Error("field runs past the end of the file at byte " + this.pos); }
    return end;
  };
  Reader.prototype.string = function () {
    var end = this.end(), buf = this.buf, text = "", i;
    // names and codes are mostly short ASCII: built here, they skip a TextDecoder call each
    for (i = this.pos; i < end && buf[i] < 0x80 && i - this.pos < 64; i++) { text += String.fromCharCode(buf[i]); }
    if (i < end) { text = decoder.decode(buf.subarray(this.pos, end)); }
    this.pos = end;
    return text;
  };
  Reader.prototype.skip = function (wire) {
    if (wire === 0) { this.varint(); }
    else if (wire === 1) { this.pos += 8; }
    else if (wire === 2) { this.pos = this.end(); }
    else if (wire === 5) { this.pos += 4; }
    else { throw new Error("unknown protobuf wire type " + wire + " at byte " + this.pos); }
  };
  var decoder = new TextDecoder("utf-8");

  function Growing(Type, size) { this.Type = Type; this.a = new Type(size); this.n = 0; }
  Growing.prototype.push = function (v) {
    if (this.n === this.a.length) {
      var bigger = new this.Type(this.a.length * 2);
      bigger.set(this.a);
      this.a = bigger;
    }
    this.a[this.n++] = v;
  };
  Growing.prototype.done = function () { return this.a.subarray(0, this.n); };

  var MAX_SIN = Math.sin(85.0511287798 * Math.PI / 180);   // Leaflet's Web Mercator limit

  // Web Mercator at zoom 0 scaled to [0, 1], as Leaflet's EPSG:3857 projects before scaling by
  // 256 * 2^zoom: x from longitude, y from latitude (north up).
  function mercX(lon) { return lon / 360 + 0.5; }
  function mercY(lat) {
    var s = Math.max(Math.min(Math.sin(lat * Math.PI / 180), MAX_SIN), -MAX_SIN);
    return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
  }

  function decode(buffer) {
    var r = new Reader(buffer), keys = [], dim = 2, precision = 6, collection = null;
    while (r.pos < r.buf.length) {
      var tag = r.varint(), field = Math.floor(tag / 8), wire = tag & 7;
      if (field === 1 && wire === 2) { keys.push(r.string()); }
      else if (field === 2 && wire === 0) { dim = r.varint(); }
      else if (field === 3 && wire === 0) { precision = r.varint(); }
      else if (field === 4 && wire === 2) { var e = r.end(); collection = [r.pos, e]; r.pos = e; }
      else { r.skip(wire); }
    }
    if (!collection) { throw new Error("no feature collection in the geometry file"); }
    var g = {
      // every coordinate takes at least a byte of the file, so the file's size bounds them
      xy: new Growing(Float64Array, Math.max(r.buf.length, 16)), rings: new Growing(Uint32Array, 1 << 12),
      featRing: new Growing(Uint32Array, 1 << 10), index: [], names: [], codes: [],
      closed: true, dim: dim, e: Math.pow(10, precision)
    };
    g.rings.push(0);
    r.pos = collection[0];
    while (r.pos < collection[1]) {
      var t = r.varint();
      if (Math.floor(t / 8) === 1 && (t & 7) === 2) { readFeature(r, r.end(), g, keys); }
      else { r.skip(t & 7); }
    }
    g.featRing.push(g.rings.n - 1);
    var xy = g.xy.done(), rings = g.rings.done(), featRing = g.featRing.done(), n = featRing.length - 1;
    var bbox = new Float64Array(4 * n);
    for (var f = 0; f < n; f++) {
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (var p = rings[featRing[f]]; p < rings[featRing[f + 1]]; p++) {
        var x = xy[2 * p], y = xy[2 * p + 1];
        if (x < x0) { x0 = x; } if (x > x1) { x1 = x; }
        if (y < y0) { y0 = y; } if (y > y1) { y1 = y; }
      }
      bbox[4 * f] = x0; bbox[4 * f + 1] = y0; bbox[4 * f + 2] = x1; bbox[4 * f + 3] = y1;
    }
    return { n: n, xy: xy, rings: rings, featRing: featRing, bbox: bbox, closed: g.closed,
             index: Int32Array.from(g.index), names: g.names, codes: g.codes };
  }

  function readFeature(r, end, g, keys) {
    var values = [], pairs = [];
    g.featRing.push(g.rings.n - 1);
    while (r.pos < end) {
      var tag = r.varint(), field = Math.floor(tag / 8), wire = tag & 7;
      if (field === 1 && wire === 2) { readGeometry(r, r.end(), g); }
      else if (field === 13 && wire === 2) { values.push(readValue(r, r.end())); }
      else if (field === 14 && wire === 2) { var e = r.end(); while (r.pos < e) { pairs.push(r.varint()); } }
      else { r.skip(wire); }
    }
    var props = {};
    for (var i = 0; i + 1 < pairs.length; i += 2) { props[keys[pairs[i]]] = values[pairs[i + 1]]; }
    g.index.push(typeof props._i === "number" ? props._i : -1);
    g.names.push(props._name === undefined ? null : props._name);
    g.codes.push(props._code === undefined ? null : props._code);
  }

  function readValue(r, end) {
    var value = null;
    while (r.pos < end) {
      var tag = r.varint(), field = Math.floor(tag / 8), wire = tag & 7;
      if (field === 1 && wire === 2) { value = r.string(); }
      else if (field === 2 && wire === 1) { value = r.view.getFloat64(r.pos, true); r.pos += 8; }
      else if (field === 3 && wire === 0) { value = r.varint(); }
      else if (field === 4 && wire === 0) { value = -r.varint(); }
      else if (field === 5 && wire === 0) { value = Boolean(r.varint()); }
      else if (field === 6 && wire === 2) { value = JSON.parse(r.string()); }
      else { r.skip(wire); }
    }
    r.pos = end;
    return value;
  }

  // Geometry types: 0 Point, 1 MultiPoint, 2 LineString, 3 MultiLineString, 4 Polygon,
  // 5 MultiPolygon, 6 GeometryCollection. Every ring or line becomes one run of points; a
  // feature's runs are drawn and hit-tested together (polygons even-odd, so holes stay holes).
  function readGeometry(r, end, g) {
    var type = 0, lengths = null, coords = null;
    while (r.pos < end) {
      var tag = r.varint(), field = Math.floor(tag / 8), wire = tag & 7;
      if (field === 1 && wire === 0) { type = r.varint(); }
      else if (field === 2 && wire === 2) { var e = r.end(); lengths = []; while (r.pos < e) { lengths.push(r.varint()); } }
      else if (field === 3 && wire === 2) { var ce = r.end(); coords = [r.pos, ce]; r.pos = ce; }
      else if (field === 4 && wire === 2) { readGeometry(r, r.end(), g); }
      else { r.skip(wire); }
    }
    if (!coords || type < 2 || type > 5) { return; }       // points are not drawn by this layer
    if (type === 2 || type === 3) { g.closed = false; }
    var after = r.pos, runs;
    if (!lengths) { runs = [-1]; }                         // one run: every coordinate
    else if (type === 5) {                                 // [polygons, rings, length, length, …, rings, …]
      runs = [];
      for (var k = 1, polys = lengths[0]; polys > 0 && k < lengths.length; polys--) {
        var nrings = lengths[k++];
        for (var j = 0; j < nrings; j++) { runs.push(lengths[k++]); }
      }
    } else { runs = lengths; }
    r.pos = coords[0];
    var xy = g.xy.a, n = g.xy.n;
    for (var q = 0; q < runs.length; q++) {
      var x = 0, y = 0, count = runs[q];
      for (var m = 0; count < 0 ? r.pos < coords[1] : m < count; m++) {
        x += r.svarint(); y += r.svarint();
        for (var d = 2; d < g.dim; d++) { r.svarint(); }
        if (n + 2 > xy.length) { throw new Error("more coordinates than the file can hold at byte " + r.pos); }
        xy[n++] = mercX(x / g.e);
        xy[n++] = mercY(y / g.e);
      }
      g.xy.n = n;
      g.rings.push(n / 2);
    }
    r.pos = after;
  }

  // ---------------------------------------------------------------------------------------------
  // Painting, shared by the layer below and the page's first view (assets/first_view.js). A view
  // is {scale: 256 * 2^zoom, ox, oy: the pixel of the canvas's top left corner at that scale,
  // width, height}; the context's transform maps those pixels to the canvas's.
  // ---------------------------------------------------------------------------------------------

  // Adds feature f's rings or lines to the current path, skipping points less than half a pixel
  // from the last one drawn (at London's scale most of a ring at zoom 9). A ring to be stroked is
  // closed by a line back to its start: closePath() costs time in proportion to the whole path in
  // Chromium, so one path of thousands of closed rings took 0.7 s, not 10 ms (a fill closes every
  // ring itself).
  function trace(ctx, g, f, v, stroked) {
    var xy = g.xy, rings = g.rings, close = stroked && g.closed, scale = v.scale, ox = v.ox, oy = v.oy;
    for (var k = g.featRing[f]; k < g.featRing[f + 1]; k++) {
      var p0 = rings[k], p1 = rings[k + 1];
      if (p1 - p0 < 2) { continue; }
      var sx = xy[2 * p0] * scale - ox, sy = xy[2 * p0 + 1] * scale - oy, lx = sx, ly = sy;
      ctx.moveTo(sx, sy);
      for (var p = p0 + 1; p < p1; p++) {
        var x = xy[2 * p] * scale - ox, y = xy[2 * p + 1] * scale - oy;
        if (p < p1 - 1 && Math.abs(x - lx) < 0.5 && Math.abs(y - ly) < 0.5) { continue; }
        ctx.lineTo(x, y);
        lx = x; ly = y;
      }
      if (close) { ctx.lineTo(sx, sy); }
    }
  }

  // Whether feature f's box meets the view.
  function inView(g, f, v) {
    var s = v.scale;
    return !(g.bbox[4 * f + 2] * s < v.ox || g.bbox[4 * f] * s > v.ox + v.width ||
             g.bbox[4 * f + 3] * s < v.oy || g.bbox[4 * f + 1] * s > v.oy + v.height);
  }

  // The class of a value: breaks[i - 1] < value <= breaks[i] is class i.
  function classify(value, breaks) {
    var i = 0;
    while (i < breaks.length && value > breaks[i]) { i++; }
    return i;
  }

  // A layer as its hideout says (the map explorer's layers: classes, one colour or outline).
  function paintLayer(ctx, g, h, v) {
    ctx.lineJoin = "round";
    ctx.lineCap = "round";
    var op = h.opacity === undefined ? 0.8 : h.opacity;
    var values = h.values, breaks = h.breaks, colours = h.colours, nodata = h.nodata || "#d9d9d9";
    var colourOf = function (f) {
      if (h.mode === "single") { return h.colour || "#007acc"; }
      var i = g.index[f], value = values && i >= 0 ? values[i] : null;
      if (value === null || value === undefined || !breaks || !colours) { return nodata; }
      return colours[classify(value, breaks)];
    };
    var f;
    if (h.mode === "outline") {
      ctx.beginPath();
      for (f = 0; f < g.n; f++) { if (inView(g, f, v)) { trace(ctx, g, f, v, true); } }
      ctx.globalAlpha = Math.max(op, 0.2);
      ctx.strokeStyle = h.line || "#1d2b36";
      ctx.lineWidth = 2;
      ctx.stroke();
      ctx.globalAlpha = 1;
      return;
    }
    if (!g.closed) {                                // lines in their class colours
      ctx.globalAlpha = op;
      ctx.lineWidth = 2;
      for (f = 0; f < g.n; f++) {
        if (!inView(g, f, v)) { continue; }
        ctx.beginPath(); trace(ctx, g, f, v, true);
        ctx.strokeStyle = colourOf(f);
        ctx.stroke();
      }
      ctx.globalAlpha = 1;
      return;
    }
    ctx.globalAlpha = op;
    for (f = 0; f < g.n; f++) {
      if (!inView(g, f, v)) { continue; }
      ctx.beginPath(); trace(ctx, g, f, v);
      ctx.fillStyle = colourOf(f);
      ctx.fill("evenodd");
    }
    // the white borders in one stroke, over every fill: a shared border is drawn once
    ctx.beginPath();
    for (f = 0; f < g.n; f++) { if (inView(g, f, v)) { trace(ctx, g, f, v, true); } }
    ctx.globalAlpha = h.mode === "single" ? op : Math.min(1, op + 0.1);
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = h.mode === "single" ? 1 : 0.4;
    ctx.stroke();
    ctx.globalAlpha = 1;
  }

  // Every shape in one Leaflet path style ({fillColor, fillOpacity, color, weight, opacity,
  // fill, stroke}), as Leaflet's SVG renderer draws it: the map's context layers in a first view.
  function paintStyled(ctx, g, style, v) {
    var f;
    ctx.lineJoin = "round";
    ctx.lineCap = "round";
    if (style.fill !== false && g.closed) {
      ctx.beginPath();
      for (f = 0; f < g.n; f++) { if (inView(g, f, v)) { trace(ctx, g, f, v); } }
      ctx.globalAlpha = style.fillOpacity === undefined ? 0.2 : style.fillOpacity;
      ctx.fillStyle = style.fillColor || style.color || "#3388ff";
      ctx.fill("evenodd");
    }
    if (style.stroke !== false) {
      ctx.beginPath();
      for (f = 0; f < g.n; f++) { if (inView(g, f, v)) { trace(ctx, g, f, v, true); } }
      ctx.globalAlpha = style.opacity === undefined ? 1 : style.opacity;
      ctx.strokeStyle = style.color || "#3388ff";
      ctx.lineWidth = style.weight === undefined ? 3 : style.weight;
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }

  // The page's <link rel="preload" crossorigin="anonymous"> (explorer/web/preload.py) is answered to
  // a fetch with the same mode and credentials: cors, same-origin. An error's reason is the
  // server's, shortened.
  function fetchBuffer(url) {
    return fetch(url, { mode: "cors", credentials: "same-origin" }).then(function (response) {
      if (!response.ok) {
        return response.text().then(function (text) {
          var reason = text.trim();
          try { reason = JSON.parse(text).error || reason; } catch (ignored) { /* plain text */ }
          throw new Error(String(reason).slice(0, 300) || ("HTTP " + response.status));
        });
      }
      return response.arrayBuffer();
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Each geometry file read once. (Decoding and painting first views in a Web Worker was tried:
  // on a 2-CPU machine the worker thread got so little time while the page started that its
  // first view came ~0.3 s later than this main thread's; see the README.)
  // ---------------------------------------------------------------------------------------------
  function fetchAndDecode(url) {
    return fetchBuffer(url).then(decode);
  }

  function load(url) {
    var promise = geometries.get(url);
    if (promise) {
      geometries.delete(url);            // most recently used last
    } else {
      promise = fetchAndDecode(url);
    }
    promise.catch(function () { geometries.delete(url); });
    geometries.set(url, promise);
    while (geometries.size > MAX_CACHED) { geometries.delete(geometries.keys().next().value); }
    return promise;
  }

  // A map page preloads its layers' geometry (explorer/web/preload.py) and marks the big layers this
  // canvas draws: those are read at once, while Dash's scripts are still starting, so they are
  // ready to paint the moment the map has them. Any error is left to the layer that asks (it
  // reads the file again and says what failed).
  document.querySelectorAll('link[rel="preload"][as="fetch"][data-explorer-canvas]').forEach(function (link) {
    load(link.getAttribute("href")).catch(function () { /* reported by the layer */ });
  });

  // A picture of one geometry file on a canvas of its own (assets/first_view.js): paint is
  // {hideout} (paintLayer) or {style} (paintStyled); view as for those, plus ratio (device pixels
  // per CSS pixel). Painted when the file has been read; returns {drop()}; onPainted is called
  // after the paint.
  function showView(canvas, url, paint, view, onPainted) {
    var dropped = false;
    load(url).then(function (g) {
      if (dropped) { return; }
      var ratio = view.ratio || 1, ctx = canvas.getContext("2d");
      canvas.width = Math.round(view.width * ratio);
      canvas.height = Math.round(view.height * ratio);
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      if (paint.hideout) { paintLayer(ctx, g, paint.hideout, view); }
      else { paintStyled(ctx, g, paint.style || {}, view); }
      canvas.setAttribute("data-painted", "");
      if (onPainted) { onPainted(); }
    }, function () { /* the live layer reports it */ });
    return { drop: function () { dropped = true; } };
  }

  // ---------------------------------------------------------------------------------------------
  // The layer: a Leaflet renderer (it keeps the canvas placed and scaled through pans and zoom
  // animations) that paints from the arrays
  // ---------------------------------------------------------------------------------------------
  var CanvasLayer = null;

  function layerClass() {
    if (CanvasLayer) { return CanvasLayer; }
    CanvasLayer = L.Renderer.extend({
      initialize: function (uid, url, options) {
        L.Renderer.prototype.initialize.call(this, options);
        this.uid = uid;
        this.url = url;
        this.geometry = null;
        this._frame = null;
      },
      onAdd: function (map) {
        if (!map.getPane(this.options.pane)) { map.createPane(this.options.pane).style.zIndex = 390; }
        L.Renderer.prototype.onAdd.call(this, map);
        var self = this, container = map.getContainer();
        this._onMove = function (ev) { self._hover(ev); };
        this._onOut = function () { self._unhover(); };
        container.addEventListener("mousemove", this._onMove);
        container.addEventListener("mouseleave", this._onOut);
        map.on("zoomstart", this._onOut);
        load(this.url).then(function (geometry) {
          self.geometry = geometry;
          self._clearError();
          if (self._map) { self._draw(); }
        }, function (error) {
          self._showError(error);
        });
      },
      onRemove: function (map) {
        var container = map.getContainer();
        container.removeEventListener("mousemove", this._onMove);
        container.removeEventListener("mouseleave", this._onOut);
        map.off("zoomstart", this._onOut);
        this._unhover();
        this._clearError();
        if (this._frame) { cancelAnimationFrame(this._frame); this._frame = null; }
        L.Renderer.prototype.onRemove.call(this, map);
      },
      _initContainer: function () {
        var canvas = this._container = document.createElement("canvas");
        canvas.className = "explorer-canvas-layer";
        canvas.setAttribute("aria-hidden", "true");   // the table view reads the same values out
        canvas.style.pointerEvents = "none";          // clicks and hovers go to the map
        this._ctx = canvas.getContext("2d");
      },
      _destroyContainer: function () {
        L.DomUtil.remove(this._container);
        this._container = null;
        this._ctx = null;
      },
      _update: function () {
        if (this._map._animatingZoom && this._bounds) { return; }
        L.Renderer.prototype._update.call(this);       // bounds: the view plus the padding
        var b = this._bounds, size = b.getSize(), ratio = window.devicePixelRatio || 1, canvas = this._container;
        L.DomUtil.setPosition(canvas, b.min);
        canvas.width = Math.round(ratio * size.x);
        canvas.height = Math.round(ratio * size.y);
        canvas.style.width = size.x + "px";
        canvas.style.height = size.y + "px";
        this._ratio = ratio;
        this._draw();
      },
      restyle: function () {
        var self = this;
        if (this._frame) { return; }
        this._frame = requestAnimationFrame(function () { self._frame = null; self._draw(); });
      },
      hideout: function () {
        var h = window.explorer.map.hideouts[this.uid];
        return h && !h.pending && !h.hidden && !h.compared ? h : null;
      },
      _draw: function () {
        if (this._paint() && this._container) { this._container.setAttribute("data-painted", ""); }
        this._announce();
      },
      _paint: function () {
        var ctx = this._ctx, g = this.geometry, map = this._map;
        if (!ctx || !map || !this._bounds) { return; }
        var canvas = this._container, ratio = this._ratio || 1;
        ctx.setTransform(1, 0, 0, 1, 0, 0);
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        var h = this.hideout();
        if (!g || !h) { return false; }
        var origin = map.getPixelOrigin(), b = this._bounds, size = b.getSize();
        // canvas pixel = (mercator * scale - origin - bounds.min) * ratio
        ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
        paintLayer(ctx, g, h, { scale: 256 * Math.pow(2, map.getZoom()), ox: origin.x + b.min.x,
                                oy: origin.y + b.min.y, width: size.x, height: size.y });
        return true;
      },
      _announce: function () {                 // every repaint, for tests and benchmarks
        if (this._container) {
          this._container.dispatchEvent(new CustomEvent("explorer-canvas-draw", { bubbles: true, detail: { uid: this.uid } }));
        }
      },
      // The feature under a pixel of the map (layer point), the top one first; null if none.
      featureAt: function (layerPoint) {
        var g = this.geometry, map = this._map;
        if (!g || !map) { return null; }
        var scale = 256 * Math.pow(2, map.getZoom()), origin = map.getPixelOrigin();
        var px = (layerPoint.x + origin.x) / scale, py = (layerPoint.y + origin.y) / scale;
        var tolerance = (g.closed ? 0 : 4) / scale;
        for (var f = g.n - 1; f >= 0; f--) {
          var bb = 4 * f;
          if (px < g.bbox[bb] - tolerance || px > g.bbox[bb + 2] + tolerance ||
              py < g.bbox[bb + 1] - tolerance || py > g.bbox[bb + 3] + tolerance) { continue; }
          if (g.closed ? this._inside(f, px, py) : this._near(f, px, py, tolerance)) { return f; }
        }
        return null;
      },
      _inside: function (f, px, py) {          // even-odd rule over all the feature's rings
        var g = this.geometry, xy = g.xy, rings = g.rings, inside = false;
        for (var k = g.featRing[f]; k < g.featRing[f + 1]; k++) {
          var p0 = rings[k], p1 = rings[k + 1];
          for (var i = p0, j = p1 - 1; i < p1; j = i++) {
            var xi = xy[2 * i], yi = xy[2 * i + 1], xj = xy[2 * j], yj = xy[2 * j + 1];
            if ((yi > py) !== (yj > py) && px < (xj - xi) * (py - yi) / (yj - yi) + xi) { inside = !inside; }
          }
        }
        return inside;
      },
      _near: function (f, px, py, tolerance) {
        var g = this.geometry, xy = g.xy, rings = g.rings, t2 = tolerance * tolerance;
        for (var k = g.featRing[f]; k < g.featRing[f + 1]; k++) {
          for (var i = rings[k]; i < rings[k + 1] - 1; i++) {
            var ax = xy[2 * i], ay = xy[2 * i + 1], dx = xy[2 * i + 2] - ax, dy = xy[2 * i + 3] - ay;
            var len = dx * dx + dy * dy, t = len ? ((px - ax) * dx + (py - ay) * dy) / len : 0;
            t = Math.max(0, Math.min(1, t));
            var ex = ax + t * dx - px, ey = ay + t * dy - py;
            if (ex * ex + ey * ey <= t2) { return true; }
          }
        }
        return false;
      },
      feature: function (f) {
        var g = this.geometry;
        var props = { _i: g.index[f] >= 0 ? g.index[f] : undefined };
        if (g.names[f] !== null) { props._name = g.names[f]; }
        if (g.codes[f] !== null) { props._code = g.codes[f]; }
        return { type: "Feature", properties: props };
      },
      _hover: function (ev) {
        var map = this._map;
        if (!map || !this.hideout() || map._animatingZoom || this._covered(ev.target)) {
          this._unhover();
          return;
        }
        var f = this.featureAt(map.mouseEventToLayerPoint(ev));
        if (f === null) { this._unhover(); return; }
        var latlng = map.mouseEventToLatLng(ev);
        if (!this._tip) { this._tip = L.tooltip({ direction: "auto", offset: [14, 0] }); }
        if (this._tipFeature !== f) {
          this._tipFeature = f;
          var content = window.explorer.map.tooltipFor(this.uid, this.feature(f));
          if (!content) { this._unhover(); return; }
          this._tip.setContent(content);
        }
        this._tip.setLatLng(latlng);
        if (!map.hasLayer(this._tip)) { map.openTooltip(this._tip); }
        L.DomUtil.addClass(map.getContainer(), "explorer-canvas-hover");
      },
      // Whether the pointer is on something drawn above this layer (an SVG shape, a marker, a
      // control, a tooltip), which answers it instead; shapes in panes below (the London outline)
      // are covered by this layer.
      _covered: function (target) {
        if (!target || !target.closest) { return false; }
        if (target.closest(".leaflet-control, .leaflet-tooltip, .leaflet-popup")) { return true; }
        if (!target.classList.contains("leaflet-interactive")) { return false; }
        var pane = target.closest(".leaflet-pane");
        var mine = parseInt(this.getPane().style.zIndex || window.getComputedStyle(this.getPane()).zIndex, 10) || 0;
        return !pane || (parseInt(window.getComputedStyle(pane).zIndex, 10) || 0) > mine;
      },
      _unhover: function () {
        var map = this._map;
        this._tipFeature = null;
        if (map && this._tip && map.hasLayer(this._tip)) { map.closeTooltip(this._tip); }
        if (map) { L.DomUtil.removeClass(map.getContainer(), "explorer-canvas-hover"); }
      },
      _showError: function (error) {
        var map = this._map;
        if (!map) { return; }
        this._clearError();
        var note = this._error = document.createElement("p");
        note.className = "map-layer-error";
        note.setAttribute("role", "alert");
        note.textContent = "A layer could not be drawn: " + (error && error.message ? error.message : String(error));
        map.getContainer().appendChild(note);
      },
      _clearError: function () {
        if (this._error) { L.DomUtil.remove(this._error); this._error = null; }
      }
    });
    return CanvasLayer;
  }

  window.explorer = Object.assign({}, window.explorer, {
    canvas: {
      decode: decode,
      classify: classify,
      mercator: function (lon, lat) { return [mercX(lon), mercY(lat)]; },   // at zoom 0, in [0, 1]
      load: load,
      showView: showView,
      layers: layers,
      // The "add" event handler of the layer's dl.LayerGroup (layouts/map_explorer.py), called
      // with the group's props last. The group "layer-canvas" (or "compare-canvas") holds the dl.GeoJSON
      // "layer-geo" ("compare-geo") whose hideout names the geometry and how to draw it.
      attach: function (e) {
        var ctx = arguments[arguments.length - 1] || {};
        var group = e.target, map = group && group._map;
        if (!map || group._explorerCanvas || !window.dash_component_api) { return; }
        var id = ctx.id, holder = null;
        try {
          // dash-leaflet hands a pattern-matching id over as its JSON text
          if (typeof id === "string" && id.charAt(0) === "{") { id = JSON.parse(id); }
          var holderId = typeof id === "string" ? id.replace(/-canvas$/, "-geo")
            : Object.assign({}, id, { type: String(id.type).replace(/-canvas$/, "-geo") });
          holder = window.dash_component_api.getLayout(holderId);
        } catch (error) {
          console.error("explorer canvas layer: no hideout for " + JSON.stringify(ctx.id), error);
        }
        group._explorerCanvas = window.explorer.canvas.add(map, (holder && holder.props && holder.props.hideout) || {});
        // Detached when the group leaves the map. Not through the group's eventHandlers: when the
        // component unmounts, react-leaflet unbinds those before it removes the layer.
        if (group._explorerCanvas) {
          group.once("remove", function () { window.explorer.canvas.detach({ target: group }); });
        }
      },
      // Draws the layer a hideout describes (its uid, geometry URL and style) on a map.
      add: function (map, hideout) {
        if (!hideout.uid || !hideout.geometry) { return null; }
        var hideouts = window.explorer.map.hideouts, kept = hideouts[hideout.uid];
        if (!kept || (kept.pending && !hideout.pending)) { hideouts[hideout.uid] = hideout; }
        var layer = new (layerClass())(hideout.uid, hideout.geometry, { pane: PANE, padding: 0.3 });
        layers[hideout.uid] = layer;
        return layer.addTo(map);
      },
      detach: function (e) {
        var holder = e.target, layer = holder._explorerCanvas;
        if (!layer) { return; }
        holder._explorerCanvas = null;
        if (layers[layer.uid] === layer) { delete layers[layer.uid]; }
        layer.remove();
      },
      restyle: function (uid) {
        if (layers[uid]) { layers[uid].restyle(); }
      }
    }
  });
})();
