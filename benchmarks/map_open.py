"""Opening the LSOA 2021 NO₂ choropleth in headless Chromium, three ways in one run.

Contenders, each a server on 127.0.0.1 (a free port, its own process, Flask's threaded server):

* **ours**: ``explorer serve`` on a fresh EXPLORER_HOME with the local data folder, page
  ``/map?basemap=none&layer=laei-lsoa-2021:no2-2019,v:NO2-2019-mean`` (geometry once by URL as
  gzip geobuf, values in a per-layer store, style through ``hideout``);
* **naive**: a Dash + dash-leaflet app written here that reads the LSOA 2021 boundaries and the
  NO₂ table, merges them and passes the whole GeoJSON (every column) as ``GeoJSON(data=…)``, with a
  JavaScript style function classifying a property named in ``hideout``; Dash defaults (no gzip);
* **plotly**: a Dash app written here with ``go.Choroplethmap`` (the same GeoJSON in the figure,
  ``map_style="white-bg"`` because tiles are not reachable offline); restyles return a new figure.

No contender draws a basemap (ours ``basemap=none``: our London outline and Thames only).

For every page load the browser cache is cleared and the page opened from ``about:blank``; each
contender is opened once untimed first (server caches, the operating system's file cache), then
``--runs`` times, rounds interleaved (ours, naive, plotly, ours, …). Recorded per load:

* **bytes**: every response's bytes on the wire (headers included) from Chrome's DevTools
  performance log (``Network.loadingFinished.encodedDataLength``), grouped as page and scripts,
  Dash layout, Dash callbacks and geometry (our ``/geo/…`` URLs; for the peers the GeoJSON is
  inside the layout response);
* **time to drawn**: from navigation start until the choropleth is on the screen: the first frame of
  the browser's screencast (DevTools ``Page.startScreencast``, read on our own DevTools connection;
  each frame carries the time it was shown) in which the map's box shows at least half the share
  of choropleth colours (blues of the Blues scale every contender uses) the finished map shows;
  the London outline and the Thames alone show a few per cent. The screen, not the page: ours
  paints a first view of its big layers before Dash has started (assets/first_view.js), and a
  watcher inside the page sees a frame only when the page's main thread has time to look;
* **time to live map** ("of which: until the live map has drawn them"): a script added with
  ``Page.addScriptToEvaluateOnNewDocument`` watches from inside the page until the map itself has
  drawn the polygons: Leaflet's overlay pane holds ≥ 4,994 paths with a visible fill, or a
  canvas in Leaflet's map pane (ours: our canvas layer) holds coloured pixels (sampled on a 40 × 40
  grid), then two animation frames; or plotly's maplibre map goes idle with the choropleth's
  features rendered (``queryRenderedFeatures``). Hover and click work from then on.

Restyles, on the drawn page, each started by ``dash_clientside.set_props`` on the control (what a
user's choice does): palette Blues → Viridis, 5 → 7 classes, variable NO2-2019-mean → max.
Recorded: the server time of each callback the change fires (request sent → response headers,
loopback), its response bytes on the wire, and the time until the map stops changing (the last
SVG mutation in Leaflet's panes or canvas repaint, or the map's idle event for plotly).

The 52,374 points of interest (``osm-pois``) are opened the same way in our app and in a naive
dash-leaflet app passing the whole GeoJSON with ``cluster=True``: time until the first cluster
icons are painted (the in-page watcher's time, not the screencast's).

    .venv/bin/python -m benchmarks.map_open [--runs 3] [--no-write]

Writes benchmarks/results/map_open.json and .md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from explorer.maps.layers import DEFAULT_VIEW

from .load_test import Server as ServerProcess
from .load_test import free_port
from .registry_search import DATA_DIR, ROOT, machine_info, machine_line, markdown_table, write_results

LSOA_TABLE = "air_quality/laei_zonal/lsoa21-2019-NO2.csv"
LSOA_SHAPES = "boundaries/london-2021-lsoa-gen20/london-2021-lsoa-gen20.shp"
POIS = "points/greater_london-osm_pois_2020.geojson.gz"
CODE = "LSOA21CD"
N_LSOA = 4994
VARIABLE = "NO2-2019-mean"
OTHER_VARIABLE = "NO2-2019-max"
CENTRE = DEFAULT_VIEW[:2]
OURS_PATH = "/map?basemap=none&layer=laei-lsoa-2021:no2-2019,v:NO2-2019-mean"
OURS_POINTS_PATH = "/map?basemap=none&layer=osm-pois"
OURS_GEOMETRY = "/geo/laei-lsoa-2021/no2-2019.pbf"
PAGE_TIMEOUT = 60.0
SCREEN_WIDTH = 683           # screencast frames at half the window's width: enough to see a map by
QUIET_S = 0.6            # a restyle is over when nothing has changed on the map for this long

# Targets from issue 3 ("Speed").
TARGET_GEOMETRY_MB = 0.40
TARGET_DRAWN_VS_NAIVE = 0.5
TARGET_RESTYLE_SERVER_MS = 50.0
TARGET_RESTYLE_KB = 5.0
TARGET_POINTS_S = 1.5


# ================================================================================================
# The peers: small Dash apps written the way a first attempt would be
# ================================================================================================
_PEER_JS = """
window.benchPeer = {
  style: function (feature, context) {
    var h = context.hideout || {};
    var v = feature.properties ? feature.properties[h.variable] : null;
    var fill = h.nodata || "#d9d9d9";
    if (v !== null && v !== undefined) {
      var i = 0;
      while (i < h.breaks.length && v > h.breaks[i]) { i++; }
      fill = h.colours[i];
    }
    return {fillColor: fill, fillOpacity: 0.8, color: "#ffffff", weight: 0.4, opacity: 0.9};
  }
};
"""


def _quantile_breaks(values, k: int) -> list[float]:
    import numpy as np

    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return [float(b) for b in np.quantile(finite, [i / k for i in range(1, k)])]


def _peer_colours(palette: str, k: int) -> list[str]:
    from plotly.colors import sample_colorscale

    return sample_colorscale(palette, [0.1 + 0.9 * i / (k - 1) for i in range(k)])


def _lsoa_geojson(data_dir: Path):
    import geopandas as gpd
    import pandas as pd

    table = pd.read_csv(data_dir / LSOA_TABLE)
    shapes = gpd.read_file(data_dir / LSOA_SHAPES)
    merged = shapes.merge(table, on=CODE).to_crs(4326)
    return merged, json.loads(merged.to_json())


def _peer_app(kind: str, data_dir: Path, assets: Path):
    import dash_leaflet as dl
    from dash import Dash, Input, Output, dcc, html

    assets.mkdir(parents=True, exist_ok=True)
    (assets / "peer_style.js").write_text(_PEER_JS, encoding="utf-8")
    app = Dash(__name__, assets_folder=str(assets))
    controls = html.Div([
        dcc.Dropdown(id="variable", options=[VARIABLE, OTHER_VARIABLE], value=VARIABLE, clearable=False),
        dcc.Dropdown(id="palette", options=["Blues", "Viridis"], value="Blues", clearable=False),
        dcc.Dropdown(id="classes", options=[5, 7], value=5, clearable=False),
    ], style={"width": "300px", "float": "left"})
    map_style = {"height": "740px", "marginLeft": "310px"}

    if kind == "naive-points":
        with gzip.open(data_dir / POIS, "rt", encoding="utf-8") as fh:
            points = json.load(fh)
        app.layout = html.Div([dl.Map(center=list(CENTRE), zoom=10, style=map_style, children=[
            dl.GeoJSON(data=points, cluster=True, zoomToBoundsOnClick=True,
                       superClusterOptions={"radius": 70})])])
        return app

    frame, geojson = _lsoa_geojson(data_dir)

    if kind == "naive":
        def hideout(variable, palette, classes):
            return {"variable": variable, "breaks": _quantile_breaks(frame[variable], classes),
                    "colours": _peer_colours(palette, classes), "nodata": "#d9d9d9"}

        app.layout = html.Div([controls, dl.Map(center=list(CENTRE), zoom=10, style=map_style, children=[
            dl.GeoJSON(id="lsoa", data=geojson, style={"variable": "benchPeer.style"},
                       hideout=hideout(VARIABLE, "Blues", 5))])])

        @app.callback(Output("lsoa", "hideout"), Input("variable", "value"), Input("palette", "value"),
                      Input("classes", "value"), prevent_initial_call=True)
        def restyle(variable, palette, classes):
            return hideout(variable, palette, int(classes))

        return app

    if kind == "plotly":
        import plotly.graph_objects as go

        def figure(variable, palette):
            fig = go.Figure(go.Choroplethmap(
                geojson=geojson, locations=frame[CODE], z=frame[variable], featureidkey=f"properties.{CODE}",
                colorscale=palette, marker_line_width=0.3, marker_line_color="white", marker_opacity=0.8))
            fig.update_layout(map_style="white-bg", map_center={"lat": CENTRE[0], "lon": CENTRE[1]},
                              map_zoom=8.8, margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=740)
            return fig

        app.layout = html.Div([controls, html.Div(dcc.Graph(id="choropleth", figure=figure(VARIABLE, "Blues")),
                                                  style={"marginLeft": "310px"})])

        @app.callback(Output("choropleth", "figure"), Input("variable", "value"), Input("palette", "value"),
                      prevent_initial_call=True)
        def restyle(variable, palette):
            return figure(variable, palette)

        return app
    raise SystemExit(f"unknown peer {kind!r}")


def serve_peer(kind: str, port: int, data_dir: Path, assets: Path) -> None:
    """Run a peer app; its style script goes in ``assets`` (inside the run's work folder, removed
    with it: the server is stopped by a signal, so it cannot clean up after itself)."""
    app = _peer_app(kind, data_dir, assets)
    print(f"{kind} peer on http://127.0.0.1:{port}/", flush=True)
    app.run(host="127.0.0.1", port=port, debug=False)


# ================================================================================================
# Servers
# ================================================================================================
class Server(ServerProcess):
    """One contender's server in its own process group; ``ready`` is a URL that answers 200.
    Stopped (the whole group) as the load test stops its servers."""

    def __init__(self, name: str, argv: list[str], env: dict, ready: str, log: Path):
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.log = open(log, "w")
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{name}: the server exited; see {log}")
            try:
                if requests.get(self.base + ready, timeout=10).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise SystemExit(f"{name}: the server did not answer within 300 s; see {log}")


def start_servers(workdir: Path, data_dir: Path, wanted: set[str]) -> dict[str, Server]:
    home = workdir / "home"
    ours_env = {"EXPLORER_HOME": str(home), "EXPLORER_DATA_DIR": str(data_dir), "EXPLORER_OFFLINE": "1"}
    servers: dict[str, Server] = {}
    try:
        if "ours" in wanted:
            servers["ours"] = Server("ours", [sys.executable, "-m", "explorer.cli", "serve", "--port", "{port}"],
                                     ours_env, "/api/datasets?limit=1", workdir / "ours.log")
        for kind in [k for k in ("naive", "plotly", "naive-points") if k in wanted]:
            servers[kind] = Server(kind, [sys.executable, "-m", "benchmarks.map_open", "--serve", kind,
                                          "--port", "{port}", "--data-dir", str(data_dir),
                                          "--assets", str(workdir / f"{kind}-assets")],
                                   {}, "/", workdir / f"{kind}.log")
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return servers


# ================================================================================================
# The browser
# ================================================================================================
_WATCH_JS = """
(function () {
  if (window.__bench) { return; }
  var cfg = %s;
  var B = window.__bench = {drawn: null, inDom: null, lastChange: null, changes: 0, idleAt: null, map: null};
  try { performance.setResourceTimingBufferSize(5000); } catch (e) {}
  function painted(cb) {
    requestAnimationFrame(function () { requestAnimationFrame(function () { cb(performance.now()); }); });
  }
  function changed() { B.lastChange = performance.now(); B.changes++; }
  function observe() {
    if (B.observing) { return; }
    B.observing = true;
    // a canvas repaint changes no element: count Leaflet's canvas redraws as changes too
    if (window.L && L.Canvas && !L.Canvas.prototype.__benchWatched) {
      var redraw = L.Canvas.prototype._redraw;
      L.Canvas.prototype._redraw = function () { var r = redraw.apply(this, arguments); changed(); return r; };
      L.Canvas.prototype.__benchWatched = true;
    }
    // our own canvas layer (assets/canvas_layer.js) announces each repaint
    document.addEventListener('explorer-canvas-draw', changed);
    var panes = document.querySelectorAll('.leaflet-overlay-pane, .leaflet-marker-pane');
    var obs = new MutationObserver(changed);
    panes.forEach(function (p) {
      obs.observe(p, {subtree: true, childList: true, attributes: true,
                      attributeFilter: ['fill', 'fill-opacity', 'stroke', 'd', 'class', 'style']});
    });
  }
  // A map canvas's share of a 40 × 40 grid painted in a colour (not white or grey: our London
  // outline is white), i.e. covered by the choropleth: the canvas drawn at 40 × 40 (nearest pixel,
  // no smoothing) on a scratch canvas and read there, which costs the page far less than reading
  // every pixel of the map every 20 ms.
  var scratch = document.createElement('canvas');
  scratch.width = scratch.height = 40;
  function canvasCoverage(canvas) {
    if (!canvas.width || !canvas.height) { return 0; }
    var ctx = scratch.getContext('2d'), hit = 0, n = 0;
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, 40, 40);
    ctx.drawImage(canvas, 0, 0, 40, 40);
    var data = ctx.getImageData(0, 0, 40, 40).data;
    for (var i = 1; i < 40; i++) {
      for (var j = 1; j < 40; j++) {
        var k = (j * 40 + i) * 4, r = data[k], g = data[k + 1], b = data[k + 2];
        n++;
        if (data[k + 3] > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 20) { hit++; }
      }
    }
    return hit / n;
  }
  // drawn by the map itself: the live map's time (the benchmark times "drawn" on the screen)
  function done(t) { B.drawn = t; observe(); }
  function leaflet() {
    if (B.drawn !== null) { return; }
    if (cfg.kind === 'clusters') {
      var n = document.querySelectorAll('.leaflet-marker-pane .marker-cluster').length;
      if (n >= cfg.min) { B.drawn = -1; painted(done); }
      return;
    }
    // Big layers are painted on a canvas (ours, in its own pane): every shape of the layer in one
    // pass, so the first coloured pixels mean the whole layer is there. This is the live map's
    // own drawing; a first view painted before it (ours) is seen in the screencast, not here.
    var live = document.querySelector('.leaflet-map-pane canvas');
    if (live) {
      if (canvasCoverage(live) >= 0.02) { B.drawn = -1; painted(done); }
      return;
    }
    var paths = document.querySelectorAll('.leaflet-overlay-pane path');
    if (paths.length < cfg.min) { return; }
    if (B.inDom === null) { B.inDom = performance.now(); }
    var visible = 0;
    for (var i = 0; i < paths.length; i++) {
      var fo = paths[i].getAttribute('fill-opacity');
      if (fo !== null && parseFloat(fo) > 0 && paths[i].getAttribute('fill') !== 'none') { visible++; }
    }
    if (visible >= cfg.min) { B.drawn = -1; painted(done); }
  }
  function fillLayers(map) {
    var style = map.getStyle();
    return (style && style.layers ? style.layers : []).filter(function (l) { return l.type === 'fill'; })
      .map(function (l) { return l.id; });
  }
  function plotlyDrawn(map) {
    var ids = fillLayers(map);
    if (!ids.length || !map.loaded()) { return false; }
    return map.queryRenderedFeatures({layers: ids}).length > 0;
  }
  function plotly() {
    var gd = document.querySelector('.js-plotly-plot');
    var sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    var map = sub && sub.map;
    if (!map || map === B.map) { return; }
    B.map = map;
    map.on('idle', function () {
      B.idleAt = performance.now();
      if (B.drawn === null && plotlyDrawn(map)) { B.drawn = B.idleAt; }
    });
    map.on('render', changed);
  }
  setInterval(function () {
    try { if (cfg.kind === 'plotly') { plotly(); } else { leaflet(); } } catch (e) { B.error = String(e); }
  }, 20);
})();
"""


def make_driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = os.environ.get("DASH_TEST_CHROMEPATH") or shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,900",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic", "--enable-unsafe-swiftshader", "--use-angle=swiftshader",
                 # WebGL (plotly's maplibre) needs SwiftShader here, a GPU emulated in software; left
                 # to it, 2D canvases and the page itself (the naive app's 5,000 SVG paths) would be
                 # rasterized through that emulator too, which no real browser does (with a GPU they
                 # are drawn by it, without one in software): draw them in software. Rasterized
                 # through SwiftShader, the naive app's paths took 1.6-5.8 s to show from one round
                 # to the next; in software they take a steady ~1.8 s.
                 "--disable-accelerated-2d-canvas", "--disable-gpu-rasterization",
                 "--disable-extensions"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    driver.set_script_timeout(PAGE_TIMEOUT)
    return driver


class Screencast:
    """The frames the browser shows, with the time each was put on the screen (DevTools'
    ``Page.startScreencast``), read on a connection of our own to the page's DevTools target."""

    def __init__(self, driver):
        import threading
        import urllib.request

        import websocket

        address = driver.capabilities["goog:chromeOptions"]["debuggerAddress"]
        targets = json.load(urllib.request.urlopen(f"http://{address}/json/list", timeout=10))
        target = next(t for t in targets if t.get("type") == "page")
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], max_size=None,
                                              suppress_origin=True, timeout=10)
        self.ws.settimeout(None)
        self.frames: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()
        self._id = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _send(self, method: str, params: dict | None = None) -> None:
        with self._lock:
            self._id += 1
            self.ws.send(json.dumps({"id": self._id, "method": method, "params": params or {}}))

    def _read(self) -> None:
        import base64

        while True:
            try:
                message = json.loads(self.ws.recv())
            except Exception:  # noqa: BLE001 - the connection closed: no more frames
                return
            if message.get("method") == "Page.screencastFrame":
                frame = message["params"]
                self._send("Page.screencastFrameAck", {"sessionId": frame["sessionId"]})
                self.frames.append((frame["metadata"]["timestamp"], base64.b64decode(frame["data"])))

    def start(self) -> None:
        self.frames = []
        self._send("Page.startScreencast", {"format": "jpeg", "quality": 80, "maxWidth": SCREEN_WIDTH,
                                            "everyNthFrame": 1})

    def stop(self) -> list[tuple[float, bytes]]:
        self._send("Page.stopScreencast")
        time.sleep(0.1)
        return list(self.frames)

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass


def choropleth_share(jpeg: bytes, box: list[float]) -> float:
    """The share of a 40 × 40 grid over ``box`` (the map's [left, top, right, bottom, viewport
    width, viewport height] in CSS pixels) showing a choropleth colour: a blue of the Blues scale
    every contender uses (white, the lightest class and grey are not counted)."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    sx, sy = image.width / box[4], image.height / box[5]
    left, top = box[0] * sx, box[1] * sy
    width, height = (box[2] - box[0]) * sx, (box[3] - box[1]) * sy
    pixels = image.load()
    hit = n = 0
    for i in range(1, 40):
        for j in range(1, 40):
            x = min(image.width - 1, int(left + i * width / 40))
            y = min(image.height - 1, int(top + j * height / 40))
            r, g, b = pixels[x, y]
            n += 1
            if max(r, g, b) - min(r, g, b) > 40 and b > r:
                hit += 1
    return hit / n


def on_screen_at(frames: list[tuple[float, bytes]], origin_s: float, box: list[float] | None) -> dict:
    """When the choropleth was first on the screen (ms from navigation start): the first frame
    showing at least half the choropleth-coloured share of the last frame (the finished map; the
    London outline and the Thames alone show a few per cent)."""
    if not frames or not box:
        return {"ms": None, "frames": len(frames), "final_share": None}
    shares = [(ts, choropleth_share(jpeg, box)) for ts, jpeg in frames if ts >= origin_s]
    final = shares[-1][1] if shares else 0.0
    first = next((ts for ts, share in shares if final and share >= final / 2), None)
    return {"ms": None if first is None else round((first - origin_s) * 1000, 1), "frames": len(shares),
            "final_share": round(final, 3)}


class Requests:
    """Network requests read from Chrome's performance log."""

    def __init__(self):
        self.items: dict[str, dict] = {}

    def feed(self, entries: list[dict]) -> None:
        for entry in entries:
            try:
                message = json.loads(entry["message"])["message"]
            except (KeyError, ValueError):
                continue
            method, params = message.get("method"), message.get("params") or {}
            rid = params.get("requestId")
            if not rid or not method or not method.startswith("Network."):
                continue
            if method == "Network.requestWillBeSent":
                request = params.get("request") or {}
                url = request.get("url", "")
                if url.startswith("data:"):
                    continue
                item = self.items.setdefault(rid, {})
                post = request.get("postData") or ""
                item.update(url=url, method=request.get("method"), type=params.get("type"),
                            start=params.get("timestamp"), outputs=callback_outputs(post),
                            sent=len(post.encode("utf-8")))
            elif rid in self.items:
                item = self.items[rid]
                if method == "Network.responseReceived":
                    response = params.get("response") or {}
                    timing = response.get("timing") or {}
                    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
                    first_byte = timing.get("receiveHeadersStart") or timing.get("receiveHeadersEnd")
                    if first_byte is not None and timing.get("sendEnd") is not None and first_byte >= 0:
                        item["server_ms"] = round(first_byte - timing["sendEnd"], 2)
                    item["headers"] = int(response.get("encodedDataLength") or 0)
                    item.update(status=response.get("status"), encoding=headers.get("content-encoding"),
                                from_cache=bool(response.get("fromDiskCache") or response.get("fromServiceWorker")))
                elif method == "Network.dataReceived":
                    item["body"] = item.get("body", 0) + int(params.get("dataLength") or 0)
                elif method == "Network.loadingFinished":
                    # A 204 (no update) can report 0 although its headers came: count them.
                    item["wire"] = max(int(params.get("encodedDataLength") or 0), item.get("headers", 0))
                    item["end"] = params.get("timestamp")
                elif method == "Network.loadingFailed":
                    item["failed"] = params.get("errorText")
                    item["end"] = params.get("timestamp")

    def since(self, start: float) -> list[dict]:
        return [r for r in self.items.values() if (r.get("start") or 0) >= start]

    def pending(self) -> int:
        return sum(1 for r in self.items.values() if "end" not in r)


def category(item: dict) -> str:
    url = item["url"].split("?", 1)[0]
    path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else url
    if path.startswith("/geo/"):
        return "geometry"
    if path == "/_dash-layout":
        return "layout"
    if path == "/_dash-update-component":
        return "callbacks"
    if path == "/_dash-dependencies":
        return "dependencies"
    return "page"          # the HTML document, scripts, styles, favicon


def callback_outputs(post: str) -> str:
    """The outputs a Dash callback request asks for (from its JSON body)."""
    if not post.startswith("{"):
        return ""
    try:
        return str(json.loads(post).get("output", ""))[:200]
    except ValueError:
        return ""


class Browser:
    def __init__(self):
        self.driver = make_driver()
        self.script_id = None
        self.net = Requests()
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.cast = Screencast(self.driver)

    def quit(self) -> None:
        self.cast.close()
        self.driver.quit()

    def drain(self) -> None:
        self.net.feed(self.driver.get_log("performance"))

    def watch(self, kind: str, minimum: int) -> None:
        if self.script_id is not None:
            self.driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": self.script_id})
        source = _WATCH_JS % json.dumps({"kind": kind, "min": minimum})
        self.script_id = self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                                     {"source": source})["identifier"]

    def state(self) -> dict:
        return self.driver.execute_script(
            "var B = window.__bench || {}; return {drawn: B.drawn, inDom: B.inDom, lastChange: B.lastChange,"
            " changes: B.changes, idleAt: B.idleAt, error: B.error || null, now: performance.now()};")

    def open(self, url: str, kind: str, minimum: int, screen: str | None = None) -> dict:
        """Open ``url`` cold; returns drawn time (ms from navigation start), requests and bytes.
        The watcher's time is the live map's (``live_ms``); with ``screen`` (a CSS selector for the
        map's element) the drawn time is read from the screencast, else it is the live map's."""
        d = self.driver
        self.watch(kind, minimum)
        d.get("about:blank")
        d.execute_cdp_cmd("Network.clearBrowserCache", {})
        self.drain()
        self.net = Requests()
        if screen:
            self.cast.start()
        wall = time.monotonic()
        d.get(url)
        result: dict = {"url": url}
        deadline = time.monotonic() + PAGE_TIMEOUT
        state = self.state()
        while time.monotonic() < deadline:
            state = self.state()
            if state.get("drawn") is not None and state["drawn"] >= 0:
                break
            time.sleep(0.05)
        else:
            result["error"] = (f"not drawn within {PAGE_TIMEOUT:.0f} s"
                               + (f" (all {minimum:,} paths were in the page after {state['inDom']:.0f} ms but "
                                  "never got a visible fill)" if state.get("inDom") else ""))
        result["live_ms"] = result["drawn_ms"] = (round(state["drawn"], 1)
                                                  if state.get("drawn") not in (None, -1) else None)
        if screen:
            time.sleep(0.3)                  # the finished map is the screencast's last frame
            frames = self.cast.stop()
            origin = d.execute_script("return performance.timeOrigin") / 1000.0
            box = d.execute_script(
                "var e = document.querySelector(arguments[0]); if (!e) { return null; }"
                " var r = e.getBoundingClientRect();"
                " return [r.left, r.top, r.right, r.bottom, innerWidth, innerHeight];", screen)
            seen = on_screen_at(frames, origin, box)
            result["drawn_ms"], result["screen"] = seen["ms"], seen
            if seen["ms"] is None and not result.get("error"):
                result["error"] = f"the choropleth was not seen on the screen ({seen['frames']} frames)"
        result["in_dom_ms"] = round(state["inDom"], 1) if state.get("inDom") is not None else None
        result["watch_error"] = state.get("error")
        # Let requests in flight finish (they count: the map asked for them).
        settle = time.monotonic() + 10
        time.sleep(0.5)
        self.drain()
        while self.net.pending() and time.monotonic() < settle:
            time.sleep(0.2)
            self.drain()
        result["wall_s"] = round(time.monotonic() - wall, 2)
        first = min((r.get("start") or 0) for r in self.net.items.values()) if self.net.items else 0
        result["requests"] = [self._row(r, first) for r in self.net.items.values()]
        result["bytes"] = byte_groups(result["requests"])
        return result

    @staticmethod
    def _row(item: dict, first: float | None = None) -> dict:
        row = {"url": item["url"].split("?", 1)[0][-120:], "category": category(item),
               "status": item.get("status"), "wire": item.get("wire", 0), "body": item.get("body", 0),
               "headers": item.get("headers", 0),
               "encoding": item.get("encoding"), "server_ms": item.get("server_ms")}
        if first is not None and item.get("start") is not None:
            row["start_ms"] = round((item["start"] - first) * 1000, 1)
            if item.get("end") is not None:
                row["end_ms"] = round((item["end"] - first) * 1000, 1)
        if row["category"] == "callbacks":
            row["outputs"] = item.get("outputs", "")
            row["sent"] = item.get("sent", 0)
        if item.get("failed"):
            row["failed"] = item["failed"]
        return row

    def restyle(self, component_id, value) -> dict:
        """Set a control's value as a user's choice does; wait until the map stops changing."""
        d = self.driver
        self.drain()
        marker = max((r.get("start") or 0) for r in self.net.items.values()) if self.net.items else 0
        t0 = d.execute_script(
            "var t = performance.now(); window.dash_clientside.set_props(arguments[0], {value: arguments[1]});"
            " return t;", component_id, value)
        deadline = time.monotonic() + PAGE_TIMEOUT
        error = None
        while True:
            time.sleep(0.1)
            self.drain()
            state = self.state()
            new = [r for r in self.net.items.values() if (r.get("start") or 0) > marker]
            done_requests = all("end" in r for r in new)
            last = state.get("lastChange")
            if last is not None and last > t0 and done_requests and state["now"] - last > QUIET_S * 1000:
                break
            if time.monotonic() > deadline:
                error = f"the map did not change within {PAGE_TIMEOUT:.0f} s"
                break
        callbacks = [self._row(r) for r in new if category(r) == "callbacks"]
        others = [self._row(r) for r in new if category(r) != "callbacks"]
        return {"component": component_id, "value": value, "error": error,
                "time_ms": round(last - t0, 1) if last is not None and last > t0 else None,
                "callbacks": callbacks, "other_requests": others,
                "wire": sum(c["wire"] for c in callbacks + others)}


def byte_groups(rows: list[dict]) -> dict:
    groups = {"total": 0, "page": 0, "layout": 0, "dependencies": 0, "callbacks": 0, "geometry": 0}
    for row in rows:
        groups["total"] += row["wire"]
        groups[row["category"]] += row["wire"]
    return groups


# ================================================================================================
# The run
# ================================================================================================
def ours_ids(browser: Browser) -> dict:
    uid = browser.driver.execute_script(
        "var el = document.querySelector('[id*=\"layer-palette\"]'); return el ? JSON.parse(el.id).index : null;")
    if uid is None:
        return {}
    return {kind: {"type": f"layer-{kind}", "index": uid} for kind in ("palette", "classes", "variable")}


def restyles_for(name: str, browser: Browser) -> list[tuple[str, object, object]]:
    """(label, component id, new value) for each restyle a contender supports."""
    if name == "ours":
        ids = ours_ids(browser)
        if not ids:
            return []
        return [("palette", ids["palette"], "viridis"), ("classes", ids["classes"], 7),
                ("variable", ids["variable"], OTHER_VARIABLE)]
    if name == "naive":
        return [("palette", "palette", "Viridis"), ("classes", "classes", 7), ("variable", "variable", OTHER_VARIABLE)]
    if name == "plotly":
        return [("palette", "palette", "Viridis"), ("variable", "variable", OTHER_VARIABLE)]
    return []


# The map's element, whose box the screencast is read in (contenders timed on the screen)
SCREEN_ELEMENT = {"ours": ".explorer__map", "naive": ".leaflet-container", "plotly": ".js-plotly-plot"}

CONTENDERS = {
    # name: (server, path, watcher kind, minimum, does restyles)
    "ours": ("ours", OURS_PATH, "paths", N_LSOA, True),
    "naive": ("naive", "/", "paths", N_LSOA, True),
    "plotly": ("plotly", "/", "plotly", 1, True),
    "ours-points": ("ours", OURS_POINTS_PATH, "clusters", 3, False),
    "naive-points": ("naive-points", "/", "clusters", 3, False),
}


def median(values: list[float]):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 1) if values else None


def run(args) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="bench-map-"))
    names = ["ours", "naive", "plotly"] + (["ours-points", "naive-points"] if not args.no_points else [])
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    print(f"starting servers in {workdir} …", flush=True)
    servers = start_servers(workdir, args.data_dir, {CONTENDERS[n][0] for n in names})
    browser = None
    result: dict = {"contenders": {}, "runs": args.runs}
    try:
        browser = Browser()
        loads: dict[str, list[dict]] = {n: [] for n in names}
        restyles: dict[str, list[dict]] = {n: [] for n in names}
        failures: dict[str, list[str]] = {n: [] for n in names}
        # Untimed first opens: server caches (our geometry and values), the OS file cache, imports.
        warm: dict[str, dict] = {}
        for name in names:
            server, path, kind, minimum, _ = CONTENDERS[name]
            print(f"  warm-up {name} …", flush=True)
            warm[name] = summary_of(browser.open(servers[server].base + path, kind, minimum,
                                                 SCREEN_ELEMENT.get(name)))
        result["load_average"] = []
        for round_no in range(1, args.runs + 1):
            result["load_average"].append(wait_for_quiet(args.max_load, args.quiet_wait))
            for name in names:
                server, path, kind, minimum, does_restyle = CONTENDERS[name]
                attempts = 0
                while True:
                    attempts += 1
                    load = browser.open(servers[server].base + path, kind, minimum, SCREEN_ELEMENT.get(name))
                    if load.get("error"):
                        failures[name].append(load["error"])
                        print(f"  round {round_no} {name}: {load['error']}", flush=True)
                        if attempts < args.attempts:
                            continue
                    break
                load_summary = summary_of(load)
                loads[name].append(load_summary)
                line = (f"  round {round_no} {name}: drawn {load['drawn_ms']} ms (live map {load.get('live_ms')} ms), "
                        f"{load['bytes']['total'] / 1e6:.2f} MB")
                if does_restyle and not load.get("error"):
                    done = {}
                    for label, component, value in restyles_for(name, browser):
                        done[label] = browser.restyle(component, value)
                        line += (f"; {label} {done[label]['time_ms']} ms "
                                 f"{sum(c['wire'] for c in done[label]['callbacks']) / 1000:.1f} KB")
                    restyles[name].append(done)
                print(line, flush=True)
        for name in names:
            result["contenders"][name] = summarise(name, loads[name], restyles[name], failures[name], warm[name])
        result["browser"] = browser.driver.capabilities.get("browserVersion")
    finally:
        if browser is not None:
            browser.quit()
        for server in servers.values():
            server.stop()
        if args.keep:
            print(f"server logs kept in {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def wait_for_quiet(max_load: float, patience: float) -> float:
    """Other processes share this machine: wait (up to ``patience`` s) for the 1-minute load
    average to fall below ``max_load``; returns the load average the round starts at."""
    deadline = time.monotonic() + patience
    load = os.getloadavg()[0]
    while load > max_load and time.monotonic() < deadline:
        print(f"  load average {load:.1f} > {max_load:g}: waiting …", flush=True)
        time.sleep(15)
        load = os.getloadavg()[0]
    return round(load, 2)


def summary_of(load: dict) -> dict:
    return {k: load.get(k) for k in ("drawn_ms", "live_ms", "screen", "in_dom_ms", "error",
                                      "wall_s", "bytes", "requests", "watch_error")}


def summarise(name: str, loads: list[dict], restyles: list[dict], failures: list[str], warm: dict) -> dict:
    ok = [l for l in loads if not l.get("error")]
    out = {
        "drawn_ms": [l["drawn_ms"] for l in loads],
        "drawn_ms_median": median([l["drawn_ms"] for l in ok]),
        "live_ms": [l.get("live_ms") for l in loads],
        "live_ms_median": median([l.get("live_ms") for l in ok]),
        "in_dom_ms_median": median([l["in_dom_ms"] for l in loads]),
        "failed_loads": failures,
        "bytes_median": {k: median([l["bytes"][k] for l in loads]) for k in loads[0]["bytes"]} if loads else {},
        "requests_last_run": loads[-1]["requests"] if loads else [],
        "warm_up": {k: warm.get(k) for k in ("drawn_ms", "error", "bytes")},
    }
    geometry = [r for r in (loads[-1]["requests"] if loads else []) if r["url"].endswith(".pbf")]
    out["geometry_requests"] = geometry
    if restyles:
        summary = {}
        for label in restyles[0]:
            runs = [r[label] for r in restyles if label in r]
            callbacks = [[{"outputs": c.get("outputs"), "server_ms": c.get("server_ms"), "wire": c["wire"],
                           "headers": c.get("headers"), "sent": c.get("sent")} for c in r["callbacks"]]
                         for r in runs]
            summary[label] = restyle_summary(name, [r["time_ms"] for r in runs], callbacks)
            summary[label]["errors"] = [r["error"] for r in runs if r.get("error")]
            summary[label]["other_requests"] = [r["other_requests"] for r in runs]
        out["restyles"] = summary
    return out


def _wire(c: dict) -> int:
    return max(c["wire"], c.get("headers") or 0)


def restyle_summary(name: str, times: list, callbacks: list[list[dict]]) -> dict:
    """Medians over runs of one restyle; ``callbacks`` holds each run's callback requests."""
    out = {
        "time_ms": times,
        "time_ms_median": median(times),
        "callbacks": callbacks,
        "sent_median": median([sum(c.get("sent") or 0 for c in run) for run in callbacks]),
        "headers_median": median([sum(c.get("headers") or 0 for c in run) for run in callbacks]),
        "bodies_median": median([sum(_wire(c) - (c.get("headers") or 0) for c in run) for run in callbacks]),
        "wire_median": median([sum(_wire(c) for c in run) for run in callbacks]),
        "main_callback": [main_callback(name, run) for run in callbacks],
    }
    mains = [m for m in out["main_callback"] if m]
    out["main_server_ms_median"] = median([m["server_ms"] for m in mains])
    out["main_wire_median"] = median([m["wire"] for m in mains])
    return out


def main_callback(name: str, callbacks: list[dict]) -> dict | None:
    """The callback that carries the restyle (ours: the layer's style/values callback)."""
    if not callbacks:
        return None
    if name == "ours":
        for c in callbacks:
            if "layer-style" in (c.get("outputs") or ""):
                return {"server_ms": c.get("server_ms"), "wire": _wire(c), "outputs": c.get("outputs")}
    biggest = max(callbacks, key=_wire)
    return {"server_ms": biggest.get("server_ms"), "wire": _wire(biggest), "outputs": biggest.get("outputs")}


# ================================================================================================
# Report
# ================================================================================================
def _mb(value) -> str:
    return "–" if value is None else f"{value / 1e6:.2f}"


def _kb(value) -> str:
    return "–" if value is None else f"{value / 1000:.1f}"


def _s(ms) -> str:
    return "–" if ms is None else f"{ms / 1000:.2f}"


def _ms(ms) -> str:
    return "–" if ms is None else f"{ms:.0f}"


def _met(ok) -> str:
    return "–" if ok is None else ("**met**" if ok else "**not met**")


def geometry_bytes(name: str, contender: dict):
    """Bytes on the wire of the LSOA geometry: our .pbf; the peers' layout response (the GeoJSON
    is inside it)."""
    if name == "ours":
        rows = [r for r in contender["geometry_requests"] if r["url"].endswith(OURS_GEOMETRY)]
        return rows[0]["wire"] if rows else None
    return contender["bytes_median"].get("layout")


def evaluate(result: dict) -> dict:
    c = result["contenders"]
    ours, naive, plotly = c.get("ours"), c.get("naive"), c.get("plotly")
    checks = {}
    geo = geometry_bytes("ours", ours) if ours else None
    checks["geometry"] = None if geo is None else geo <= TARGET_GEOMETRY_MB * 1e6
    drawn = ours and ours["drawn_ms_median"]
    if drawn and naive and naive["drawn_ms_median"] and plotly and plotly["drawn_ms_median"]:
        checks["drawn"] = (drawn <= TARGET_DRAWN_VS_NAIVE * naive["drawn_ms_median"]
                           and drawn < plotly["drawn_ms_median"])
        checks["drawn_vs_naive"] = round(naive["drawn_ms_median"] / drawn, 2)
        checks["drawn_vs_plotly"] = round(plotly["drawn_ms_median"] / drawn, 2)
    else:
        checks["drawn"] = None
    for label in ("palette", "classes"):
        r = ((ours or {}).get("restyles") or {}).get(label)
        if r and r["main_server_ms_median"] is not None:
            checks[f"restyle_{label}_server"] = r["main_server_ms_median"] <= TARGET_RESTYLE_SERVER_MS
            checks[f"restyle_{label}_bytes"] = r["wire_median"] <= TARGET_RESTYLE_KB * 1000
    points = c.get("ours-points")
    checks["points"] = None if not points or points["drawn_ms_median"] is None \
        else points["drawn_ms_median"] <= TARGET_POINTS_S * 1000
    return checks


def short_outputs(outputs: str | None) -> str:
    """``..{"index":["MATCH"],"type":"layer-values"}.data...`` → ``layer-values.data``."""
    import re

    text = re.sub(r'\{[^{}]*"type":\s*"([^"]+)"[^{}]*\}', r"\1", outputs or "")
    text = re.sub(r"@[0-9a-f]{16,}", "", text)
    return "`" + ", ".join(p for p in text.strip(".").split("...") if p) + "`" if text else "?"


def render_markdown(result: dict) -> str:
    c = result["contenders"]
    checks = result["checks"]
    names = [n for n in ("ours", "naive", "plotly") if n in c]
    heads = {"ours": "ours (geobuf by URL, `hideout`)", "naive": "naive dash-leaflet (GeoJSON as `data`)",
             "plotly": "plotly `Choroplethmap`"}
    runs = result["runs"]
    rows = []
    rows.append(["LSOA geometry on the wire (MB)"] + [_mb(geometry_bytes(n, c[n])) for n in names]
                + [f"≤ {TARGET_GEOMETRY_MB:.2f}", _met(checks.get("geometry"))])
    rows.append(["everything on the wire to drawn (MB)"] + [_mb(c[n]["bytes_median"].get("total")) for n in names]
                + ["–", ""])
    naive_ms = c.get("naive", {}).get("drawn_ms_median")
    target = f"≤ {_s(naive_ms * TARGET_DRAWN_VS_NAIVE) if naive_ms else '½ naive'} and < plotly"
    rows.append([f"time to polygons drawn, median of {runs} (s)"] + [_s(c[n]["drawn_ms_median"]) for n in names]
                + [target, _met(checks.get("drawn"))])
    rows.append(["of which: until the live map has drawn them (hover, click), median (s)"]
                + [_s(c[n].get("live_ms_median")) for n in names] + ["–", ""])

    def restyle_cells(label: str, what: str) -> list[str]:
        cells = []
        for n in names:
            r = (c[n].get("restyles") or {}).get(label)
            if not r:
                cells.append("n/a")
            elif what == "server":
                cells.append(_ms(r["main_server_ms_median"]))
            elif what == "bytes":
                cells.append(_kb(r["wire_median"]))
            elif what == "bodies":
                cells.append(_kb(r["bodies_median"]))
            else:
                cells.append(_ms(r["time_ms_median"]))
        return cells

    for label, title in (("palette", "restyle: palette"), ("classes", "restyle: number of classes")):
        rows.append([f"{title}, server time of the callback (ms)"] + restyle_cells(label, "server")
                    + [f"≤ {TARGET_RESTYLE_SERVER_MS:.0f}", _met(checks.get(f"restyle_{label}_server"))])
        rows.append([f"{title}, callback responses on the wire, headers included (KB)"]
                    + restyle_cells(label, "bytes")
                    + [f"≤ {TARGET_RESTYLE_KB:.0f}", _met(checks.get(f"restyle_{label}_bytes"))])
        rows.append([f"{title}, of which response bodies (KB)"] + restyle_cells(label, "bodies") + ["–", ""])
        rows.append([f"{title}, until the map is repainted (ms)"] + restyle_cells(label, "time") + ["–", ""])
    rows.append(["switch variable (mean → max), server time (ms)"] + restyle_cells("variable", "server") + ["–", ""])
    rows.append(["switch variable, callback responses (KB)"] + restyle_cells("variable", "bytes") + ["–", ""])
    rows.append(["switch variable, until the map is repainted (ms)"] + restyle_cells("variable", "time") + ["–", ""])
    lines = ["### Map explorer: the LSOA 2021 NO₂ choropleth (4,994 areas) in headless Chromium", ""]
    lines.append(markdown_table(["measure"] + [heads[n] for n in names] + ["target", ""], rows))
    if "ours-points" in c:
        pts = [c["ours-points"]] + ([c["naive-points"]] if "naive-points" in c else [])
        lines += ["", markdown_table(
            ["52,374 points of interest, clustered", "ours", "naive dash-leaflet (GeoJSON as `data`)", "target", ""],
            [["time to clusters drawn, median (s)"] + [_s(p["drawn_ms_median"]) for p in pts]
             + (["–"] if len(pts) == 1 else []) + [f"≤ {TARGET_POINTS_S:.1f}", _met(checks.get("points"))],
             ["everything on the wire (MB)"] + [_mb(p["bytes_median"].get("total")) for p in pts]
             + (["–"] if len(pts) == 1 else []) + ["–", ""]])]
    notes = []
    if checks.get("drawn_vs_naive"):
        notes.append(f"Time to drawn: naive ÷ ours = {checks['drawn_vs_naive']}×, plotly ÷ ours = "
                     f"{checks['drawn_vs_plotly']}×.")
    style = ((c.get("ours") or {}).get("restyles") or {}).get("palette")
    if style and style.get("callbacks"):
        fired = "; ".join(f"{short_outputs(cb['outputs'])} ({_kb(_wire(cb))} KB down of which "
                          f"{_kb(cb.get('headers'))} KB headers, {_kb(cb['sent'])} KB up, "
                          f"{_ms(cb['server_ms'])} ms)" for cb in style["callbacks"][-1])
        notes.append(f"ours: a palette change fires {len(style['callbacks'][-1])} callbacks (last run): {fired}.")
    if style and style.get("sent_median"):
        notes.append(f"ours: a palette change uploads {_kb(style['sent_median'])} KB of request bodies "
                     "(uncompressed) in all, median.")
    for n, contender in c.items():
        if contender["failed_loads"]:
            notes.append(f"**{n}: {len(contender['failed_loads'])} page load(s) failed** "
                         f"({contender['failed_loads'][0]}); medians are over the loads that drew.")
        if contender.get("in_dom_ms_median"):
            notes.append(f"{n}: all {N_LSOA:,} paths were in the page at {_s(contender['in_dom_ms_median'])} s and "
                         f"painted with a visible fill at {_s(contender['drawn_ms_median'])} s (medians).")
    lines += [""] + [f"- {n}" for n in notes] if notes else []
    loads = ", ".join(f"{x:.1f}" for x in result.get("load_average") or [])
    lines += ["", result["method"], "",
              f"Machine: {machine_line(result['machine'])} · Chromium {result.get('browser')} · "
              f"1-minute load average at the start of each round: {loads}."]
    return "\n".join(lines)


METHOD = (
    "Each page is opened cold (browser cache cleared) from a server on 127.0.0.1 in its own process "
    "(Flask's threaded server for all three; ours with gzip, the peers with Dash's defaults, no gzip), "
    "once untimed, then {runs} times with rounds interleaved. Bytes are on the wire, headers included, "
    "from Chrome's DevTools log; the peers' GeoJSON travels inside Dash's layout response. Time to drawn "
    "is from navigation start until the choropleth is on the screen, read from the browser's screencast "
    "(the first frame whose map shows at least half the choropleth colours of the finished map): ours "
    "draws a first view of its big layers before Dash has started, which the page's live map then takes "
    "over. Time to live map is from navigation start until the map itself has drawn the polygons (every "
    "polygon with a visible fill in Leaflet's SVG, our canvas layer painted, or plotly's map idle with "
    "its choropleth rendered), watched from inside the page. Chromium runs WebGL on "
    "SwiftShader (software) for plotly, with 2D canvases and the page rasterized in software, as without a "
    "GPU. A restyle's server time is the callback's "
    "request-sent → response-headers time on loopback; its bytes are every callback response the change "
    "fires (for ours they are listed under the table). No basemap tiles anywhere. Client and "
    "servers share the machine.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.map_open",
                                     description="The LSOA NO2 map opened three ways in headless Chromium.")
    parser.add_argument("--runs", type=int, default=3, help="timed page loads per contender (default 3)")
    parser.add_argument("--attempts", type=int, default=3,
                        help="tries per timed load when a page never draws (default 3); failures are reported")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--no-points", action="store_true", help="skip the 52k points-of-interest layer")
    parser.add_argument("--max-load", type=float, default=2.5,
                        help="before each round, wait for the 1-minute load average to fall below this")
    parser.add_argument("--quiet-wait", type=float, default=240.0,
                        help="seconds to wait for that before running anyway (default 240)")
    parser.add_argument("--only", help="comma-separated contenders (ours, naive, plotly, ours-points, naive-points)")
    parser.add_argument("--keep", action="store_true", help="keep the servers' logs")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write results")
    parser.add_argument("--render", action="store_true",
                        help="rewrite results/map_open.md from results/map_open.json without running")
    parser.add_argument("--serve", choices=["naive", "plotly", "naive-points"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--assets", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve_peer(args.serve, args.port, args.data_dir, args.assets)
        return 0
    if args.render:
        from .registry_search import RESULTS_DIR

        result = json.loads((RESULTS_DIR / "map_open.json").read_text(encoding="utf-8"))
        for name, contender in result["contenders"].items():
            for label, r in (contender.get("restyles") or {}).items():
                kept = {k: r.get(k) for k in ("errors", "other_requests")}
                times = r.get("time_ms") or [r.get("time_ms_median")]
                contender["restyles"][label] = {**restyle_summary(name, times, r["callbacks"]), **kept}
        result["checks"] = evaluate(result)
        result["method"] = METHOD.format(runs=result["runs"])
        markdown = render_markdown(result)
        write_results("map_open", result, markdown)
        print(markdown)
        return 0
    started = time.perf_counter()
    result = run(args)
    result["checks"] = evaluate(result)
    result["method"] = METHOD.format(runs=args.runs)
    result["machine"] = machine_info()
    result["targets"] = {"geometry_mb": TARGET_GEOMETRY_MB, "drawn_vs_naive": TARGET_DRAWN_VS_NAIVE,
                         "restyle_server_ms": TARGET_RESTYLE_SERVER_MS, "restyle_kb": TARGET_RESTYLE_KB,
                         "points_s": TARGET_POINTS_S}
    result["seconds"] = round(time.perf_counter() - started, 1)
    markdown = render_markdown(result)
    print(markdown)
    if not args.no_write:
        paths = write_results("map_open", result, markdown)
        print("wrote " + ", ".join(str(p.relative_to(ROOT)) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
