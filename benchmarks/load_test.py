"""Load test: 50 concurrent sessions against the app under gunicorn on 127.0.0.1.

Two server set-ups, one after the other, each on a fresh EXPLORER_HOME with the local data folder
``../shared/data``:

A. ``explorer serve --workers 1`` with the filesystem cache (the embedded default);
B. ``explorer serve --workers $(nproc)`` with ``EXPLORER_CACHE_URL=redis://…`` (a redis-server this
   script starts on a free port and stops after).

Each session (its own HTTP connection pool, like one browser) runs the same steps a fixed number of
times, as the browser does them:

1. **open a page**: GET ``/themes`` (the HTML shell), ``/_dash-layout``, ``/_dash-dependencies`` and
   the router callback POST ``/_dash-update-component`` that builds the page for that path;
2. **search**: GET ``/api/datasets?q=parks``;
3. **dataset page**: the router callback for ``/dataset/<id>`` and the dataset page's own callback
   (preview table, source card, provenance: this is where the data is loaded);
4. **layer geometry**: GET ``/geo/laei-lsoa-2021.geojson`` (4,994 LSOA polygons, gzip) - what the map
   fetches when the layer is added;
5. **dataset JSON**: GET ``/api/datasets/<id>``.

The issue's "restyle", "click a borough" and "export a chart" steps have no server route yet (the
map explorer and exports are being built); restyling is client-side by design (dash-leaflet
``hideout``), so steps 3 and 4 are the nearest existing server work. Before the 50 sessions start,
one session runs once alone on the cold server ("first visitor", reported apart); then the 50 run
together, once clicking as fast as answers come and once pausing about a second before each
step as a person does (``--think``). Requests time out after 30 s; the whole run stops at ``--timeout`` seconds whatever
happens. Latencies are wall-clock per step as a client sees them (p50/p95/max), errors are non-2xx
answers, timeouts and connection failures. The client runs on the same machine as the server and
takes CPU from it.

    .venv/bin/python -m benchmarks.load_test [--sessions 50] [--iterations 4] [--think 0,1] [--timeout 600]

Writes benchmarks/results/load_test.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from .registry_search import DATA_DIR, ROOT, machine_info, machine_line, markdown_table, stats_ms, write_results

STEPS = ["open /themes", "search API", "dataset page", "layer geometry", "dataset JSON"]
DATASETS = ["laei-lsoa-2021", "london-boroughs", "laei-borough", "parks-os-greenspace", "laqn-sites"]
GEOMETRY = "/geo/laei-lsoa-2021.geojson"
REQUEST_TIMEOUT = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Dash callbacks as the browser sends them --------------------------------------------------------
def _outputs(spec: str) -> list[dict]:
    if spec.startswith("..") and spec.endswith(".."):
        parts = spec[2:-2].split("...")
    else:
        parts = [spec]
    out = []
    for part in parts:
        part = part.split("@", 1)[0]
        ident, prop = part.rsplit(".", 1)
        out.append({"id": ident, "property": prop})
    return out


class Callbacks:
    """Finds the router and dataset callbacks in /_dash-dependencies and builds their bodies."""

    def __init__(self, deps: list[dict]):
        self.router = self._find(deps, {("url", "pathname"), ("url", "search")})
        self.dataset = self._find(deps, {("dataset-id", "data")})

    @staticmethod
    def _find(deps: list[dict], wanted: set[tuple[str, str]]) -> dict | None:
        for dep in deps:
            ins = {(i["id"], i["property"]) for i in dep["inputs"]}
            if wanted <= ins and not dep.get("clientside_function"):
                return dep
        return None

    @staticmethod
    def body(dep: dict, values: dict[tuple[str, str], object], changed: str) -> dict:
        outputs = _outputs(dep["output"])
        return {
            "output": dep["output"],
            "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": [{**i, "value": values.get((i["id"], i["property"]))} for i in dep["inputs"]],
            "state": [{**s, "value": values.get((s["id"], s["property"]))} for s in dep["state"]],
            "changedPropIds": [changed],
        }

    def route(self, path: str, search: str = "") -> dict | None:
        if self.router is None:
            return None
        return self.body(self.router, {("url", "pathname"): path, ("url", "search"): search},
                         "url.pathname")

    def dataset_page(self, dataset_id: str) -> dict | None:
        if self.dataset is None:
            return None
        return self.body(self.dataset, {("dataset-id", "data"): dataset_id}, "dataset-id.data")


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


def _request(session: requests.Session, method: str, url: str, **kwargs) -> int:
    response = session.request(method, url, timeout=REQUEST_TIMEOUT, stream=True, **kwargs)
    body = response.raw.read(decode_content=False)  # as sent (gzip); the browser inflates it
    if response.status_code >= 400 or (response.status_code != 204 and not body):
        raise RuntimeError(f"{method} {url.split('/', 3)[-1][:60]} -> HTTP {response.status_code}")
    return len(body)


def run_session(base: str, callbacks: Callbacks, n: int, iterations: int, rec: Recorder,
                deadline: float, think: float = 0.0) -> None:
    pause = random.Random(n)  # the same pauses for session n in every run
    headers = {"Accept-Encoding": "gzip, deflate", "User-Agent": "explorer-load-test"}
    post = {**headers, "Content-Type": "application/json"}
    with requests.Session() as session:
        session.headers.update(headers)
        for i in range(iterations):
            dataset_id = DATASETS[(n + i) % len(DATASETS)]

            def open_page():
                size = _request(session, "GET", base + "/themes")
                size += _request(session, "GET", base + "/_dash-layout")
                size += _request(session, "GET", base + "/_dash-dependencies")
                body = callbacks.route("/themes")
                if body is not None:
                    size += _request(session, "POST", base + "/_dash-update-component",
                                     data=json.dumps(body), headers=post)
                return size

            def dataset_page():
                size = 0
                for body in (callbacks.route(f"/dataset/{dataset_id}"), callbacks.dataset_page(dataset_id)):
                    if body is not None:
                        size += _request(session, "POST", base + "/_dash-update-component",
                                         data=json.dumps(body), headers=post)
                if not size:  # no callbacks found: the page's HTML is the nearest thing
                    size = _request(session, "GET", base + f"/dataset/{dataset_id}")
                return size

            steps = {
                "open /themes": open_page,
                "search API": lambda: _request(session, "GET", base + "/api/datasets?q=parks"),
                "dataset page": dataset_page,
                "layer geometry": lambda: _request(session, "GET", base + GEOMETRY),
                "dataset JSON": lambda: _request(session, "GET", base + f"/api/datasets/{dataset_id}"),
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
    def __init__(self, home: Path, workers: int, threads: int, cache_url: str, log: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "EXPLORER_HOME": str(home), "EXPLORER_DATA_DIR": str(DATA_DIR),
               "EXPLORER_CACHE_URL": cache_url, "PYTHONPATH": str(ROOT)}
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "explorer.cli", "serve", "--workers", str(workers),
             "--threads", str(threads), "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited; see {log}")
            try:
                if requests.get(self.base + "/api/datasets?limit=1", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.25)
        self.stop()
        raise SystemExit("the server did not answer within 120 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
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
              deadline: float, workdir: Path, thinks: list[float]) -> dict:
    home = workdir / f"home-{name}"
    redis = Redis(workdir) if cache == "redis" else None
    server = Server(home, workers, threads, redis.url if redis else "", workdir / f"server-{name}.log")
    try:
        deps = requests.get(server.base + "/_dash-dependencies", timeout=30).json()
        callbacks = Callbacks(deps)
        first = Recorder()
        started = time.monotonic()
        run_session(server.base, callbacks, 0, 1, first, deadline)
        first_s = time.monotonic() - started
        runs = []
        for think in thinks:
            rec = Recorder()
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=sessions) as pool:
                futures = [pool.submit(run_session, server.base, callbacks, n, iterations, rec,
                                       deadline, think) for n in range(sessions)]
                for f in futures:
                    f.result()
            wall = time.monotonic() - started
            total = sum(len(v) for v in rec.times.values())
            runs.append({"think_s": think, "wall_s": round(wall, 2),
                         "steps_per_s": round(total / wall, 1) if wall else None,
                         "steps": summarise(rec)})
        result = {
            "setup": name, "workers": workers, "threads_per_worker": threads,
            "cache": "redis" if redis else "filesystem", "sessions": sessions,
            "iterations": iterations,
            "router_callback_found": callbacks.router is not None,
            "dataset_callback_found": callbacks.dataset is not None,
            "first_visitor": {s: (round(first.times[s][0] * 1000, 1) if first.times[s] else None)
                              for s in STEPS},
            "first_visitor_errors": {s: first.errors[s] for s in STEPS if first.errors[s]},
            "first_visitor_s": round(first_s, 2),
            "runs": runs,
        }
        if redis:
            result["redis"] = redis.info()
        return result
    finally:
        server.stop()
        if redis:
            redis.stop()
        kept = Path(tempfile.gettempdir()) / f"explorer-load-{name.split()[0]}-{cache}.log"
        shutil.copyfile(workdir / f"server-{name}.log", kept)  # for errors' tracebacks
        print(f"  server log: {kept}", flush=True)


def _ms(value) -> str:
    return f"{value:,.0f}" if isinstance(value, (int, float)) else "–"


def render_markdown(result: dict) -> str:
    lines = [f"# Load test: {result['sessions']} concurrent sessions", "",
             machine_line(result["machine"]), "",
             f"{result['sessions']} sessions × {result['iterations']} iterations × {len(STEPS)} steps "
             "on 127.0.0.1 (client on the same machine, 2 CPUs shared). Latency per step as the "
             "client sees it, in ms; errors are non-2xx answers, timeouts and failed connections.", ""]
    setups = result["setups"]
    for i, think in enumerate(result["think_s"]):
        title = ("No pause between steps (every session clicks as soon as the last answer is in: "
                 "saturation)" if not think else
                 f"A pause of {think * 0.5:g}–{think * 1.5:g} s before each step (people reading)")
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
        lines.append(f"- **{setup['setup']}**: {setup['workers']} worker(s) × {setup['threads_per_worker']} "
                     f"threads, {setup['cache']} cache; first visitor alone on the cold server: "
                     + ", ".join(f"{k} {_ms(v)} ms" for k, v in setup["first_visitor"].items())
                     + (f"; Redis held {setup['redis']['keys']} keys, {setup['redis']['used_memory_human']}"
                        if setup.get("redis") else ""))
    lines += ["", "Steps and substitutions:", ""]
    lines += [f"- {note}" for note in result["notes"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--timeout", type=float, default=600, help="stop everything after this many seconds")
    parser.add_argument("--only", choices=["filesystem", "redis"], default=None)
    parser.add_argument("--think", default="0,1",
                        help="mean pauses before each step, in seconds, one run each (default 0,1)")
    args = parser.parse_args(argv)
    thinks = [float(t) for t in args.think.split(",") if t.strip()]
    deadline = time.monotonic() + args.timeout
    cpus = len(os.sched_getaffinity(0))
    setups = [("1 worker + filesystem", 1, "filesystem"), (f"{cpus} workers + Redis", cpus, "redis")]
    if args.only:
        setups = [s for s in setups if s[2] == args.only]
    results = []
    with tempfile.TemporaryDirectory(prefix="explorer-load-") as tmp:
        for name, workers, cache in setups:
            print(f"{name}: {args.sessions} sessions × {args.iterations} iterations …", flush=True)
            results.append(run_setup(name, workers, args.threads, cache, args.sessions,
                                     args.iterations, deadline, Path(tmp), thinks))
            for run in results[-1]["runs"]:
                print(f"  pause {run['think_s']} s: {run['wall_s']} s wall", flush=True)
                for step, s in run["steps"].items():
                    print(f"    {step:15} p50 {_ms(s.get('p50_ms')):>6} ms  p95 {_ms(s.get('p95_ms')):>6} ms  "
                          f"errors {s['errors']}", flush=True)
    notes = [
        "open /themes: GET /themes (HTML shell) + /_dash-layout + /_dash-dependencies + the router "
        "callback POST that builds the page; static bundles are not fetched (fingerprinted and "
        "cached for a year by the browser).",
        "dataset page: the router callback for /dataset/<id> and the dataset page's callback "
        "(resolve, load, join, preview, source card), rotating over " + ", ".join(DATASETS) + ".",
        f"layer geometry: GET {GEOMETRY} with gzip (the request a map makes when the layer is added).",
        "Not yet built, so not measured: themes as dashboards, adding/restyling layers on the map "
        "explorer (restyling is client-side by design: only the style changes), clicking a borough, "
        "chart exports. The dataset page and layer geometry steps are the nearest server work.",
        "The first visitor runs alone once before the 50 sessions (cold caches) and is reported apart.",
        "Each set-up runs twice on the same server: without pauses (saturation), then with pauses "
        "before each step (people reading); the second run finds warm caches.",
    ]
    data = {"machine": machine_info(), "sessions": args.sessions, "iterations": args.iterations,
            "think_s": thinks, "setups": results, "notes": notes}
    json_path, md_path = write_results("load_test", data, render_markdown(data))
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
