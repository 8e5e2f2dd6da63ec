/* The page as the server drew it, until Dash has drawn it (explorer/web/first_paint.py).
 *
 * Loaded right after the static page (div.first-view) and before Dash's scripts, it:
 *
 * 1. answers Dash's request for the layout with the copy the page carries
 *    (script#explorer-layout), so that request is never made, then gives window.fetch back;
 * 2. paints a map's big layers, and its London outline and Thames, into the map's box the moment
 *    their geometry (preloaded by the page) is read, each on a canvas stacked as the live map's
 *    panes are: the layers whose hideout names a geometry, drawn by assets/canvas_layer.js's own
 *    painter from the same decoded arrays, in the same colours, at the view the live map opens at;
 * 3. removes the static page in the frame Dash draws the live one, keeping a first view over its
 *    live map until the live map has drawn the same layers (or is moved, or after a few seconds).
 */
(function () {
  "use strict";
  var page = document.querySelector(".first-view");
  var holder = document.getElementById("explorer-layout");
  var layoutText = holder ? holder.textContent : null;
  var HANDOVER_MS = 4000;                 // the longest a first view waits for the live map

  // 1. Dash's layout request ----------------------------------------------------------------------
  // Dash's renderer has no way to be handed a layout: it GETs /_dash-layout through window.fetch
  // (pinned by tests/unit/test_dash_internals.py). The page's fetch answers that one request from
  // the copy the page carries and is then given back, so nothing else ever goes through it.
  var restoreFetch = function () {};
  if (layoutText !== null && window.fetch) {
    var fetchFromNetwork = window.fetch;
    var answerLayout = function (input, init) {
      var url = typeof input === "string" ? input : (input && input.url) || "";
      var method = ((init && init.method) || (input && input.method) || "GET").toUpperCase();
      if (layoutText !== null && method === "GET" &&
          new URL(url, document.baseURI).pathname.slice(-13) === "/_dash-layout") {
        var body = layoutText;
        layoutText = null;                  // once: a later request (a reload of the layout) goes out
        restoreFetch();
        return Promise.resolve(new Response(body, { status: 200, headers: { "Content-Type": "application/json" } }));
      }
      return fetchFromNetwork.apply(this, arguments);
    };
    restoreFetch = function () {
      if (window.fetch === answerLayout) { window.fetch = fetchFromNetwork; }
    };
    window.fetch = answerLayout;
  }

  // The components of a serialised layout, depth first.
  function each(node, visit) {
    if (Array.isArray(node)) { node.forEach(function (child) { each(child, visit); }); return; }
    if (!node || typeof node !== "object" || !node.props) { return; }
    visit(node);
    Object.keys(node.props).forEach(function (key) {
      var value = node.props[key];
      if (value && typeof value === "object") { each(value, visit); }
    });
  }

  // Dash's DOM id of a component id: a dict id is its JSON with the keys sorted.
  function domId(id) {
    if (typeof id === "string") { return id; }
    var sorted = {};
    Object.keys(id).sort().forEach(function (key) { sorted[key] = id[key]; });
    return JSON.stringify(sorted);
  }

  // 2. First views of maps ---------------------------------------------------------------------------
  // What a map of the layout draws first: [{kind, url, z, paint: {hideout} or {style}}], bottom
  // first: "fill" for our canvas layers, "context" for the London outline and the Thames.
  function drawables(mapNode) {
    var panes = {}, found = [];
    each(mapNode.props.children, function (node) {
      if (node.namespace === "dash_leaflet" && node.type === "Pane" && node.props.name) {
        panes[node.props.name] = parseInt((node.props.style || {}).zIndex, 10) || 400;
      }
    });
    var styles = window.explorer && window.explorer.map;
    each(mapNode.props.children, function (node) {
      if (node.namespace !== "dash_leaflet" || node.type !== "GeoJSON") { return; }
      var p = node.props, h = p.hideout || {};
      if (h.geometry && !p.url && !p.data) {            // one of our canvas layers
        if (h.pending || h.hidden || h.compared) { return; }
        found.push({ kind: "fill", url: h.geometry, z: 390, paint: { hideout: h } });
      } else if (p.url && p.style && p.style.variable === "explorer.map.context" && styles && styles.context) {
        var look = styles.context({ properties: {} }, { hideout: h });
        found.push({ kind: "context", url: p.url, z: panes[p.pane] || 400, paint: { style: look } });
      }
    });
    return found.sort(function (a, b) { return a.z - b.z; });
  }

  // Leaflet's view of a map of this size at this centre and zoom: its pixel origin is rounded.
  // (A map fitted to bounds, as theme maps are, gets no first view: its zoom is Leaflet's to find.)
  function viewOf(props, width, height) {
    var centre = props.center, zoom = props.zoom;
    if (!centre || typeof zoom !== "number" || props.bounds) { return null; }
    var lat = Array.isArray(centre) ? centre[0] : centre.lat, lng = Array.isArray(centre) ? centre[1] : centre.lng;
    var scale = 256 * Math.pow(2, zoom), at = window.explorer.canvas.mercator(lng, lat);
    return { scale: scale, width: width, height: height,
             ox: Math.round(at[0] * scale - width / 2), oy: Math.round(at[1] * scale - height / 2) };
  }

  // One canvas per layer, stacked as the live map's panes stack them, each painted as soon as
  // its geometry is read (by assets/canvas_layer.js, whose reading the live layer then reuses).
  function FirstView(box, view, items) {
    var width = box.clientWidth, height = box.clientHeight;
    this.items = items;
    this.canvases = [];
    this.pictures = items.map(function (item) {
      var canvas = document.createElement("canvas");
      canvas.className = "explorer-first-view explorer-first-view--" + item.kind;
      canvas.style.zIndex = String(item.z);
      canvas.style.width = width + "px";
      canvas.style.height = height + "px";
      canvas.setAttribute("aria-hidden", "true");
      box.appendChild(canvas);
      this.canvases.push(canvas);
      return window.explorer.canvas.showView(canvas, item.url, item.paint, view(width, height), function () {
        canvas.dispatchEvent(new CustomEvent("explorer-first-view-draw", { bubbles: true, detail: { kind: item.kind } }));
      });
    }, this);
  }
  // Moves the first view over the live map (same box: same picture) until the live map has
  // drawn its layers; then, or when the map is moved, it goes.
  FirstView.prototype.handOver = function (liveMap) {
    var self = this, done = false;
    if (!this.canvases) { return; }
    if (!liveMap) { this.remove(); return; }
    // Not redrawn at the live map's size: in its first frames the live page is shorter (its
    // lazily loaded controls are not in yet) and its map with it; it settles at the static page's
    // size, which is the size the first view was drawn at.
    this.canvases.forEach(function (canvas) { liveMap.appendChild(canvas); });
    var finish = function () {
      if (done) { return; }
      done = true;
      clearInterval(timer);
      ["pointerdown", "wheel", "keydown", "touchstart"].forEach(function (kind) { liveMap.removeEventListener(kind, finish, true); });
      self.remove();
    };
    ["pointerdown", "wheel", "keydown", "touchstart"].forEach(function (kind) { liveMap.addEventListener(kind, finish, true); });
    var started = Date.now();
    var timer = setInterval(function () {
      if (Date.now() - started > HANDOVER_MS || self.liveIsDrawn(liveMap)) { finish(); }
    }, 16);
  };
  // The live map has painted a canvas layer for each of ours and a shape in each context pane.
  FirstView.prototype.liveIsDrawn = function (liveMap) {
    var canvases = liveMap.querySelectorAll("canvas.explorer-canvas-layer");
    var wanted = this.items.filter(function (item) { return item.kind === "fill"; }).length;
    var painted = 0;
    canvases.forEach(function (c) { if (c.hasAttribute("data-painted")) { painted++; } });
    if (painted < wanted) { return false; }
    var panes = liveMap.querySelectorAll(".leaflet-explorer-region-pane, .leaflet-explorer-water-pane");
    for (var i = 0; i < panes.length; i++) {
      if (!panes[i].querySelector("path")) { return false; }
    }
    return true;
  };
  FirstView.prototype.remove = function () {
    (this.pictures || []).forEach(function (picture) { picture.drop(); });
    (this.canvases || []).forEach(function (canvas) {
      if (canvas.parentNode) { canvas.parentNode.removeChild(canvas); }
    });
    this.canvases = this.pictures = null;
  };

  // At phone width the live page folds the filters and the layer panel as soon as it is drawn
  // (callbacks/router.py); the static one starts folded (explorer.css hides their content until
  // this has run).
  if (page && window.innerWidth < 860) {
    page.querySelectorAll("details.facets-drawer, details.layer-drawer").forEach(function (d) { d.open = false; });
  }

  var views = [], data = null;
  if (holder && page && window.explorer && window.explorer.canvas) {
    try { data = JSON.parse(holder.textContent); } catch (error) { data = null; }
  }
  if (data) {
    page.querySelectorAll("[data-first-view-map]").forEach(function (box) {
      var id;
      try { id = JSON.parse(box.getAttribute("data-first-view-map")); } catch (error) { return; }
      var mapNode = null;
      each(data, function (node) {
        if (!mapNode && node.namespace === "dash_leaflet" && node.props.id !== undefined &&
            domId(node.props.id) === domId(id)) { mapNode = node; }
      });
      var items = mapNode && viewOf(mapNode.props, 1, 1) ? drawables(mapNode) : [];
      if (items.length && !box.closest("[hidden]")) {
        var view = function (width, height) {
          var v = viewOf(mapNode.props, width, height);
          v.ratio = window.devicePixelRatio || 1;
          return v;
        };
        views.push({ id: domId(id), view: new FirstView(box, view, items) });
      }
    });
  }

  // 3. Hand-over -----------------------------------------------------------------------------------
  // Dash has drawn the page when the shell's page slot (an id the static page does not carry) is in.
  if (page) {
    var observer = new MutationObserver(function () {
      var entry = document.getElementById("react-entry-point");
      if (!entry || !document.getElementById("page-content")) { return; }
      observer.disconnect();
      restoreFetch();                     // Dash has its layout, from the page or the network
      if (page.parentNode) { page.parentNode.removeChild(page); }
      if (holder && holder.parentNode) { holder.parentNode.removeChild(holder); }
      views.forEach(function (v) {
        var live = document.getElementById(v.id);
        v.view.handOver(live && entry.contains(live) ? live : null);
      });
    });
    observer.observe(document.body, { childList: true, subtree: true });
  }
})();
