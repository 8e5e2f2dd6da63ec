"""Ready means warm: a process does its expensive first work before it says it is ready.

A server meets its busiest minute right after a deploy or a restart. :func:`warm_app` does, in one
process, what its first visitors would otherwise wait for:

1. **export renderer**: the shared headless Chromium started, in a thread of its own from the
   first moment (it is another process: it starts while this one draws pages);
2. **theme pages**: every theme page drawn (its charts, headline figures, map layers and their
   geometry) and kept in the app's cache (``callbacks/theme_page_cache.py``);
3. **search**: one search, which builds the registry's word index and loads the language model and
   the entries' vectors (the first search in a process waited for them);
4. **pages as sent**: the index page of every theme and of ``/map`` (each carries its page drawn
   as HTML, drawn once per process), and the geometry files those pages preload — the default
   map's borough outlines and LSOA values among them;
5. **export images**: every theme chart's image as the page's export link offers it (PNG at the
   default size), drawn at the address people use (``EXPLORER_PUBLIC_URL``, else the address the
   server listens on: the image prints a link back to the view, so it is drawn for one address)
   and kept in the shared cache, so the first person to export a chart reads it.

Workers share the work (:class:`Claims`): before drawing a page or an image a worker claims it in
the shared cache (an atomic ``add``: Redis ``SET NX``); work claimed by another worker is left to
it. The theme pages are drawn by one worker (the first to claim them) while the others start their
renderer and then read the pages (about 3 s instead of the whole drawing: side by side, two workers
each loaded and joined the same datasets at once, and on a busy machine took longer than one
alone); the export images are shared out image by image.

The warm-up never delays a visitor (:class:`RequestGate`): before each piece of work it waits
until no visitor's request is in flight (and a quarter of a second has passed since the last), so
a first request is answered on an otherwise idle process; the warm-up goes on regardless after
ten seconds of continuous traffic.

:class:`Readiness` says how far it has got; ``/healthz`` (:func:`install_readiness`) answers
``503 {"status": "starting", …}`` until the warm-up is over and then
``200 {"status": "ready", "warmed_in_s": …}``, for a load balancer's readiness check, and the log
says ``ready: warmed in N s (…)``.

Under gunicorn every worker warms itself (a worker's memory — chart results, drawn pages, the
renderer — is its own; with Redis the drawn pages and images are shared). Each worker notes in a
folder of the master's (``EXPLORER_HOME/run/master-<pid>/``) when it starts and when it is warm,
and a worker's ``/healthz`` says ready only when every live worker is: a load balancer must not
send people to a host with one worker still cold. The development server warms in a background
thread and answers at once meanwhile (``/healthz`` says "starting").

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
CLAIM_SECONDS = 120      # a claim lapses after this, should its worker die while drawing
CLAIM_WAIT_SECONDS = 90  # a worker waits at most this for a page another worker claimed
LEAD_SECONDS = 600       # the same for the worker that draws the theme pages (minutes on a busy machine)
DEV_FIRST_REQUEST_S = 5.0  # the development server waits this long for its first page before warming
BROWSER_ENCODINGS = "gzip, deflate, br, zstd"   # what Chromium and Firefox send
WARM_SEARCH = "air quality in london"          # a search made once, to build the search indexes


# =============================================================================== yielding to visitors
class RequestGate:
    """Counts the visitors' requests in flight in this process (WSGI middleware: :meth:`wrap`);
    :meth:`wait_quiet` returns once there is none and ``QUIET_S`` has passed since the last ended.
    Requests made by the warm-up's own thread (its test client) and ``/healthz`` are not counted."""

    QUIET_S = 0.25
    MAX_WAIT_S = 10.0

    def __init__(self):
        self._cond = threading.Condition()
        self._busy = 0
        self._last_end = 0.0
        self._own: set[int] = set()
        self.waited_s = 0.0
        self.requests = 0
        self.first_answered = threading.Event()   # set when a visitor's first request has been answered

    def own_thread(self) -> None:
        """Requests made on the calling thread are the warm-up's own: not waited for."""
        self._own.add(threading.get_ident())

    def _leave(self) -> None:
        with self._cond:
            self._busy -= 1
            self._last_end = time.monotonic()
            self._cond.notify_all()
        self.first_answered.set()

    def wrap(self, wsgi_app):
        from werkzeug.wsgi import ClosingIterator

        def gated(environ, start_response):
            if threading.get_ident() in self._own or environ.get("PATH_INFO") == "/healthz":
                return wsgi_app(environ, start_response)
            with self._cond:
                self._busy += 1
                self.requests += 1
            left = []

            def leave():
                if not left:
                    left.append(True)
                    self._leave()

            try:
                return ClosingIterator(wsgi_app(environ, start_response), [leave])
            except BaseException:
                leave()
                raise

        return gated

    def wait_quiet(self) -> float:
        """Wait until no visitor's request is in flight (at most ``MAX_WAIT_S``); the seconds waited."""
        started = time.monotonic()
        deadline = started + self.MAX_WAIT_S
        with self._cond:
            while True:
                now = time.monotonic()
                calm = now - self._last_end
                if (self._busy == 0 and calm >= self.QUIET_S) or now >= deadline:
                    break
                self._cond.wait(min(deadline - now, max(self.QUIET_S - calm, 0.05)))
        waited = time.monotonic() - started
        self.waited_s += waited
        return waited


class Claims:
    """Who draws what, between the workers that share a cache: ``take(key)`` claims a piece of
    work with the cache's atomic ``add`` (False: another worker has it); ``take(key, wait=True)``
    waits until that worker has released its claim (or ``CLAIM_WAIT_SECONDS``) and then takes it,
    so the caller reads what the other drew or draws it itself. Each take first yields to the
    visitors' requests (``gate``)."""

    def __init__(self, cache, gate: RequestGate | None = None):
        self.cache = cache
        self.gate = gate
        self.token = f"{os.getpid()}@{time.time():.3f}"
        self._mine: set[str] = set()
        self.deferred = 0
        self.taken = 0

    @staticmethod
    def _key(key: str) -> str:
        return f"warm-claim:{key}"

    def _add(self, key: str, seconds: int = CLAIM_SECONDS) -> bool:
        if self.cache is None:
            return True
        try:
            return bool(self.cache.add(self._key(key), self.token, timeout=seconds))
        except Exception as exc:  # noqa: BLE001 - a cache that fails: draw it here
            log.warning("warm-up: could not claim work in the cache (%s)", exc)
            return True

    def held(self, key: str) -> bool:
        """Whether some worker holds a claim on ``key``."""
        if self.cache is None:
            return False
        try:
            return self.cache.get(self._key(key)) is not None
        except Exception:  # noqa: BLE001
            return False

    def take(self, key: str, wait: bool = False, seconds: int = CLAIM_SECONDS) -> bool:
        """Claim ``key`` for ``seconds`` (see the class); with ``wait``, for as long again at most."""
        if self.gate is not None:
            self.gate.wait_quiet()
        if self._add(key, seconds):
            self._mine.add(key)
            self.taken += 1
            return True
        if not wait:
            self.deferred += 1
            return False
        deadline = time.monotonic() + (CLAIM_WAIT_SECONDS if seconds == CLAIM_SECONDS else seconds)
        while time.monotonic() < deadline and self.held(key):
            time.sleep(0.2)
        self._add(key, seconds)    # taken, or left by a worker that is stuck: draw it here anyway
        self._mine.add(key)
        self.taken += 1
        return True

    def release(self, key: str) -> None:
        if key not in self._mine:
            return
        self._mine.discard(key)
        if self.cache is not None:
            try:
                if self.cache.get(self._key(key)) == self.token:
                    self.cache.delete(self._key(key))
            except Exception:  # noqa: BLE001 - it lapses after CLAIM_SECONDS
                pass


# =============================================================================== the warm-up
def _timed(steps: dict, name: str, work) -> None:
    started = time.monotonic()
    try:
        detail = work()
    except Exception:  # noqa: BLE001 - warming is an optimisation: a request will say what fails
        log.exception("warm-up: %s failed", name)
        detail = "failed"
    steps[name] = {"s": round(time.monotonic() - started, 2), **({"detail": detail} if detail is not None else {})}


def _in_cache(cache, key: str) -> bool:
    try:
        return bool(cache is not None and cache.has(key))
    except Exception:  # noqa: BLE001 - a cache that fails holds nothing
        return False


def _page_and_preloads(client, path: str) -> int:
    """GET an index page as a browser does, then the geometry files it preloads; the count of
    geometry files fetched."""
    response = client.get(path)      # a page is compressed for each request: read it plain
    if response.status_code >= 400:
        raise RuntimeError(f"GET {path} answered {response.status_code}")
    text = response.get_data(as_text=True)
    urls = [u.replace("&amp;", "&") for u in PRELOAD.findall(text)]
    fetched = 0
    for url in dict.fromkeys(urls):
        if url.startswith("/geo/"):
            # as browsers ask, so the compressed copy they are sent is the one kept (compression.py)
            client.get(url, headers={"Accept-Encoding": BROWSER_ENCODINGS})
            fetched += 1
    return fetched


def export_address(settings, listening: str | None) -> str | None:
    """The address exported images print their link with: EXPLORER_PUBLIC_URL, else the address the
    server listens on (``http://host:port``); None for a server on every interface without a
    public URL (its visitors' address is not known before they come)."""
    public = (getattr(settings, "public_url", "") or "").strip()
    if public:
        return public.rstrip("/")
    if not listening:
        return None
    from urllib.parse import urlsplit

    host = urlsplit(listening).hostname or ""
    from explorer.guards.request_limits import WILDCARD_ADDRESSES

    return None if host in WILDCARD_ADDRESSES or host.strip("[]") in WILDCARD_ADDRESSES else listening.rstrip("/")


def draw_export_images(client, base: str, themes: dict, claims: Claims | None = None) -> str:
    """Draw every chart image of ``themes`` as its page's export link offers it (PNG at the default
    size), through the app's own route (``client``: the Flask test client) so the image lands in
    the shared cache under the key a visitor's request at ``base`` (``http://host:port``) reads;
    an image another worker claimed is left to it. Returns what was done, in words."""
    from layouts.export_menu import chart_image_href

    drawn = other = failed = 0
    for slug, theme in themes.items():
        for spec in theme.charts:
            path = chart_image_href(slug, spec.id, "png")
            key = f"image {base} {path}"
            if claims is not None and not claims.take(key):
                other += 1
                continue
            try:
                response = client.get(path, base_url=base + "/")
                if response.status_code == 200:
                    drawn += 1
                else:
                    failed += 1
                    log.warning("warm-up: %s answered %s", path, response.status_code)
            finally:
                if claims is not None:
                    claims.release(key)
    return (f"{drawn} drawn for {base}" + (f", {other} by another worker" if other else "")
            + (f", {failed} failed" if failed else ""))


def warm_app(app, renderer: bool = True, steps: dict | None = None, gate: RequestGate | None = None,
             address: str | None = None) -> dict:
    """Do the app's expensive first work in this process; returns ``{step: {"s", "detail"}}``.

    ``steps`` (a dict) is filled as each step ends, so a caller can report progress meanwhile.
    ``gate``: the visitors' requests this warm-up yields to. ``address``: where the server
    listens (``http://host:port``), for the export images (see :func:`export_address`)."""
    from callbacks import theme_page_cache
    from explorer.themes.page_data import themes_of

    services = app.explorer
    server = app.server
    steps = {} if steps is None else steps
    if gate is not None:
        gate.own_thread()
    client = server.test_client()
    themes = themes_of(services)
    claims = Claims(services.cache, gate)

    def quiet():
        if gate is not None:
            gate.wait_quiet()

    started_renderer = None
    if renderer:
        def renderer_step():
            from explorer.export.renderer import shared_renderer

            if gate is not None:
                gate.own_thread()
            shared_renderer(getattr(services.settings, "export_timeout", None)).start()
            return "started"

        started_renderer = threading.Thread(target=_timed, args=(steps, "export renderer", renderer_step),
                                            name="explorer-warmup-renderer", daemon=True)
        started_renderer.start()

    def theme_pages_step():
        # one worker draws the theme pages, the others read them once it is done: drawn side by
        # side, two workers each loaded and joined the same datasets (most of the work) at once
        key = f"theme pages {services.settings.data_dir}"
        lead = claims.take(key, seconds=LEAD_SECONDS)
        waited = time.monotonic()
        if not lead:
            images_meanwhile(key)
            claims.take(key, wait=True, seconds=LEAD_SECONDS)
        waited = time.monotonic() - waited
        taken = claims.taken
        try:
            done = theme_page_cache.warm(services, server, claims=claims)
        finally:
            claims.release(key)
        shared = "" if lead else (f"; drawn by another worker (waited {waited:.1f} s for it), "
                                  f"{claims.taken - taken} drawn here")
        return f"{len(done)} of {len(themes)} complete{shared}"

    base = export_address(services.settings, address) if renderer else None
    images_done: dict[str, str] = {}

    def images_meanwhile(lead_key: str) -> None:
        """While another worker draws the theme pages, draw the export images of those it has
        finished (their data is in the shared cache by then): this worker's CPU is otherwise idle."""
        if base is None:
            return
        deadline = time.monotonic() + LEAD_SECONDS
        while time.monotonic() < deadline and claims.held(lead_key):
            finished = [slug for slug, theme in themes.items() if slug not in images_done
                        and _in_cache(services.cache, theme_page_cache.page_key(services, theme, None))]
            if not finished:
                time.sleep(0.5)
                continue
            started_renderer.join()
            for slug in finished:
                images_done[slug] = draw_export_images(client, base, {slug: themes[slug]}, claims)

    def index_pages_step():
        files = 0
        for slug in themes:
            quiet()
            files += _page_and_preloads(client, f"/themes/{slug}")
        quiet()
        files += _page_and_preloads(client, "/")        # the home page: headline figures, small maps
        quiet()
        files += _page_and_preloads(client, "/map")
        return f"{len(themes) + 2} pages, {files} geometry files"

    def export_images_step():
        if base is None:
            return "skipped: no address known (set EXPLORER_PUBLIC_URL)"
        started_renderer.join()
        rest = {slug: theme for slug, theme in themes.items() if slug not in images_done}
        done = draw_export_images(client, base, rest, claims) if rest else "none left"
        return done + (f"; {len(images_done)} theme(s) drawn while the pages were being drawn"
                       if images_done else "")

    def search_step():
        # the first search in a process builds the word index of this registry version, loads
        # the language model and reads every entry's vector: the first person to search (the
        # catalogue, the map's layer panel, the API) waited for it
        quiet()
        results = services.registry.search(WARM_SEARCH, limit=5)
        return f"{results.total} entries found for {WARM_SEARCH!r}"

    _timed(steps, "theme pages", theme_pages_step)
    _timed(steps, "search", search_step)
    _timed(steps, "index pages and map", index_pages_step)
    from explorer.accounts.passwords import dummy_hash

    dummy_hash()   # a sign-in for an unknown address costs what a known one does from the first
    if renderer:
        _timed(steps, "export images", export_images_step)
        started_renderer.join()
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


def start_warmup(app, shared: Path | None = None, renderer: bool = True,
                 address: str | None = None, first_request_s: float = 0.0) -> threading.Thread:
    """Warm ``app`` in a background thread that yields to visitors' requests (a
    :class:`RequestGate` around the app); its ``/healthz`` says ready when done.

    ``shared``: the folder of this gunicorn master's workers (see :func:`master_folder`).
    ``address``: where the server listens (``http://host:port``), for the export images.
    ``first_request_s``: wait this long for a first visitor's request to be answered before
    starting (the development server: the person who started it is opening the page; a piece of
    warm-up already under way would share the CPU with that page)."""
    readiness = Readiness(shared)
    app.explorer.readiness = readiness
    gate = RequestGate()
    app.server.wsgi_app = gate.wrap(app.server.wsgi_app)  # type: ignore[method-assign]
    worker = f"worker {os.getpid()}" if shared is not None else "server"

    def run():
        if first_request_s > 0:
            gate.first_answered.wait(first_request_s)
        warm_app(app, renderer=renderer, steps=readiness.steps, gate=gate, address=address)
        readiness.mark_ready()
        log.info("ready: %s warmed in %.1f s (%s; %.1f s of it waiting for %d visitor request(s))", worker,
                 readiness.warmed_in_s,
                 ", ".join(f"{name} {step['s']:.1f} s" for name, step in readiness.steps.items()),
                 gate.waited_s, gate.requests)

    thread = threading.Thread(target=run, name="explorer-warmup", daemon=True)
    thread.start()
    return thread
