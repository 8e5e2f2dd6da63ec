"""Serving many users: the app under gunicorn.

Two ways in, with the same settings:

- ``explorer serve --workers N`` (``run()`` below) starts gunicorn inside the command;
- a plain gunicorn command line, using this module as its configuration file::

      gunicorn -c python:explorer.web.production 'explorer.web.production:create_server()'

  (``--workers``, ``--threads`` and ``--bind`` on the command line override the values here).

Each worker builds its own app (``preload_app`` is off: SQLite connections and Redis sockets must
not cross a fork). The master opens the registry once before forking, so that a first start
harvests the bundled catalogue once instead of in every worker at the same time. gunicorn is the
master: it binds the address, starts the workers, restarts one that dies or hangs past
``timeout`` (or has served ``max_requests``), and stops them gracefully.

Each worker serves with **waitress** (``BufferingWorker`` below): one event loop per worker reads
every request whole - request line, headers and body - before a thread of the app sees it, then
hands it to a pool of threads (``--threads``, 4 by default). A client that sends its headers a
byte at a time (a "slowloris") costs a socket and a buffer, not a thread, so the other clients are
still answered; gunicorn's own ``gthread`` workers read each request on a thread, and ten such
clients took every thread of two workers. waitress rather than gunicorn's ``gevent`` workers:
the app's work is CPU-bound Python and C (pandas, shapely, plotly, the export renderer's
threads), which under gevent would stop every other request of that worker while it ran, and
gevent's patching of threads and sockets would reach the renderer, Redis and SQLite.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from flask import Flask

from explorer.settings import Settings

log = logging.getLogger(__name__)


def default_workers() -> int:
    """One worker per CPU (Dash callbacks are CPU-bound Python; threads cover I/O waits)."""
    return max(1, os.cpu_count() or 1)


# Settings read by `gunicorn -c python:explorer.web.production` (the command line overrides them) ----
bind = os.environ.get("EXPLORER_BIND", "127.0.0.1:8050")
workers = default_workers()
worker_class = "explorer.web.production.BufferingWorker"   # waitress in each worker: see above
threads = 4
timeout = 120            # a first load of a large layer can take several seconds; a hang cannot
graceful_timeout = 30
keepalive = 5
max_requests = 20000     # recycle workers now and then (bounded memory), spread by the jitter
max_requests_jitter = 2000
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None
accesslog = None
errorlog = "-"
loglevel = "info"
control_socket_disable = True  # gunicorn >= 25: no shared ~/.gunicorn socket between instances


# waitress in each worker (BufferingWorker) ----------------------------------------------------------
CONNECTION_LIMIT = 1000      # open connections per worker (each a socket and a buffer, not a thread)
CHANNEL_TIMEOUT = 30         # seconds a connection may send nothing (a request's bytes, or idle)
MAX_HEADER_BYTES = 64 * 1024  # request line and headers (gunicorn's own limits were ~4 KB and 100 × 8 KB)
MAX_BODY_BYTES = 2 * 1024 * 1024  # above the app's own 1 MB (explorer/web/security.py), which answers 413 itself


def on_starting(server: Any) -> None:  # gunicorn hook, in the master, before any fork
    prepare(Settings.from_env())


# -------------------------------------------------------------------------------------------------
def prepare(settings: Settings) -> None:
    """What must happen once, before the workers start: folders, the registry (and its first
    harvest), and a word about the shared cache."""
    import threading

    from explorer.services import open_registry

    settings.ensure_dirs()
    before = set(threading.enumerate())
    registry = open_registry(settings)
    # a first start computes the semantic vectors in a thread; the workers are forked from this
    # process, and a fork while a thread holds an import lock leaves every worker stuck on its
    # first import of that module: wait for it here (bounded: a thread that never ends is left)
    from explorer.db.postgres import POOL_THREAD_PREFIX

    for thread in set(threading.enumerate()) - before:
        if not thread.name.startswith(POOL_THREAD_PREFIX):   # a database pool's: ends at close()
            thread.join(timeout=300)
    close = getattr(registry, "close", None)
    if callable(close):
        close()
    preload_imports()
    if not settings.cache_url:
        log.info("cache: the filesystem under %s (shared by the workers of this host only; "
                 "set EXPLORER_CACHE_URL=redis://… to share between hosts)", settings.cache_dir)


# Imported lazily elsewhere; imported here, once per worker before it takes requests, because two
# threads importing geopandas for the first time at once fail ("partially initialized module").
WARM_IMPORTS = ("geopandas", "shapely", "pyogrio", "pyproj", "explorer.data.loaders", "explorer.geo.geography",
                "explorer.geo.geometry_payload", "explorer.geo.joins", "explorer.data.resolver")
# Imported once in the master before it forks (none of them opens a socket or starts a thread when
# imported): each worker starts with them, instead of every worker importing the same 1,600 modules
# at the same moment (1.5 s of CPU each on a quiet machine, 15 s on a busy one), and their memory is
# shared between the workers until written to.
PRELOAD_IMPORTS = WARM_IMPORTS + (
    "explorer.web.app", "explorer.web.warmup", "explorer.publishing.service", "layouts.shell",
    "callbacks.dataset", "callbacks.map_explorer", "callbacks.router", "callbacks.themes",
    "callbacks.export_menu", "callbacks.theme_page_cache", "plotly.graph_objects", "explorer.themes.charts",
    "explorer.export.chart_image", "explorer.export.renderer")


def preload_imports() -> None:
    """Import :data:`PRELOAD_IMPORTS` in the master (see there), and work out the code's digest
    there: every worker keys the pages it shares by the same one (explorer/data/cache.py)."""
    warm_imports(PRELOAD_IMPORTS)
    from explorer.data.cache import code_digest

    code_digest()


def warm_imports(names: tuple[str, ...] = WARM_IMPORTS) -> None:
    import importlib

    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:  # pragma: no cover - an optional part missing is not fatal here
            log.warning("could not import %s before serving: %s", name, exc)


def create_server(settings: Settings | None = None, address: str | None = None) -> Flask:
    """The WSGI application (the Flask server under the Dash app) for gunicorn or any WSGI server.

    ``address``: where the server listens (``http://host:port``; default: ``EXPLORER_BIND``), the
    address the warm-up draws the export images for when EXPLORER_PUBLIC_URL is not set."""
    from explorer.web.app import create_app

    warm_imports()
    app = create_app(settings or Settings.from_env())
    from explorer.web.warmup import master_folder, start_warmup

    # theme pages, the map's geometry, the export renderer and images made ready in a thread;
    # /healthz says "starting" until every worker of this master is warm (explorer/web/warmup.py)
    start_warmup(app, shared=master_folder(app.explorer.settings),
                 address=address or f"http://{os.environ.get('EXPLORER_BIND', bind)}")
    return app.server


def gunicorn_options(host: str = "127.0.0.1", port: int = 8050, workers: int | None = None,
                     threads: int | None = None, access_log: bool = False) -> dict[str, Any]:
    """The gunicorn settings ``explorer serve --workers`` uses (the module values above, plus
    the address, the worker count and the thread count)."""
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be 1 or more, got {workers}")
    if threads is not None and threads < 1:
        raise ValueError(f"--threads must be 1 or more, got {threads}")
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers or default_workers(),
        "worker_class": worker_class,
        "threads": threads or globals()["threads"],
        "timeout": timeout,
        "graceful_timeout": graceful_timeout,
        "keepalive": keepalive,
        "max_requests": max_requests,
        "max_requests_jitter": max_requests_jitter,
        "accesslog": "-" if access_log else None,
        "errorlog": errorlog,
        "loglevel": loglevel,
        "preload_app": False,
        "proc_name": "london-data-explorer",
        "control_socket_disable": control_socket_disable,
    }
    if worker_tmp_dir:
        options["worker_tmp_dir"] = worker_tmp_dir
    return options


def run(settings: Settings, host: str = "127.0.0.1", port: int = 8050, workers: int | None = None,
        threads: int | None = None, access_log: bool = False) -> None:
    """Run gunicorn in this process (the master) with the app in each worker; returns on shutdown."""
    from gunicorn.app.base import BaseApplication

    options = gunicorn_options(host, port, workers, threads, access_log)

    class ExplorerApplication(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                if value is not None and key in self.cfg.settings:  # older gunicorns lack some
                    self.cfg.set(key, value)

        def load(self):  # called in each worker after the fork
            return create_server(settings, address=f"http://{options['bind']}")

    if not logging.getLogger().handlers:  # the app's own warnings (cache, loads) beside gunicorn's
        logging.basicConfig(level=logging.INFO,
                            format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    prepare(settings)
    ExplorerApplication().run()


# The worker -------------------------------------------------------------------------------------
def _waitress_options(threads: int) -> dict[str, Any]:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = CONNECTION_LIMIT if soft in (resource.RLIM_INFINITY, -1) else max(16, min(CONNECTION_LIMIT, soft - 64))
    return {
        "threads": threads,
        "connection_limit": limit,
        "channel_timeout": CHANNEL_TIMEOUT,
        "cleanup_interval": 5,
        "max_request_header_size": MAX_HEADER_BYTES,
        "max_request_body_size": MAX_BODY_BYTES,
        "asyncore_use_poll": True,           # poll(), not select(): no limit at file descriptor 1024
        "clear_untrusted_proxy_headers": False,  # X-Forwarded-*: EXPLORER_TRUSTED_PROXIES decides (ProxyFix)
        "expose_tracebacks": False,
        "ident": "waitress",
    }


def _access_logged(app, logger: logging.Logger):
    """``--access-log``: one line per request (waitress writes none of its own)."""
    def logged(environ, start_response):
        start = time.perf_counter()
        status: list[str] = []

        def recording(code, headers, exc_info=None):
            status.append(code.split(" ", 1)[0])
            return start_response(code, headers, exc_info)

        try:
            return app(environ, recording)
        finally:
            query = environ.get("QUERY_STRING")
            logger.info('%s "%s %s%s" %s %.0f ms', environ.get("REMOTE_ADDR", "-"),
                        environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")[:500],
                        ("?" + query[:500]) if query else "", status[0] if status else "-",
                        (time.perf_counter() - start) * 1000)

    return logged


try:
    from gunicorn.workers.base import Worker as _GunicornWorker
except ImportError:  # pragma: no cover - gunicorn is a dependency
    _GunicornWorker = object  # type: ignore[assignment,misc]


class BufferingWorker(_GunicornWorker):  # type: ignore[misc,valid-type]
    """A gunicorn worker that serves with waitress: requests are read whole by one event loop and
    only then run on one of ``threads`` threads (see the module's docstring)."""

    def run(self) -> None:
        from waitress import wasyncore
        from waitress.server import create_server

        app = self.wsgi
        if self.cfg.accesslog:
            app = _access_logged(app, logging.getLogger("explorer.access"))
        app = self._counting(app)
        socket_map: dict = {}
        server = create_server(app, map=socket_map, sockets=[s.sock for s in self.sockets],
                               **_waitress_options(self.cfg.threads))
        dispatcher = server.task_dispatcher
        listeners = [ch for ch in socket_map.values() if getattr(ch, "accepting", False)]
        try:
            while self.alive:
                self.notify()                      # the master kills a worker silent past timeout
                if self.ppid != os.getppid():
                    self.log.info("Parent changed, shutting down: %s", self)
                    break
                wasyncore.loop(timeout=1.0, map=socket_map, use_poll=True, count=1)
            # Graceful stop: no new connections; requests already read are answered.
            for listener in listeners:
                listener.close()
            deadline = time.monotonic() + self.cfg.graceful_timeout
            while time.monotonic() < deadline and any(
                    getattr(ch, "requests", None) or getattr(ch, "total_outbufs_len", 0)
                    for ch in list(socket_map.values())):
                self.notify()
                wasyncore.loop(timeout=0.2, map=socket_map, use_poll=True, count=1)
        finally:
            dispatcher.shutdown(cancel_pending=True, timeout=1)
            wasyncore.close_all(socket_map)

    def _counting(self, app):
        """Restart the worker (gunicorn starts another) after max_requests, as gunicorn's own do."""
        def counted(environ, start_response):
            self.nr += 1
            if self.nr >= self.max_requests and self.alive:
                self.log.info("Autorestarting worker after current request.")
                self.alive = False
            return app(environ, start_response)

        return counted
