"""The app factory: ``create_app(settings)`` builds a fresh Dash app with its own services.

No module-level ``@dash.callback``: each feature module in ``callbacks/`` has ``register(app,
services)``, so a second ``create_app()`` (as tests do) gets its own callbacks and registry.
"""

from __future__ import annotations

import logging
from functools import partial
from importlib import resources
from pathlib import Path

import dash
from flask import Flask

from explorer.data.cache import make_cache
from explorer.web.index_page import ExplorerDash, PageLayout
from explorer.web.security import install_security
from explorer.services import Services, make_data_service, open_registry
from explorer.settings import Settings

log = logging.getLogger(__name__)


def assets_folder() -> str:
    """The packaged assets/ folder (works for editable and regular installs)."""
    return str(Path(str(resources.files("assets"))))


def create_app(settings: Settings | None = None) -> dash.Dash:
    settings = settings or Settings.from_env()
    server = Flask("london_data_explorer")
    if settings.trusted_proxies > 0:    # behind reverse proxies: believe their X-Forwarded-* headers
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    registry = open_registry(settings)
    cache = make_cache(settings, server)
    services = Services(settings=settings, registry=registry,
                        data=make_data_service(settings, registry, cache), cache=cache)
    from explorer.publishing.service import open_publishing
    services.accounts, services.publishing = open_publishing(settings, registry, services.data)

    # the index page (explorer/web/index_page.py): each page comes drawn, with its layout and preloads
    app = ExplorerDash(
        "london_data_explorer",
        server=server,
        title="London Data Explorer",
        update_title=None,
        assets_folder=assets_folder(),
        suppress_callback_exceptions=True,
        first_views=services.data.memos.table("index page first views", 64),
        meta_tags=[
            {"name": "viewport", "content": "width=device-width, initial-scale=1"},
            {"name": "description", "content": "Search London's city data registry, map it and see where every number came from."},
        ],
    )
    install_security(app, settings)  # headers, CSP with Dash's inline-script hashes, gzip, limits
    app.explorer = services  # type: ignore[attr-defined]
    from explorer.catalogue.sources import Scheduler
    # each source harvested again on its schedule; one worker at a time (a lock file in EXPLORER_HOME)
    services.scheduler = Scheduler(registry, settings, every_seconds=max(1.0, settings.refresh_check_seconds)).start()
    from explorer.web.warmup import install_readiness
    install_readiness(app)           # /healthz: "starting" until a warm-up (explorer/web/warmup.py) is over

    from layouts.shell import app_layout

    from explorer.web.accounts import install_accounts
    # who is asking (session or Bearer token), CSRF on every unsafe request, the shared-data gate
    install_accounts(server, services)
    from explorer.web import api
    api.register(server, services)
    from explorer.web import publish_api
    from explorer.web import publish_pages
    publish_api.register(server, services)     # POST/PATCH /api/datasets… with Bearer tokens
    publish_pages.register(server, services)   # /account/…, /publish/…, /access/… (HTML forms)
    from explorer.web import export_routes
    export_routes.register(server, services)  # chart/map images and data zips
    from explorer.web import shortlink_routes
    shortlink_routes.register(server, services)  # /l/<code> and /api/shorten
    from callbacks import export_menu
    export_menu.register(app, services)       # export links, copy link, ?embed=1

    from callbacks import dataset, map_explorer, router
    from callbacks import themes as theme_pages

    router.register(app, services)
    # the layout is a function of the page being opened; Dash's /_dash-layout gets the bare frame
    app.layout = PageLayout(app_layout, partial(router.render_page, services), router.page_address)
    dataset.register(app, services)
    map_explorer.register(app, services)
    # loads and checks every theme file: a theme naming a missing dataset, resource or column
    # stops the start here with its file and line (columns only when a local data folder is set)
    theme_pages.register(app, services)
    return app
