"""Serving many users: the app under gunicorn.

Two ways in, with the same settings:

- ``explorer serve --workers N`` (``run()`` below) starts gunicorn inside the command;
- a plain gunicorn command line, using this module as its configuration file::

      gunicorn -c python:explorer.production 'explorer.production:create_server()'

  (``--workers``, ``--threads`` and ``--bind`` on the command line override the values here).

Each worker builds its own app (``preload_app`` is off: SQLite connections and Redis sockets must
not cross a fork). The master opens the registry once before forking, so that a first start
harvests the bundled catalogue once instead of in every worker at the same time. Workers are
``gthread`` workers (a few threads each), so one slow first load of a large layer does not stop a
worker answering; gunicorn restarts a worker that dies or hangs past ``timeout``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask

from .settings import Settings

log = logging.getLogger(__name__)


def default_workers() -> int:
    """One worker per CPU (Dash callbacks are CPU-bound Python; threads cover I/O waits)."""
    return max(1, os.cpu_count() or 1)


# Settings read by `gunicorn -c python:explorer.production` (the command line overrides them) ----
bind = os.environ.get("EXPLORER_BIND", "127.0.0.1:8050")
workers = default_workers()
worker_class = "gthread"
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


def on_starting(server: Any) -> None:  # gunicorn hook, in the master, before any fork
    prepare(Settings.from_env())


# -------------------------------------------------------------------------------------------------
def prepare(settings: Settings) -> None:
    """What must happen once, before the workers start: folders, the registry (and its first
    harvest), and a word about the shared cache."""
    from .services import open_registry

    settings.ensure_dirs()
    registry = open_registry(settings)
    close = getattr(registry, "close", None)
    if callable(close):
        close()
    if not settings.cache_url:
        log.info("cache: the filesystem under %s (shared by the workers of this host only; "
                 "set EXPLORER_CACHE_URL=redis://… to share between hosts)", settings.cache_dir)


# Imported lazily elsewhere; imported here, once per worker before it takes requests, because two
# threads importing geopandas for the first time at once fail ("partially initialized module").
WARM_IMPORTS = ("geopandas", "shapely", "pyogrio", "pyproj", "explorer.loaders", "explorer.geography",
                "explorer.geometry_payload", "explorer.datasets", "explorer.resolver")


def warm_imports() -> None:
    import importlib

    for name in WARM_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError as exc:  # pragma: no cover - an optional part missing is not fatal here
            log.warning("could not import %s before serving: %s", name, exc)


def create_server(settings: Settings | None = None) -> Flask:
    """The WSGI application (the Flask server under the Dash app) for gunicorn or any WSGI server."""
    from .app import create_app

    warm_imports()
    app = create_app(settings or Settings.from_env())
    from .warmup import master_folder, start_warmup

    # theme pages, the map's geometry and the export renderer made ready in a thread; /healthz says
    # "starting" until every worker of this master is warm (explorer/warmup.py)
    start_warmup(app, shared=master_folder(app.explorer.settings))
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
            return create_server(settings)

    if not logging.getLogger().handlers:  # the app's own warnings (cache, loads) beside gunicorn's
        logging.basicConfig(level=logging.INFO,
                            format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    prepare(settings)
    ExplorerApplication().run()
