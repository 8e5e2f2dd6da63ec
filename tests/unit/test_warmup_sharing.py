"""The warm-up yields to visitors and shares its work (explorer/web/warmup.py): it waits while a
real request is in flight on a real server, two workers claim pages and images in a real Redis so
each is drawn once, and the export images are drawn for the address visitors use, so the first
person to export a chart reads it from the cache."""

from __future__ import annotations

import threading
import time

import requests
from flask import Flask

from explorer.settings import Settings
from explorer.web.warmup import Claims, RequestGate, draw_export_images, export_address

from ..local_http import LocalServer
from .test_redis_cache import redis_server  # noqa: F401 - the fixture: a real redis-server


def test_the_warm_up_waits_while_a_visitors_request_is_in_flight():
    app = Flask("gate-test")
    begun = threading.Event()

    @app.get("/slow")
    def slow():
        begun.set()
        time.sleep(1.0)
        return "done"

    @app.get("/healthz")
    def healthz():
        return "starting"

    gate = RequestGate()
    app.wsgi_app = gate.wrap(app.wsgi_app)
    server = LocalServer(app)
    base = server.url()
    try:
        assert gate.wait_quiet() < 0.1           # nobody there: no wait
        assert not gate.first_answered.is_set()
        answered = []
        visitor = threading.Thread(target=lambda: answered.append(requests.get(base + "/slow", timeout=10)))
        visitor.start()
        assert begun.wait(5)
        started = time.monotonic()
        waited = gate.wait_quiet()               # the warm-up's turn comes after the visitor's page
        assert answered and answered[0].text == "done"
        assert waited >= 0.5 and time.monotonic() - started >= 0.5
        assert gate.first_answered.is_set() and gate.requests == 1
        visitor.join()

        # /healthz (a load balancer's polling) and the warm-up's own requests are not waited for
        time.sleep(RequestGate.QUIET_S)
        assert requests.get(base + "/healthz", timeout=5).text == "starting"
        gate.own_thread()
        assert app.test_client().get("/healthz").status_code == 200
        assert gate.wait_quiet() < 0.1 and gate.requests == 1
    finally:
        server.close()


def test_a_visitor_who_never_stops_does_not_stop_the_warm_up(monkeypatch):
    gate = RequestGate()
    monkeypatch.setattr(RequestGate, "MAX_WAIT_S", 0.3)
    inner = gate.wrap(lambda environ, start_response: [b""])
    body = inner({"PATH_INFO": "/themes/x"}, lambda *a: None)   # a request begun, never closed
    waited = gate.wait_quiet()
    assert 0.25 <= waited < 2
    body.close()


def test_two_workers_claim_each_piece_of_work_once_in_a_real_redis(tmp_path, redis_server):  # noqa: F811
    from explorer.data.cache import make_cache

    def worker(name):
        settings = Settings(home=tmp_path / name, cache_url=redis_server.url)
        return Claims(make_cache(settings))

    first, second = worker("a"), worker("b")
    assert first.take("theme page x")
    assert not second.take("theme page x")                 # left to the first worker
    assert second.deferred == 1
    second.release("theme page x")                         # not its claim: nothing happens
    assert not second.take("theme page x")
    assert second.take("theme page y")                     # other work is free

    # taken again with wait: the second worker waits until the first has finished
    threading.Timer(0.6, first.release, args=("theme page x",)).start()
    started = time.monotonic()
    assert second.take("theme page x", wait=True)
    assert time.monotonic() - started >= 0.5
    assert not first.take("theme page x")                  # now the second worker's
    second.release("theme page x")
    assert first.take("theme page x")


def test_export_images_are_drawn_for_the_address_people_use():
    assert export_address(Settings(public_url="https://data.example.london/"), "http://127.0.0.1:8050") \
        == "https://data.example.london"
    assert export_address(Settings(), "http://127.0.0.1:8050") == "http://127.0.0.1:8050"
    assert export_address(Settings(), "http://0.0.0.0:8050") is None     # visitors' host not known
    assert export_address(Settings(), "http://[::]:8050") is None
    assert export_address(Settings(), None) is None


def test_a_pre_drawn_chart_image_is_what_the_first_visitor_gets(tmp_path, data_dir, monkeypatch):
    from explorer.export.renderer import Renderer, shared_renderer
    from explorer.themes.page_data import themes_of
    from explorer.web.app import create_app
    from layouts.export_menu import chart_image_href

    app = create_app(Settings(home=tmp_path / "home", data_dir=data_dir, offline=True, cache_url="simple"))
    theme = themes_of(app.explorer)["net-zero"]
    client = app.server.test_client()
    try:
        done = draw_export_images(client, "http://127.0.0.1:8765", {"net-zero": theme})
        assert done == f"{len(theme.charts)} drawn for http://127.0.0.1:8765"

        def no_render(*args, **kwargs):
            raise AssertionError("rendered although the warm-up had drawn it")

        monkeypatch.setattr(Renderer, "render", no_render)
        path = chart_image_href("net-zero", theme.charts[0].id, "png")
        image = client.get(path, base_url="http://127.0.0.1:8765/")
        assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
        # the image prints a link to this address: asked at another one, it is drawn again
        assert client.get(path, base_url="http://localhost/").status_code == 500
    finally:
        shared_renderer().close()


def test_a_restarted_server_reads_the_home_pages_map_thumbnails_from_the_cache(tmp_path, data_dir, monkeypatch):
    """The home page's small maps (explorer/themes/thumbnails.py) are kept in the app's cache, so a
    restart's first page does not load every theme's first layer again."""
    from explorer.themes import thumbnails
    from explorer.themes.page_data import themes_of
    from explorer.web.app import create_app

    settings = Settings(home=tmp_path / "home", data_dir=data_dir, offline=True)   # the filesystem cache
    first = create_app(settings).explorer
    theme = themes_of(first)["air-quality"]
    drawn = thumbnails.theme_thumbnail(first, theme)
    assert drawn is not None and drawn.areas

    def no_drawing(*args, **kwargs):
        raise AssertionError("a thumbnail was drawn again after the restart")

    monkeypatch.setattr(thumbnails, "_compute", no_drawing)
    again = create_app(settings).explorer        # the restart: nothing in its memory
    assert thumbnails.theme_thumbnail(again, themes_of(again)["air-quality"]) == drawn
