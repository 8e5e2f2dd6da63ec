"""Start-up: a cold ``./dev run`` (the ``explorer serve`` development server) to its first page.

What a person who has just typed ``./dev run`` waits for, measured from the moment the command is
started (a new Python process, as ``./dev run`` execs it) on 127.0.0.1:

- **first page**: ``GET /`` answered (the home page, drawn by the server with its layout);
- **first map**: then ``GET /map`` and the geometry files that page preloads, as a browser does
  (the default map's borough outlines and LSOA values);
- **RSS** of the server process after the first map (the export renderer's Chromium, started later
  by the warm-up, is another process: reported apart), and when ``/healthz`` says ready;
- **time to ready**: ``/healthz`` answering 200 (the background warm-up done: explorer/web/warmup.py).

Two starts: **first start**, an empty ``EXPLORER_HOME`` (the bundled catalogue and the London
Datastore snapshot harvested into a new registry); **restart**, the same home again (the registry
and the filesystem cache already there), ``--repeat`` times, median. The peer in the same run is
the floor: an empty Dash app's first page, started the same way. The import time of the app's
modules (``import explorer.web.app`` in a fresh interpreter) is reported beside it.

    .venv/bin/python -m benchmarks.startup [--repeat 3]

Writes benchmarks/results/startup.json and .md.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from .processes import stop_group
from .registry_search import DATA_DIR, ROOT, machine_info, machine_line, markdown_table, write_results

PRELOAD = re.compile(r'<link rel="preload" as="fetch"[^>]*href="([^"]+)"')
READY_TIMEOUT = 600
EMPTY_DASH = ("import sys, dash; from dash import html; app = dash.Dash(__name__); "
              "app.layout = html.Div('empty'); app.run(host='127.0.0.1', port=int(sys.argv[1]))")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (children of any of its threads: the renderer is started by one)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        kids: list[str] = []
        try:
            for task in Path(f"/proc/{parent}/task").iterdir():
                kids += (task / "children").read_text().split()
        except OSError:
            pass
        for kid in map(int, dict.fromkeys(kids)):
            found.append(kid)
            todo.append(kid)
    return found


def first_answer(base: str, path: str, proc: subprocess.Popen, started: float, limit: float = 300) -> float:
    """Seconds from ``started`` until ``GET path`` answers 200 (polling while the port is closed)."""
    deadline = started + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            response = requests.get(base + path, timeout=120, headers={"Accept-Encoding": "gzip"})
        except requests.ConnectionError:
            time.sleep(0.02)
            continue
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}")
        return time.monotonic() - started
    raise SystemExit(f"no answer to GET {path} within {limit:g} s")


def open_map(base: str) -> int:
    """GET /map and the geometry files it preloads, as a browser does; the bytes received."""
    response = requests.get(base + "/map", timeout=120, headers={"Accept-Encoding": "gzip"}, stream=True)
    body = response.raw.read(decode_content=False)
    size = len(body)
    text = gzip.decompress(body) if response.headers.get("Content-Encoding") == "gzip" else body
    for url in dict.fromkeys(u.replace("&amp;", "&") for u in PRELOAD.findall(text.decode("utf-8", "replace"))):
        if url.startswith("/geo/"):
            size += len(requests.get(base + url, timeout=120, headers={"Accept-Encoding": "gzip"}).content)
    return size


def stop(proc: subprocess.Popen) -> None:
    stop_group(proc, grace=30)


def one_start(home: Path, log: Path) -> dict:
    """Start ``explorer serve`` on ``home`` and measure it (see the module's docstring)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "EXPLORER_HOME": str(home), "EXPLORER_DATA_DIR": str(DATA_DIR),
           "EXPLORER_CACHE_URL": "", "PYTHONPATH": str(ROOT)}
    load = round(os.getloadavg()[0], 2)
    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "explorer.cli", "serve", "--port", str(port)], cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        first_page = first_answer(base, "/", proc, started)
        map_started = time.monotonic()
        map_bytes = open_map(base)
        first_map = time.monotonic() - map_started
        rss_map = rss_mb(proc.pid)
        ready = None
        health = {}
        while time.monotonic() - started < READY_TIMEOUT:
            response = requests.get(base + "/healthz", timeout=30)
            if response.status_code == 200:
                ready = time.monotonic() - started
                health = response.json()
                break
            time.sleep(0.25)
        rss_ready = rss_mb(proc.pid)
        others = sum(rss_mb(pid) for pid in children(proc.pid))
        return {"load_average_at_start": load, "first_page_s": round(first_page, 2),
                "first_map_s": round(first_map, 2), "first_map_kb": round(map_bytes / 1024, 1),
                "rss_after_first_map_mb": rss_map, "ready_s": round(ready, 2) if ready else None,
                "rss_at_ready_mb": rss_ready, "renderer_rss_at_ready_mb": round(others, 1),
                "warm_up": health.get("steps", {})}
    finally:
        stop(proc)


def empty_dash_start() -> float:
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", EMPTY_DASH, str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        return round(first_answer(f"http://127.0.0.1:{port}", "/", proc, started), 2)
    finally:
        stop(proc)


def import_seconds() -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import explorer.web.app"], cwd=ROOT, check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    return round(time.monotonic() - started, 2)


def median_of(runs: list[dict], field: str):
    values = [r[field] for r in runs if r.get(field) is not None]
    return round(statistics.median(values), 2) if values else None


def render_markdown(data: dict) -> str:
    first, restarts = data["first_start"], data["restarts"]
    fields = [("first page (`GET /` answered)", "first_page_s", "s"),
              ("first map (`/map` and its preloaded geometry)", "first_map_s", "s"),
              ("RSS after the first map (server process)", "rss_after_first_map_mb", "MB"),
              ("time to ready (`/healthz` 200, warm-up done)", "ready_s", "s"),
              ("RSS at ready (server process)", "rss_at_ready_mb", "MB"),
              ("RSS at ready (export renderer's Chromium)", "renderer_rss_at_ready_mb", "MB")]
    rows = [[label, f"{first.get(key)} {unit}", f"{median_of(restarts, key)} {unit}",
             ", ".join(str(r.get(key)) for r in restarts)] for label, key, unit in fields]
    floor = data["empty_dash_first_page_s"]
    restart_page = median_of(restarts, "first_page_s")
    lines = ["# Start-up: a cold `./dev run` to its first page", "", machine_line(data["machine"]), "",
             "`explorer serve` (the development server `./dev run` starts) launched as a new process; "
             "times from that moment. First start: an empty EXPLORER_HOME. Restart: the same home "
             f"again, {len(restarts)} times (median, then each run).", "",
             markdown_table(["", "first start", "restart (median)", "restarts"], rows), "",
             f"- Peer (the floor): an empty Dash app started the same way answers its first page in "
             f"{floor} s (median of {len(data['empty_dash_runs'])}: {', '.join(map(str, data['empty_dash_runs']))}); "
             f"the explorer's restart takes {restart_page} s, ×{restart_page / floor:.1f} the floor."
             if floor and restart_page else "",
             f"- `import explorer.web.app` in a fresh interpreter: {data['import_s']} s (median of 3).",
             f"- Targets (issue 14): first page ≤ 3 s — restart {'met' if restart_page and restart_page <= 3 else 'not met'}, "
             f"first start {'met' if first['first_page_s'] <= 3 else 'not met'}; RSS ≤ 500 MB after the first map — "
             f"{'met' if max([first['rss_after_first_map_mb']] + [r['rss_after_first_map_mb'] for r in restarts]) <= 500 else 'not met'}.",
             f"- 1-minute load average at each start: first start {first['load_average_at_start']}, restarts "
             f"{', '.join(str(r['load_average_at_start']) for r in restarts)}; at the end "
             f"{data['load_average_end']} (other work on this 2-CPU machine moves every figure).", "",
             "Warm-up steps at ready (first start): " + "; ".join(
                 f"{name} {step.get('s')} s ({step.get('detail', '')})" for name, step in first["warm_up"].items())]
    return "\n".join(line for line in lines if line is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="restarts to measure (median)")
    args = parser.parse_args(argv)
    machine = machine_info()
    work = Path(tempfile.mkdtemp(prefix="explorer-startup-"))
    try:
        empty = [empty_dash_start() for _ in range(3)]
        imports = [import_seconds() for _ in range(3)]
        home = work / "home"
        print("first start (empty EXPLORER_HOME) …", flush=True)
        first = one_start(home, work / "first.log")
        print(f"  {first}", flush=True)
        restarts = []
        for i in range(args.repeat):
            print(f"restart {i + 1} …", flush=True)
            restarts.append(one_start(home, work / f"restart-{i}.log"))
            print(f"  {restarts[-1]}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    data = {"machine": machine, "first_start": first, "restarts": restarts,
            "empty_dash_runs": empty, "empty_dash_first_page_s": round(statistics.median(empty), 2),
            "import_s": round(statistics.median(imports), 2),
            "load_average_end": round(os.getloadavg()[0], 2)}
    markdown = render_markdown(data)
    json_path, md_path = write_results("startup", data, markdown)
    print(markdown)
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
