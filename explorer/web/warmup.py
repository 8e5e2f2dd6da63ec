"""Ready means warm: a process does its expensive first work before it says it is ready.

A server meets its busiest minute right after a deploy or a restart. :func:`warm_app` does, in one
process, what its first visitors would otherwise wait for:

1. **theme pages**: every theme page drawn (its charts, headline figures, map layers and their
   geometry) and kept in the app's cache (``callbacks/theme_page_cache.py``);
2. **pages as sent**: the index page of every theme and of ``/map`` (each carries its page drawn
   as HTML, drawn once per process), and the geometry files those pages preload — the default
   map's borough outlines and LSOA values among them;
3. **export renderer**: the shared headless Chromium started and one chart image drawn, so the
   first export pays for a render, not for a browser start.

:class:`Readiness` says how far it has got; ``/healthz`` (:func:`install_readiness`) answers
``503 {"status": "starting", …}`` until the warm-up is over and then
``200 {"status": "ready", "warmed_in_s": …}``, for a load balancer's readiness check, and the log
says ``ready: warmed in N s (…)``.

Under gunicorn every worker warms itself (a worker's memory — chart results, drawn pages, the
renderer — is its own; with Redis the drawn pages are shared and a second worker reads them).
Each worker notes in a folder of the master's (``EXPLORER_HOME/run/master-<pid>/``) when it starts
and when it is warm, and a worker's ``/healthz`` says ready only when every live worker is: a load
balancer must not send people to a host with one worker still cold. The development server warms
in a background thread and answers at once meanwhile (``/healthz`` says "starting").

``explorer warm`` (:func:`warm_app` without the renderer) fills the shared cache ahead of a deploy:
theme-page keys hold a digest of the app's code (``code_digest`` in explorer/data/cache.py), so the
workers of a new version read pages drawn by that version, never an older one's.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

PRELOAD = re.compile(r'<link rel="preload" as="fetch"[^>]*href="([^"]+)"')


# =============================================================================== the warm-up
def _timed(steps: dict, name: str, work) -> None:
    started = time.monotonic()
    try:
        detail = work()
    except Exception:  # noqa: BLE001 - warming is an optimisation: a request will say what fails
        log.exception("warm-up: %s failed", name)
        detail = "failed"
    steps[name] = {"s": round(time.monotonic() - started, 2), **({"detail": detail} if detail is not None else {})}


def _page_and_preloads(client, path: str) -> int:
    """GET an index page as a browser does, then the geometry files it preloads; the count of
    geometry files fetched."""
    response = client.get(path, headers={"Accept-Encoding": "gzip"})
    if response.status_code >= 400:
        raise RuntimeError(f"GET {path} answered {response.status_code}")
    text = response.get_data(as_text=False)
    if response.headers.get("Content-Encoding") == "gzip":
        import gzip

        text = gzip.decompress(text)
    urls = [u.replace("&amp;", "&") for u in PRELOAD.findall(text.decode("utf-8", "replace"))]
    fetched = 0
    for url in dict.fromkeys(urls):
        if url.startswith("/geo/"):
            client.get(url, headers={"Accept-Encoding": "gzip"})
            fetched += 1
    return fetched


def warm_app(app, renderer: bool = True, steps: dict | None = None) -> dict:
    """Do the app's expensive first work in this process; returns ``{step: {"s", "detail"}}``.

    ``steps`` (a dict) is filled as each step ends, so a caller can report progress meanwhile."""
    from callbacks import theme_page_cache
    from callbacks import themes as theme_pages

    services = app.explorer
    server = app.server
    steps = {} if steps is None else steps
    client = server.test_client()
    themes = list(theme_pages.themes_of(services))

    def theme_pages_step():
        done = theme_page_cache.warm(services, server)
        return f"{len(done)} of {len(themes)} complete"

    def index_pages_step():
        files = 0
        for slug in themes:
            files += _page_and_preloads(client, f"/themes/{slug}")
        files += _page_and_preloads(client, "/map")
        return f"{len(themes) + 1} pages, {files} geometry files"

    def renderer_step():
        if not themes:
            return "no theme"
        theme = theme_pages.themes_of(services)[themes[0]]
        if not theme.charts:
            return "no chart"
        path = f"/export/chart/{themes[0]}/{theme.charts[0].id}.png?preset=slide"
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        return "started"

    _timed(steps, "theme pages", theme_pages_step)
    _timed(steps, "index pages and map", index_pages_step)
    if renderer:
        _timed(steps, "export renderer", renderer_step)
    return steps


# =============================================================================== readiness
class Readiness:
    """Where this process's warm-up is: starting (with the steps done so far) or ready.

    ``shared`` is a folder where the workers of one gunicorn master note their state (one file
    per worker: ``<pid>.starting``, then ``<pid>.ready`` holding the seconds it took); None for a
    lone process."""

    def __init__(self, shared: Path | None = None):
        self.started = time.monotonic()
        self.steps: dict = {}
        self.warmed_in_s: float | None = None
        self.shared = shared
        self._event = threading.Event()
        if shared is not None:
            shared.mkdir(parents=True, exist_ok=True)
            (shared / f"{os.getpid()}.starting").write_text("")

    @property
    def ready(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    def mark_ready(self) -> None:
        self.warmed_in_s = round(time.monotonic() - self.started, 2)
        if self.shared is not None:
            try:
                (self.shared / f"{os.getpid()}.ready").write_text(str(self.warmed_in_s))
                (self.shared / f"{os.getpid()}.starting").unlink(missing_ok=True)
            except OSError as exc:
                log.warning("warm-up: could not note this worker ready in %s (%s)", self.shared, exc)
        self._event.set()

    def workers(self) -> dict:
        """{"ready": n, "starting": n, "slowest_s": s} over the live workers of this master."""
        ready, starting, slowest = 0, 0, 0.0
        if self.shared is None:
            return {"ready": int(self.ready), "starting": int(not self.ready), "slowest_s": self.warmed_in_s}
        try:
            names = os.listdir(self.shared)
        except OSError:
            names = []
        for name in names:
            pid_text, _, state = name.partition(".")
            if not pid_text.isdigit() or not _alive(int(pid_text)):
                continue
            if state == "ready":
                ready += 1
                try:
                    slowest = max(slowest, float((self.shared / name).read_text() or 0))
                except (OSError, ValueError):
                    pass
            elif state == "starting":
                starting += 1
        return {"ready": ready, "starting": starting, "slowest_s": slowest if ready else None}

    def status(self) -> tuple[int, dict]:
        """(HTTP status, body) for /healthz."""
        workers = self.workers()
        elapsed = round(time.monotonic() - self.started, 1)
        if self.ready and workers["starting"] == 0:
            body = {"status": "ready", "warmed_in_s": self.warmed_in_s, "steps": self.steps}
            if self.shared is not None:
                body.update(workers=workers["ready"], slowest_worker_s=workers["slowest_s"])
            return 200, body
        body = {"status": "starting", "since_s": elapsed, "steps": dict(self.steps)}
        if self.ready:
            body["waiting_for"] = f"{workers['starting']} other worker(s) still warming"
        if self.shared is not None:
            body.update(workers_ready=workers["ready"], workers_starting=workers["starting"])
        return 503, body


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def master_folder(settings) -> Path:
    """The folder where the workers of this gunicorn master note their state (the master is the
    worker's parent); folders of masters that have gone are removed."""
    run = Path(settings.home) / "run"
    run.mkdir(parents=True, exist_ok=True)
    for old in run.glob("master-*"):
        pid = old.name.partition("-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return run / f"master-{os.getppid()}"


def install_readiness(app, readiness: Readiness | None = None) -> Readiness:
    """``/healthz`` on the app's server, answering from ``readiness`` (a fresh one, starting, by
    default). A process that never warms (tests, ``explorer warm``) calls ``mark_ready`` itself."""
    from flask import jsonify

    state = readiness or Readiness()
    app.explorer.readiness = state
    server = app.server

    def healthz():
        code, body = app.explorer.readiness.status()
        response = jsonify(body)
        response.status_code = code
        response.headers["Cache-Control"] = "no-store"
        if code == 503:
            response.headers["Retry-After"] = "2"
        return response

    server.add_url_rule("/healthz", "healthz", healthz, methods=["GET", "HEAD"])
    return state


def start_warmup(app, shared: Path | None = None, renderer: bool = True) -> threading.Thread:
    """Warm ``app`` in a background thread; its ``/healthz`` says ready when done.

    ``shared``: the folder of this gunicorn master's workers (see :func:`master_folder`)."""
    readiness = Readiness(shared)
    app.explorer.readiness = readiness
    worker = f"worker {os.getpid()}" if shared is not None else "server"

    def run():
        warm_app(app, renderer=renderer, steps=readiness.steps)
        readiness.mark_ready()
        log.info("ready: %s warmed in %.1f s (%s)", worker, readiness.warmed_in_s,
                 ", ".join(f"{name} {step['s']:.1f} s" for name, step in readiness.steps.items()))

    thread = threading.Thread(target=run, name="explorer-warmup", daemon=True)
    thread.start()
    return thread
