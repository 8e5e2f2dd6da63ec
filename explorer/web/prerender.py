"""The first page comes with the layout, not one round trip after it.

Dash asks for the layout (``/_dash-layout``) and then, in a second request, for the router's
callback that fills the page. The layout request comes from the page itself, so its ``Referer``
names the address being opened (the app sends ``strict-origin-when-cross-origin``, which keeps the
path and query for its own requests). The layout is then served with that address's page already
in it, and the router, seeing the page is there, sends nothing on its first call.

Anything doubtful (no referrer, another host, a page that fails to render) serves the bare frame:
the router then renders the page as before, and shows any error the usual way.

The index page itself now carries the same layout for its own address (explorer/web/first_paint.py),
and Dash takes it from there; this request is what a page without it still makes.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from explorer.guards.request_limits import QueryRefused, normalised_query

log = logging.getLogger(__name__)


MAX_REFERRER_CHARS = 16 * 1024   # a page address of this app is far shorter (its query: 8 KB at most)


def referred_address(referrer: str | None, *origins: str) -> tuple[str, str] | None:
    """(path, search) of a referrer from one of the app's own ``origins`` (the request's address,
    the public one), else None: also for a referrer that cannot be parsed (``http://[::1``), is
    over-long, or whose query is over the limits of explorer/guards/request_limits.py (its repeats
    are dropped). The router then draws the page from the browser's address, under the same rules."""
    if not referrer or len(referrer) > MAX_REFERRER_CHARS:
        return None
    try:
        ref = urlsplit(referrer)
        own = {(urlsplit(o).scheme, urlsplit(o).netloc) for o in origins if o}
        if (ref.scheme, ref.netloc) not in own or not ref.path.startswith("/"):
            return None
        query = normalised_query(ref.query) if ref.query else ""
    except (ValueError, QueryRefused):
        return None
    return ref.path, ("?" + query if query else "")


def set_page_address(path: str | None, search: str | None) -> None:
    """Make the layout, for the rest of this request, the page of ``path`` and ``search`` (the
    index page draws its own address, explorer/web/first_paint.py); None goes back to the referrer."""
    from flask import g

    if path is None:
        g.pop("explorer_page_address", None)
    else:
        g.explorer_page_address = (path, search or "")


def layout_for_request(frame, render_page, address_key, public_url: str = ""):
    """A layout function for ``app.layout``: ``frame(page, title, rendered)`` builds the frame,
    ``render_page(path, search)`` returns (page, title) as the router does."""
    from flask import g, has_request_context, request

    def serve_layout():
        if not has_request_context():
            return frame()
        address = (g.get("explorer_page_address")
                   or referred_address(request.referrer, request.host_url, public_url))
        if address is None:
            return frame()
        path, search = address
        try:
            page, title = render_page(path, search)
        except Exception:  # noqa: BLE001 - the router will render it (and report errors) as before
            log.exception("could not render %s with the layout; the router will", path)
            return frame()
        return frame(page, title, address_key(path, search))

    return serve_layout


def install_layout_headers(server) -> None:
    """The layout now depends on the Referer: no shared cache may keep one page for another."""
    @server.after_request
    def layout_not_shared(response):
        from flask import request

        if request.path.endswith("/_dash-layout"):
            response.headers["Cache-Control"] = "no-store"
            response.vary.add("Referer")
        return response
