"""Load test: 50 concurrent sessions against the app under gunicorn on 127.0.0.1.

Two server set-ups, one after the other, each on a fresh EXPLORER_HOME with the local data folder
``../shared/data``:

A. ``explorer serve --workers 1`` with the filesystem cache (the embedded default);
B. ``explorer serve --workers $(nproc)`` with ``EXPLORER_CACHE_URL=redis://…`` (a redis-server this
   script starts on a free port and stops after);
C. (``--postgresql``, issue 18) as B, with ``EXPLORER_DATABASE_URL`` naming a PostgreSQL this script
   starts (Debian's package, a temporary folder, a free port): registry, short links and accounts
   there, the registry read through the host's replica.

Each session is one browser (its own connection pool, the page it is on, the geometry it has
cached) and plays issue 6's steps a fixed number of times, building every Dash callback request
from ``/_dash-dependencies`` and the page it holds, as the browser does (``benchmarks/dash_client.py``).
It offers the encodings a browser offers (``gzip, deflate, br``: the server answers brotli, as it
answers Chromium and Firefox; before 2026-12-07 the client offered gzip only). The sessions are
spread over ``--client-processes`` processes (default 10), each running its sessions in threads: in
one process, 50 browsers took turns at parsing their pages under Python's one lock, which a
person's browser does on its own CPU (before 2026-12-07 the runs used one process):

1. **open a theme**: ``/themes/<slug>`` (the index page, which carries the page's layout, then the
   dependencies and the router callback) and its map layers' geometry the first time;
2. **click a borough**: a borough from the theme page's picker; the page takes the selection and
   restyles its charts and map in the browser (assets/theme_selection.js), so the client sets the
   selection as that code does and calls the server callbacks that follow it (the place panel);
3. **export a chart**: the chart's PNG link as its page offers it (``/export/chart/<theme>/<chart>.png?preset=a4``);
4. **open the map**: ``/map`` with the callbacks it fires and its default layers' geometry;
5. **add a layer**: the layer panel's search callback, the add callback, the new card's callbacks and
   its geometry;
6. **restyle**: a layer's restyle callback with another palette and classification;
7. **search API**: ``/api/datasets?q=parks``;
8. **dataset page**: ``/dataset/<id>`` with its callbacks (resolve, load, join, preview, source card).

Each set-up starts a fresh server on a fresh EXPLORER_HOME (and a fresh Redis) and waits until its
``/healthz`` says ready (every worker warm: explorer/web/warmup.py); the time from starting the server
to ready is reported. Then the 50 sessions run together at once, with people's pauses (the last
``--think`` value): the **cold** pass, the clock starting when the server said it was ready. Then,
on the same server, the 50 run again for each ``--think`` value (``0``: clicking as fast as answers
come; ``1``: pausing about a second before each step as a person does): the **warm** passes. Requests time out after 30 s; the
whole run stops at ``--timeout`` seconds whatever happens (steps not run are counted as errors).
Latencies are wall-clock per step as a client sees them (p50/p95/max), errors are non-2xx answers,
answers without what the next step needs, timeouts and connection failures. The client runs on the
same machine as the server and takes CPU from it.

    .venv/bin/python -m benchmarks.load_test [--sessions 50] [--iterations 2] [--think 0,1] [--timeout 1500]

Writes benchmarks/results/load_test.json and .md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import brotli
import orjson
import requests

from layouts.export_menu import chart_image_href

from .processes import stop_group
from .dash_client import Page, has_input, has_output, id_text
from .registry_search import DATA_DIR, ROOT, machine_info, machine_line, markdown_table, stats_ms, write_results

STEPS = ["open a theme", "click a borough", "export a chart", "open the map", "add a layer",
         "restyle", "search API", "dataset page"]
DATASETS = ["laei-lsoa-2021", "london-boroughs", "laei-borough", "parks-os-greenspace", "laqn-sites"]
CLIENT_PROCESSES = 10   # 50 sessions: 5 browsers per client process
LAYER_SEARCHES = ["house prices", "deprivation", "parks", "crime", "trees"]
REQUEST_TIMEOUT = 30
READY_TIMEOUT = 180     # seconds a fresh server may take to say /healthz ready
# the layout an index page carries for Dash (explorer/web/first_paint.py)
EMBEDDED_LAYOUT = b'<script type="application/json" id="explorer-layout">'


def embedded_layout(page: bytes) -> Any:
    """The layout an index page carries (explorer/web/first_paint.py), or None. A plain search
    for the marker and the end of its script (JSON in a script has no "</"), not a regular
    expression stepping through the page: the client shares the CPUs with the server."""
    start = page.find(EMBEDDED_LAYOUT)
    if start < 0:
        return None
    start += len(EMBEDDED_LAYOUT)
    end = page.find(b"</script>", start)
    return orjson.loads(page[start:end]) if end > 0 else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def theme_slugs() -> list[str]:
    import yaml

    slugs = []
    for path in sorted((ROOT / "geodata" / "themes").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if data.get("slug"):
            slugs.append(str(data["slug"]))
    return slugs


# One session -------------------------------------------------------------------------------------
class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {s: [] for s in STEPS}
        self.errors: dict[str, list[str]] = {s: [] for s in STEPS}
        self.bytes: dict[str, int] = {s: 0 for s in STEPS}

    def add(self, step: str, seconds: float, error: str | None, size: int) -> None:
        with self.lock:
            if error:
                self.errors[step].append(error)
            else:
                self.times[step].append(seconds)
                self.bytes[step] += size

    def state(self) -> dict:
        with self.lock:
            return {"times": self.times, "errors": self.errors, "bytes": self.bytes}

    def merge(self, state: dict) -> None:
        """Add what another process's recorder holds (:meth:`state`)."""
        with self.lock:
            for step in STEPS:
                self.times[step] += state["times"][step]
                self.errors[step] += state["errors"][step]
                self.bytes[step] += state["bytes"][step]


class StepError(RuntimeError):
    """A step that could not do what a person would (an answer without what the page needs)."""


ACCEPT_ENCODING = "gzip, deflate, br"


def inflate(body: bytes, encoding: str | None) -> bytes:
    if encoding == "br":
        return brotli.decompress(body)
    return gzip.decompress(body) if encoding == "gzip" else body


class Browser:
    """One person's browser: a connection pool, the page in the tab, the geometry it has cached."""

    def __init__(self, base: str, deps: list[dict]):
        self.base = base
        self.deps = deps
        self.session = requests.Session()
        # no proxy or .netrc from the environment (read again on every request otherwise): the
        # client shares the CPUs with the server it measures
        self.session.trust_env = False
        # what Chromium and Firefox offer (the server answers brotli, as it does them)
        self.session.headers.update({"Accept-Encoding": ACCEPT_ENCODING, "User-Agent": "explorer-load-test"})
        self.page: Page | None = None
        self.cached: set[str] = set()   # URLs the browser keeps (immutable geometry)
        self.slug = ""

    def get(self, path: str) -> int:
        """The size of an answer as sent (geometry, an image, the search API): its bytes are not
        read here, so not inflated either (the browser's inflating is on the visitor's CPU, not the
        server's, which this client shares)."""
        return len(self._send(path)[0])

    def fetch(self, path: str) -> tuple[bytes, bytes]:
        """(the body as sent, the body inflated)."""
        body, response = self._send(path)
        return body, inflate(body, response.headers.get("Content-Encoding"))

    def _send(self, path: str) -> tuple[bytes, requests.Response]:
        response = self.session.get(self.base + path, timeout=REQUEST_TIMEOUT, stream=True)
        body = response.raw.read(decode_content=False)  # as sent (compressed)
        if response.status_code >= 400 or not body:
            raise StepError(f"GET {path[:60]} -> HTTP {response.status_code}")
        return body, response

    def callback(self, dep: dict, changed, values=None, index=None) -> int:
        body = self.page.body(dep, changed, values, index)
        response = self.session.post(self.base + "/_dash-update-component", data=json.dumps(body),
                                     headers={"Content-Type": "application/json"},
                                     timeout=REQUEST_TIMEOUT, stream=True)
        raw = response.raw.read(decode_content=False)
        if response.status_code == 204:  # the callback chose not to update
            return len(raw)
        if response.status_code >= 400 or not raw:
            raise StepError(f"callback {dep['output'][:50]} -> HTTP {response.status_code}")
        text = inflate(raw, response.headers.get("Content-Encoding"))
        new = self.page.apply(orjson.loads(text))
        return len(raw) + self.fire_initial(new)

    def fire_initial(self, new: set[str]) -> int:
        size = 0
        for dep, index in self.page.initial(new):
            size += self.callback(dep, [], index=index)
        return size

    def navigate(self, path: str, search: str = "") -> int:
        """A full page load as a browser makes it: the index page, which carries the page's layout
        (explorer/web/first_paint.py; else the layout is asked for, the page's address as referrer),
        the dependencies, then the router callback and the callbacks the new page fires. Static
        bundles are cached by the browser (fingerprinted)."""
        sent, page = self.fetch(path + search)
        size = len(sent) + self.get("/_dash-dependencies")
        layout = embedded_layout(page)
        if layout is None:
            response = self.session.get(self.base + "/_dash-layout", timeout=REQUEST_TIMEOUT,
                                        headers={"Referer": self.base + path + search})
            if response.status_code >= 400:
                raise StepError(f"GET /_dash-layout -> HTTP {response.status_code}")
            size += len(response.content)
            layout = response.json()
        self.page = Page(self.deps)
        self.page.add(layout)
        if self.page.find(lambda d: has_input(d, "url", "pathname")) is None:
            raise StepError("no router callback in /_dash-dependencies")
        # the browser's address in the page's location, then every callback the layout fires by
        # itself, the router's among them (which, the page being there, sends nothing back)
        self.page.props.setdefault("url", {}).update({"pathname": path, "search": search})
        self.page.ids.setdefault("url", "url")
        return size + self.fire_initial(set(self.page.props))

    def geometry(self, kind: str) -> int:
        """Fetch the geometry URLs of the map layers on the page the browser has not cached."""
        size = 0
        for key, props in list(self.page.props.items()):
            url = props.get("url") or (props.get("hideout") or {}).get("geometry")   # big layers: our canvas
            if f'"{kind}"' in key and isinstance(url, str) and url.startswith("/geo/") and url not in self.cached:
                size += self.get(url)
                self.cached.add(url)
        return size

    def ids(self, kind: str) -> list[dict]:
        return [self.page.ids[k] for k in self.page.props if f'"type":"{kind}"' in k]


def run_session(base: str, deps: list[dict], slugs: list[str], n: int, iterations: int,
                rec: Recorder, deadline: float, think: float = 0.0) -> None:
    pause = random.Random(n)  # the same pauses for session n in every run
    browser = Browser(base, deps)
    with browser.session:
        for i in range(iterations):
            k = n + i
            slug = slugs[k % len(slugs)] if slugs else ""
            dataset_id = DATASETS[k % len(DATASETS)]

            def open_theme():
                browser.slug = slug
                return browser.navigate(f"/themes/{slug}") + browser.geometry("theme-geo")

            def click_borough():
                if not browser.slug or browser.page.props.get("theme-picker") is None:
                    raise StepError("no borough picker on the page")
                options = browser.page.props["theme-picker"].get("options") or []
                if not options:
                    raise StepError("the borough picker has no options")
                code = options[k % len(options)]["value"]
                select = browser.page.find(lambda d: has_input(d, "theme-picker", "value"))
                if select is not None:   # a page that selects on the server
                    size = browser.callback(select, [("theme-picker", "value")], {("theme-picker", "value"): code})
                else:
                    # the browser makes the selection and restyles the charts and the map itself
                    # (assets/theme_selection.js: explorer.themeSelect); the store holds it
                    label = options[k % len(options)].get("label", code)
                    browser.page.props.setdefault("theme-selection", {})["data"] = {
                        "codes": [code], "names": {code: label}, "label": label, "source": "picker", "at": []}
                    size = 0
                # what follows the selection on the server (the place panel)
                for dep in browser.deps:
                    if not dep.get("clientside_function") and has_input(dep, "theme-selection", "data"):
                        size += browser.callback(dep, [("theme-selection", "data")])
                return size

            def export_chart():
                charts = browser.ids("theme-chart")
                if not charts:
                    raise StepError("no chart on the theme page")
                chart = charts[k % len(charts)]["index"]
                return browser.get(chart_image_href(browser.slug, chart, "png"))   # the page's PNG link

            def open_map():
                return browser.navigate("/map") + browser.geometry("layer-geo")

            def add_layer():
                search = browser.page.find(lambda d: has_input(d, "layer-search", "value"))
                add = browser.page.find(lambda d: has_input(d, "add-layer"))
                if search is None or add is None:
                    raise StepError("no layer search or add callback")
                size = browser.callback(search, [("layer-search", "value")],
                                        {("layer-search", "value"): LAYER_SEARCHES[k % len(LAYER_SEARCHES)]})
                buttons = browser.ids("add-layer")
                if not buttons:
                    raise StepError("the layer search found nothing to add")
                button = buttons[0]
                size += browser.callback(add, [(button, "n_clicks")], {(id_text(button), "n_clicks"): 1})
                return size + browser.geometry("layer-geo")

            def restyle():
                dep = browser.page.find(lambda d: has_output(d, "layer-style", "data"))
                for ident in browser.ids("layer-palette"):
                    props = browser.page.props[id_text(ident)]
                    palettes = [o["value"] if isinstance(o, dict) else o for o in props.get("options") or []]
                    if dep is None or len(palettes) < 2:
                        continue
                    uid = ident["index"]
                    method = {"type": "layer-method", "index": uid}
                    methods = [o["value"] if isinstance(o, dict) else o
                               for o in browser.page.props.get(id_text(method), {}).get("options") or []]
                    values = {(id_text(ident), "value"): palettes[(palettes.index(props.get("value")) + 1) % len(palettes)
                                                                  if props.get("value") in palettes else 0]}
                    if methods:
                        values[(id_text(method), "value")] = methods[k % len(methods)]
                    return browser.callback(dep, [(ident, "value"), (method, "value")], values, index=uid)
                raise StepError("no layer with palettes to restyle")

            def dataset_page():
                return browser.navigate(f"/dataset/{dataset_id}")

            steps = {
                "open a theme": open_theme,
                "click a borough": click_borough,
                "export a chart": export_chart,
                "open the map": open_map,
                "add a layer": add_layer,
                "restyle": restyle,
                "search API": lambda: browser.get("/api/datasets?q=parks"),
                "dataset page": dataset_page,
            }
            for step, action in steps.items():
                if think:
                    time.sleep(think * pause.uniform(0.5, 1.5))  # a person reads, then clicks
                if time.monotonic() > deadline:
                    rec.add(step, 0.0, "not run: the overall time limit was reached", 0)
                    continue
                started = time.perf_counter()
                try:
                    size = action()
                    error = None
                except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
                    size, error = 0, f"{type(exc).__name__}: {str(exc)[:160]}"
                rec.add(step, time.perf_counter() - started, error, size)



def run_sessions(base: str, deps: list[dict], slugs: list[str], numbers: list[int], iterations: int,
                 deadline: float, think: float) -> dict:
    """Sessions ``numbers`` side by side in this (client) process; what they recorded."""
    rec = Recorder()
    with ThreadPoolExecutor(max_workers=len(numbers)) as pool:
        for f in [pool.submit(run_session, base, deps, slugs, n, iterations, rec, deadline, think)
                  for n in numbers]:
            f.result()
    return rec.state()


# The servers -------------------------------------------------------------------------------------
class Redis:
    def __init__(self, folder: Path):
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly",
             "no", "--dir", str(folder), "--logfile", str(folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def info(self) -> dict:
        import redis

        client = redis.Redis.from_url(self.url)
        return {"keys": client.dbsize(), "used_memory_human": client.info("memory")["used_memory_human"]}

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


class Server:
    def __init__(self, home: Path, workers: int, threads: int, cache_url: str, log: Path,
                 database_url: str = ""):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "EXPLORER_HOME": str(home), "EXPLORER_DATA_DIR": str(DATA_DIR),
               "EXPLORER_CACHE_URL": cache_url, "PYTHONPATH": str(ROOT),
               "EXPLORER_DATABASE_URL": database_url}
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "explorer.cli", "serve", "--workers", str(workers),
             "--threads", str(threads), "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        started = time.monotonic()
        self.health: dict = {}
        deadline = started + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited; see {log}")
            try:
                response = requests.get(self.base + "/healthz", timeout=5)
                if response.status_code == 200:
                    self.ready_s = round(time.monotonic() - started, 2)
                    self.health = response.json()
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.25)
        self.stop()
        raise SystemExit(f"the server did not say it was ready within {READY_TIMEOUT} s; see {log}")

    def rss_mb(self) -> dict[str, dict]:
        """Resident memory of each process of the server, in MB (``{pid: {"process": "python" or
        "renderer", "mb": …}}``: the master and its workers, and the export renderer's headless
        Chromium): what its memos and caches cost. Read from /proc (Linux); empty elsewhere."""
        out = {}
        for folder in Path("/proc").glob("[0-9]*"):
            try:
                fields = (folder / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) != self.proc.pid:      # process group: the server's session
                    continue
                rss = next(line for line in (folder / "status").read_text().splitlines()
                           if line.startswith("VmRSS:"))
            except (OSError, ValueError, StopIteration, IndexError):
                continue
            name = "renderer" if "chrom" in (folder / "comm").read_text() else "python"
            out[folder.name] = {"process": name, "mb": round(int(rss.split()[1]) / 1024, 1)}
        return out

    def stop(self) -> None:
        stop_group(self.proc, grace=30)
        self.log.close()


def summarise(rec: Recorder) -> dict:
    out = {}
    for step in STEPS:
        times = rec.times[step]
        stats = stats_ms(times) if times else {"n": 0}
        out[step] = {**stats, "errors": len(rec.errors[step]),
                     "error_examples": sorted(set(rec.errors[step]))[:3],
                     "kb_per_request": round(rec.bytes[step] / max(len(times), 1) / 1024, 1)}
    return out


def run_setup(name: str, workers: int, threads: int, cache: str, sessions: int, iterations: int,
              deadline: float, workdir: Path, thinks: list[float],
              client_processes: int = CLIENT_PROCESSES) -> dict:
    home = workdir / f"home-{name}"
    redis = Redis(workdir) if cache.startswith("redis") else None
    postgres = None
    if cache.endswith("postgresql"):   # registry, links and accounts in a PostgreSQL started for the run
        sys.path.insert(0, str(ROOT))
        from tests.postgres_server import PostgresServer, find_bin_dir

        postgres = PostgresServer(find_bin_dir())
        postgres.start()
    try:
        server = Server(home, workers, threads, redis.url if redis else "", workdir / f"server-{name}.log",
                        postgres.new_database() if postgres else "")
    except BaseException:
        if postgres:
            postgres.stop()
        raise
    try:
        deps = requests.get(server.base + "/_dash-dependencies", timeout=30).json()
        slugs = theme_slugs()

        def one_pass(think: float) -> dict:
            rec = Recorder()
            started = time.monotonic()
            # the sessions are spread over client processes (one GIL each): one process's threads
            # took turns at parsing pages, which a person's own browser does on its own CPU
            groups = [list(range(sessions))[i::client_processes] for i in range(client_processes)]
            groups = [g for g in groups if g]
            with ProcessPoolExecutor(max_workers=len(groups), mp_context=get_context("fork")) as pool:
                futures = [pool.submit(run_sessions, server.base, deps, slugs, group, iterations,
                                       deadline, think) for group in groups]
                for f in futures:
                    rec.merge(f.result())
            wall = time.monotonic() - started
            total = sum(len(v) for v in rec.times.values())
            return {"think_s": think, "wall_s": round(wall, 2),
                    "steps_per_s": round(total / wall, 1) if wall else None,
                    "server_rss_mb": server.rss_mb(),
                    "steps": summarise(rec)}

        load_at_ready = round(os.getloadavg()[0], 2)
        cold = one_pass(thinks[-1])     # the clock starts when /healthz said ready
        runs = [one_pass(think) for think in thinks]
        result = {
            "setup": name, "workers": workers, "threads_per_worker": threads,
            "cache": "redis" if redis else "filesystem", "sessions": sessions,
            "database": "postgresql" if postgres else "sqlite",
            "iterations": iterations,
            "client_processes": client_processes,
            "themes": slugs,
            "ready_s": server.ready_s,
            "health": server.health,
            "load_average_at_ready": load_at_ready,
            "cold": cold,
            "runs": runs,
        }
        if redis:
            result["redis"] = redis.info()
        return result
    finally:
        server.stop()
        if redis:
            redis.stop()
        if postgres:
            postgres.stop()
        kept = Path(tempfile.gettempdir()) / f"explorer-load-{name.split()[0]}-{cache}.log"
        shutil.copyfile(workdir / f"server-{name}.log", kept)  # for errors' tracebacks
        print(f"  server log: {kept}", flush=True)


def _ms(value) -> str:
    return f"{value:,.0f}" if isinstance(value, (int, float)) else "–"


def render_markdown(result: dict) -> str:
    lines = [f"# Load test: {result['sessions']} concurrent sessions", "",
             machine_line(result["machine"]), "",
             f"{result['sessions']} sessions × {result['iterations']} iterations × {len(STEPS)} steps "
             f"on 127.0.0.1 (client and server on the same machine, sharing its "
             f"{result['machine']['cpus_usable']} CPUs). Latency per step as the client sees it, in ms;"
             " errors are non-2xx answers, answers without what the next step needs, timeouts (30 s"
             " per request) and failed connections.", ""]
    setups = result["setups"]
    lines += ["### Cold: a fresh server and a fresh Redis, the clock starting when /healthz says ready", "",
              "Each set-up's server (and Redis) started fresh on an empty EXPLORER_HOME; the 50 sessions "
              "start together as soon as `/healthz` answers ready, pausing "
              f"{setups[0]['cold']['think_s'] * 0.5:g}–{setups[0]['cold']['think_s'] * 1.5:g} s before each step.", ""]
    header = ["step"]
    for setup in setups:
        header += [f"{setup['setup']} p50", "p95", "max", "errors"]
    rows = []
    for step in STEPS:
        row = [step]
        for setup in setups:
            st = setup["cold"]["steps"][step]
            row += [_ms(st.get("p50_ms")), _ms(st.get("p95_ms")), _ms(st.get("max_ms")), st["errors"]]
        rows.append(row)
    lines += [markdown_table(header, rows), ""]
    for setup in setups:
        health = setup.get("health") or {}
        steps = ", ".join(f"{k} {v.get('s')} s" for k, v in (health.get("steps") or {}).items())
        lines.append(f"- {setup['setup']}: ready {setup['ready_s']} s after the server was started "
                     f"(warm-up {health.get('warmed_in_s')} s in the worker that answered"
                     + (f", slowest worker {health.get('slowest_worker_s')} s" if health.get("slowest_worker_s") else "")
                     + (f": {steps}" if steps else "") + f"); 1-minute load average at ready "
                     f"{setup.get('load_average_at_ready')}; cold pass {setup['cold']['wall_s']} s wall, "
                     f"{setup['cold']['steps_per_s']} steps/s.")
    target = all(s["cold"]["steps"][st].get("p95_ms", 1e9) < 1000 and s["cold"]["steps"][st]["errors"] == 0
                 for s in setups for st in STEPS)
    lines += ["", f"Target (p95 < 1 s per step, 0 errors): {'met' if target else 'not met'}.", ""]
    for setup in setups:
        for step in STEPS:
            st = setup["cold"]["steps"][step]
            if st["errors"]:
                lines.append(f"- cold, {setup['setup']}, {step}: {st['errors']} errors, e.g. "
                             + "; ".join(f"`{e[:110]}`" for e in st["error_examples"]))
    lines.append("")
    for i, think in enumerate(result["think_s"]):
        title = ("Warm: no pause between steps (every session clicks as soon as the last answer is in: "
                 "saturation)" if not think else
                 f"Warm: a pause of {think * 0.5:g}–{think * 1.5:g} s before each step (people reading)")
        lines += [f"### {title}", ""]
        header = ["step"]
        for setup in setups:
            header += [f"{setup['setup']} p50", "p95", "max", "errors"]
        rows = []
        for step in STEPS:
            row = [step]
            for setup in setups:
                st = setup["runs"][i]["steps"][step]
                row += [_ms(st.get("p50_ms")), _ms(st.get("p95_ms")), _ms(st.get("max_ms")), st["errors"]]
            rows.append(row)
        lines += [markdown_table(header, rows), ""]
        lines += [", ".join(f"{s['setup']}: {s['runs'][i]['wall_s']} s wall, "
                            f"{s['runs'][i]['steps_per_s']} steps/s" for s in setups), ""]
        target = all(s["runs"][i]["steps"][st].get("p95_ms", 1e9) < 1000
                     and s["runs"][i]["steps"][st]["errors"] == 0 for s in setups for st in STEPS)
        lines += [f"Target (p95 < 1 s per step, 0 errors): {'met' if target else 'not met'}.", ""]
        for setup in setups:
            for step in STEPS:
                st = setup["runs"][i]["steps"][step]
                if st["errors"]:
                    lines.append(f"- {setup['setup']}, {step}: {st['errors']} errors, e.g. "
                                 + "; ".join(f"`{e[:110]}`" for e in st["error_examples"]))
        lines.append("")
    for setup in setups:
        rss = [setup["cold"].get("server_rss_mb")] + [run.get("server_rss_mb") for run in setup["runs"]]
        rss = [sorted((p["mb"] for p in r.values() if p["process"] == "python"), reverse=True)
               + [sum(p["mb"] for p in r.values() if p["process"] == "renderer")] for r in rss if r]
        rss = [r if r[-1] else r[:-1] for r in rss]     # no renderer seen (its own process group)
        lines.append(f"- **{setup['setup']}**: {setup['workers']} worker(s) × {setup['threads_per_worker']} "
                     f"threads, {setup['cache']} cache"
                     + (f"; Redis held {setup['redis']['keys']} keys, {setup['redis']['used_memory_human']}"
                        if setup.get("redis") else "")
                     + (f"; resident memory in MB of the server's Python processes (largest first; and, "
                        f"last, the export renderer's Chromium processes together when they are in the "
                        f"server's process group): after the cold pass "
                        f"{', '.join(f'{m:,.0f}' for m in rss[0])}; after the last pass "
                        f"{', '.join(f'{m:,.0f}' for m in rss[-1])}" if rss else ""))
    if result.get("load_average_end"):
        lines += ["", f"1-minute load average when the runs ended: {result['load_average_end']:.1f} (this test's "
                  "own load included; much above it means other work shared the machine during the run)."]
    lines += ["", "Steps and substitutions:", ""]
    lines += [f"- {note}" for note in result["notes"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--timeout", type=float, default=1500, help="stop everything after this many seconds")
    parser.add_argument("--only", choices=["filesystem", "redis", "redis+postgresql"], default=None,
                        action="append", help="run only these set-ups (repeatable)")
    parser.add_argument("--postgresql", action="store_true",
                        help="add a set-up with the registry, links and accounts in PostgreSQL (issue 18)")
    parser.add_argument("--results", default="load_test", help="name of the results files")
    parser.add_argument("--client-processes", type=int, default=CLIENT_PROCESSES,
                        help="processes the sessions are spread over (default %(default)s)")
    parser.add_argument("--think", default="0,1",
                        help="mean pauses before each step, in seconds, one run each (default 0,1)")
    args = parser.parse_args(argv)
    thinks = [float(t) for t in args.think.split(",") if t.strip()]
    machine = machine_info()   # before the servers and sessions add their own load
    deadline = time.monotonic() + args.timeout
    cpus = len(os.sched_getaffinity(0))
    setups = [("1 worker + filesystem", 1, "filesystem"), (f"{cpus} workers + Redis", cpus, "redis")]
    if args.postgresql or (args.only and "redis+postgresql" in args.only):
        setups.append((f"{cpus} workers + Redis + PostgreSQL", cpus, "redis+postgresql"))
    if args.only:
        setups = [s for s in setups if s[2] in args.only]
    results = []
    with tempfile.TemporaryDirectory(prefix="explorer-load-") as tmp:
        for name, workers, cache in setups:
            print(f"{name}: {args.sessions} sessions × {args.iterations} iterations …", flush=True)
            results.append(run_setup(name, workers, args.threads, cache, args.sessions,
                                     args.iterations, deadline, Path(tmp), thinks,
                                     max(1, args.client_processes)))
            print(f"  ready after {results[-1]['ready_s']} s", flush=True)
            for run in [dict(results[-1]["cold"], think_s=f"{results[-1]['cold']['think_s']} (cold)")] + results[-1]["runs"]:
                print(f"  pause {run['think_s']} s: {run['wall_s']} s wall", flush=True)
                for step, s in run["steps"].items():
                    print(f"    {step:15} p50 {_ms(s.get('p50_ms')):>6} ms  p95 {_ms(s.get('p95_ms')):>6} ms  "
                          f"errors {s['errors']}", flush=True)
    notes = [
        "Each session is one browser: it keeps the page it is on (every component with an id) and "
        "builds each Dash callback request from /_dash-dependencies and that page, as the browser "
        "does, including the callbacks a new page fires by itself; geometry URLs it has fetched once "
        "are not fetched again (browser cache); static bundles are not fetched (fingerprinted). It "
        "offers the encodings a browser offers (Accept-Encoding: " + ACCEPT_ENCODING + "; the server "
        "answers brotli, as it answers Chromium and Firefox; runs before 2026-12-07 offered gzip only). "
        f"The sessions are spread over {results[0].get('client_processes', 1) if results else 1} client "
        "processes, so that one Python process's lock does not make 50 browsers take turns at their "
        "own work (runs before 2026-12-07: one process).",
        "open a theme: GET /themes/<slug> (the page, drawn by the server, with the layout Dash takes "
        "from it) + /_dash-dependencies + the router callback (which finds the page there) + the "
        "geometry of its map layers on first sight, rotating over " + ", ".join(theme_slugs()) + ".",
        "click a borough: a borough from the theme page's picker. The browser makes the selection and "
        "restyles every chart and the map itself (assets/theme_selection.js), with no request; the "
        "client sets the selection as that code does and calls the server callbacks that follow it "
        "(the place panel).",
        "export a chart: GET the chart's PNG link as its page offers it, "
        "/export/chart/<theme>/<chart>.png?preset=a4 (a PNG with title, source, licence, date and a "
        "link back drawn by the shared headless browser; before 2026-12-07 the runs asked for "
        "preset=slide).",
        "open the map: GET /map (with its layout) + dependencies + router callback + the callbacks "
        "the page fires + the default layers' geometry on first sight.",
        "add a layer: the layer panel's search callback (" + ", ".join(LAYER_SEARCHES) + ", in turn), "
        "the add callback for the first result, the new card's own callbacks, its geometry.",
        "restyle: the restyle callback of the first layer with palettes, with the next palette and "
        "another classification method (class breaks and colours come back; geometry is not sent "
        "again).",
        "search API: GET /api/datasets?q=parks. dataset page: GET /dataset/<id> + router callback + "
        "the page's own callbacks (resolve, load, join, preview, source card), rotating over "
        + ", ".join(DATASETS) + ".",
        "Cold: each set-up's server and Redis start fresh (empty EXPLORER_HOME, empty Redis); the "
        "server warms itself before /healthz says ready (theme pages and charts, the map's "
        "geometry, the export renderer and every chart's PNG, each drawn by one worker: "
        "explorer/web/warmup.py); the 50 sessions start together at that moment. Warm: the same "
        "server, once per --think value, after the cold pass.",
    ]
    data = {"machine": machine, "load_average_end": round(os.getloadavg()[0], 2), "sessions": args.sessions, "iterations": args.iterations,
            "think_s": thinks, "setups": results, "notes": notes}
    json_path, md_path = write_results(args.results, data, render_markdown(data))
    print(render_markdown(data))
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
