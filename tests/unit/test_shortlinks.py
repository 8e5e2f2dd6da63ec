"""Short permalinks: one code per view, kept across restarts and shared by workers, a redirect that
never leaves the site, and the short link in export footers and in the UI's "Copy link"."""

from __future__ import annotations

import json
import multiprocessing
import re
import sqlite3
import threading
import xml.etree.ElementTree as ET

import pytest

from explorer.maps import shortlinks
from explorer.web.app import create_app
from explorer.export.renderer import shared_renderer
from explorer.settings import Settings
from explorer.maps.shortlinks import CODE_RE, LinkError, LinkStore, check_target

from .test_redis_cache import redis_server  # noqa: F401 - a real Redis on 127.0.0.1 for the limit tests

MAP = "/map?view=51.5072,-0.1276,10&layer=london-boroughs"
CHART = "/themes/air-quality?chart=no2-borough-2019"
HOSTILE = [
    "//evil.example", "//evil.example/map", "https://evil.example", "https://evil.example/map",
    "http:/evil.example", "/\\evil.example", "/\\/evil.example", "\\\\evil.example", "javascript:alert(1)",
    "JavaScript:alert(1)//map", "data:text/html,hi", " /map", "/map ", "\t/map", "/map\r\nLocation: x",
    "/map#frag", "/%2f%2fevil.example", "/map/%2e%2e/admin", "/map/../admin", "/./map", "/themes//x",
    "", "map", "/admin", "/api/datasets", "/l/abcdefgh", "/export/map.png?layer=x", "/themes/",
    "/dataset/", "/mapx", "/catalogue/../../etc/passwd", "/map?" + "x" * 2001, "/map?q=é",
]


@pytest.fixture()
def store(tmp_path, database_url):
    """The link store on each backend: the SQLite file, then a fresh PostgreSQL database."""
    s = shortlinks.PgLinkStore(database_url) if database_url else LinkStore(tmp_path / "links.sqlite3")
    yield s
    s.close()


def _write(store, sql: str, params: tuple) -> None:
    """Change the table behind the store's back (as someone with database access could)."""
    if isinstance(store, shortlinks.PgLinkStore):
        store.db.conn().execute(sql, params)
    else:
        with sqlite3.connect(store.path) as conn:
            conn.execute(sql, params)


# ---------------------------------------------------------------------------------------- the store
def test_the_same_view_gets_the_same_code_and_other_views_other_codes(store):
    code = store.shorten(MAP)
    assert CODE_RE.match(code) and len(code) == shortlinks.CODE_LENGTH
    assert store.shorten(MAP) == code
    others = {store.shorten(t) for t in (CHART, "/map?layer=london-boroughs", "/catalogue?q=air",
                                         "/dataset/london-boroughs", "/themes")}
    assert len(others) == 5 and code not in others
    assert store.count() == 6


def test_links_survive_a_restart_and_the_code_does_not_depend_on_the_store(tmp_path):
    first = LinkStore(tmp_path / "a.sqlite3")
    code = first.shorten(CHART)
    first.close()
    again = LinkStore(tmp_path / "a.sqlite3")
    assert again.resolve(code) == CHART
    other = LinkStore(tmp_path / "b.sqlite3")       # another machine gives the view the same code
    assert other.shorten(CHART) == code


def test_a_colliding_code_takes_a_longer_prefix(store, monkeypatch):
    real = shortlinks._digest_code
    monkeypatch.setattr(shortlinks, "_digest_code", lambda t: "abcdefgh" + real(t)[8:])
    first, second = store.shorten(MAP), store.shorten(CHART)
    assert first == "abcdefgh" and second.startswith("abcdefgh") and len(second) == 9
    assert store.resolve(first) == MAP and store.resolve(second) == CHART
    assert store.shorten(CHART) == second


def test_unknown_and_malformed_codes(store):
    assert store.resolve("zzzzzzzz") is None
    for bad in ("", "short", "ABCDEFGH", "abcdefgi", "../../etc", "a" * 17, None):
        with pytest.raises(LinkError, match="not a link code"):
            store.resolve(bad)


@pytest.mark.parametrize("target", HOSTILE)
def test_targets_off_site_or_outside_the_views_are_refused(store, target):
    with pytest.raises(LinkError):
        store.shorten(target)
    assert store.count() == 0


@pytest.mark.parametrize("target", [MAP, CHART, "/map", "/catalogue", "/catalogue?q=air&theme=Environment",
                                    "/themes", "/dataset/laei-lsoa-2021",
                                    "/map?layer=laei-lsoa-2021%3Ano2-2019%2Cv%3ANO2-2019-mean"])
def test_the_apps_views_are_accepted(target):
    assert check_target(target) == target


def test_a_tampered_row_is_never_handed_out(store):
    code = store.shorten(MAP)
    _write(store, "UPDATE links SET target = '//evil.example' WHERE code = ?", (code,))
    with pytest.raises(LinkError):
        store.resolve(code)


def test_threads_shortening_one_view_at_once_leave_one_row(tmp_path):
    path = tmp_path / "links.sqlite3"
    stores = [LinkStore(path) for _ in range(4)]     # as if several workers opened the file
    barrier = threading.Barrier(16)
    codes: list[str] = []
    errors: list[Exception] = []

    def job(i):
        try:
            barrier.wait()
            codes.append(stores[i % 4].shorten(MAP))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(codes) == 16 and len(set(codes)) == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM links").fetchone()[0] == 1


def _shorten_in_process(path, start, queue):
    start.wait(30)
    store = LinkStore(path)
    queue.put([store.shorten(t) for t in (MAP, CHART, MAP)])


def test_processes_shortening_at_once_leave_one_row_per_view(tmp_path):
    path = str(tmp_path / "links.sqlite3")
    ctx = multiprocessing.get_context("spawn")
    start, queue = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_shorten_in_process, args=(path, start, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    start.set()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert all(r == results[0] for r in results) and results[0][0] == results[0][2] != results[0][1]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM links").fetchone()[0] == 2


# ---------------------------------------------------------------------------------------- the routes
@pytest.fixture(scope="module")
def app(tmp_path_factory, data_dir):
    home = tmp_path_factory.mktemp("shortlinks-home")
    # shorten_rate=0: these tests shorten dozens of targets; the limit has its own tests below
    app = create_app(Settings(home=home, data_dir=data_dir, cache_url="simple",
                              public_url="https://data.example.london", shorten_rate=0))
    yield app
    shared_renderer().close()


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


def _shorten(client, target):
    return client.get("/api/shorten", query_string={"target": target})


def test_round_trip_redirects_to_exactly_the_target(client):
    for target in (MAP, CHART, "/dataset/london-boroughs", "/catalogue?q=air+quality"):
        response = _shorten(client, target)
        assert response.status_code == 200, response.json
        doc = response.json
        assert doc["target"] == target and doc["url"] == f"https://data.example.london/l/{doc['code']}"
        assert doc["path"] == f"/l/{doc['code']}"
        followed = client.get(doc["path"])
        assert followed.status_code == 302
        assert followed.headers["Location"] == target       # relative: it stays on this site
    assert client.post("/api/shorten", json={"target": MAP}).json["code"] == _shorten(client, MAP).json["code"]


def test_unknown_code_is_a_404_with_a_message(client):
    response = client.get("/l/zzzzzzzz")
    assert response.status_code == 404 and "no link 'zzzzzzzz'" in response.get_data(as_text=True)
    as_json = client.get("/l/zzzzzzzz", headers={"Accept": "application/json"})
    assert as_json.status_code == 404 and as_json.json["error"].startswith("no link 'zzzzzzzz'")


@pytest.mark.parametrize("path", ["/l/ABCDEFGH", "/l/abc", "/l/abcdefgh!", "/l/" + "a" * 40, "/l/%2e%2e",
                                  "/l/..", "/l/a%2fb"])
def test_bad_codes_are_refused(client, path):
    response = client.get(path)
    assert response.status_code == 400
    assert "Location" not in response.headers


@pytest.mark.parametrize("target", HOSTILE)
def test_the_api_refuses_targets_off_site(client, target):
    response = _shorten(client, target)
    assert response.status_code == 400 and response.json["error"]


def test_the_api_needs_a_target(client):
    response = client.get("/api/shorten")
    assert response.status_code == 400 and "no target" in response.json["error"]


def test_the_api_limits_each_client_and_says_when_to_come_back(tmp_path, data_dir):
    app = create_app(Settings(home=tmp_path, data_dir=data_dir, cache_url="simple", shorten_rate=3))
    client = app.server.test_client()
    here = {"REMOTE_ADDR": "203.0.113.7"}
    for i in range(3):
        ok = client.get("/api/shorten", query_string={"target": f"/map?layer=x{i}"}, environ_base=here)
        assert ok.status_code == 200, ok.json
    refused = client.get("/api/shorten", query_string={"target": "/map?layer=x9"}, environ_base=here)
    assert refused.status_code == 429
    assert refused.json["status"] == 429 and "at most 3 a minute" in refused.json["error"]
    assert 50 <= int(refused.headers["Retry-After"]) <= 60   # when the first of the three is a minute old
    other = client.get("/api/shorten", query_string={"target": "/map?layer=x9"},
                       environ_base={"REMOTE_ADDR": "203.0.113.8"})
    assert other.status_code == 200                 # another client has its own bucket
    assert client.get("/l/" + other.json["code"]).status_code == 302   # following is never limited


def _shortener(settings: Settings):
    """A test client of a bare Flask server with only the short-link routes (an app's worth of
    limiter, without the seconds create_app takes)."""
    from types import SimpleNamespace

    from flask import Flask

    from explorer.web import shortlink_routes

    server = Flask("shortener")
    shortlink_routes.register(server, SimpleNamespace(settings=settings))
    return server.test_client()


def test_the_limit_is_a_moving_window_over_a_minute(tmp_path, data_dir, monkeypatch):
    """At most N a minute, counted from each request: the next is allowed once the oldest of the
    last N is a minute old, and Retry-After says when that is."""
    from types import SimpleNamespace

    now = [1_000_000.0]
    clock = SimpleNamespace(time=lambda: now[0])       # the in-memory counter's clock and ours
    monkeypatch.setattr("limits.storage.memory.time", clock)
    monkeypatch.setattr("explorer.web.ratelimit.time", clock)
    client = _shortener(Settings(home=tmp_path, data_dir=data_dir, cache_url="simple", shorten_rate=2))

    def shorten(i):
        return client.get("/api/shorten", query_string={"target": f"/map?layer=w{i}"})

    assert shorten(1).status_code == 200
    now[0] += 20
    assert shorten(2).status_code == 200
    now[0] += 10
    refused = shorten(3)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "30"   # the first is 60 s old at +30
    now[0] += 31
    assert shorten(4).status_code == 200
    assert shorten(5).status_code == 429                    # the second is 41 s old: still counted
    assert client.post("/api/shorten", json={"target": "/map?layer=w6"}).status_code == 429  # one budget


def test_a_redis_cache_gives_every_app_one_budget_per_client(tmp_path, data_dir, redis_server):
    """Two apps (two workers or two hosts) on one Redis share each client's limit; without Redis
    each counts its own."""
    def app(home, cache_url):
        return create_app(Settings(home=tmp_path / home, data_dir=data_dir, cache_url=cache_url,
                                   shorten_rate=3)).server.test_client()

    def shorten(client, i, address="203.0.113.7"):
        return client.get("/api/shorten", query_string={"target": f"/map?layer=r{i}"},
                          environ_base={"REMOTE_ADDR": address})

    first, second = app("a", redis_server.url), app("b", redis_server.url)
    assert [shorten(c, i).status_code for i, c in enumerate([first, second, first])] == [200] * 3
    assert shorten(second, 3).status_code == 429 and shorten(first, 4).status_code == 429
    assert shorten(second, 5, address="203.0.113.8").status_code == 200   # another visitor
    keys = [k.decode() for k in redis_server.client().keys("*")]
    assert any(k.startswith("explorer:limits:") and "/203.0.113.7/api_shorten/" in k for k in keys), keys

    apart = [_shortener(Settings(home=tmp_path / home, cache_url="simple", shorten_rate=3))
             for home in ("c", "d")]                      # counted in memory: each its own budget
    assert [shorten(c, i).status_code for i, c in enumerate(apart * 2)] == [200] * 4


def test_a_limit_counted_in_redis_survives_redis_going_away(tmp_path, data_dir, redis_server):
    client = _shortener(Settings(home=tmp_path, data_dir=data_dir, cache_url=redis_server.url,
                                 shorten_rate=2))
    redis_server.stop()
    codes = [client.get("/api/shorten", query_string={"target": f"/map?layer=d{i}"}).status_code
             for i in range(3)]
    assert codes == [200, 200, 429]       # counted in memory meanwhile, never a 500


def test_only_unopened_api_links_expire(tmp_path):
    from datetime import datetime, timedelta, timezone

    store = LinkStore(tmp_path / "links.sqlite3", unopened_days=30)
    kept = store.shorten("/map?layer=kept")                       # an export or "Copy link"
    opened = store.shorten("/map?layer=opened", keep=False)
    unopened = store.shorten("/map?layer=unopened", keep=False)
    upgraded = store.shorten("/map?layer=upgraded", keep=False)
    assert store.shorten("/map?layer=upgraded") == upgraded         # later used in an export: kept
    assert store.shorten("/map?layer=kept", keep=False) == kept     # stays kept
    assert store.resolve(opened) == "/map?layer=opened"
    now = datetime.now(timezone.utc)
    assert store.sweep(now + timedelta(days=29)) == 0               # too young to go
    assert store.sweep(now + timedelta(days=31)) == 1
    assert store.resolve(unopened) is None
    assert {store.resolve(c) for c in (kept, opened, upgraded)} == {
        "/map?layer=kept", "/map?layer=opened", "/map?layer=upgraded"}
    # an unopened link handed out again is as young as its latest handing out
    again = store.shorten("/map?layer=again", keep=False)
    with store._locked() as conn:
        conn.execute("UPDATE links SET created_at = ? WHERE code = ?",
                     ((now - timedelta(days=29)).strftime("%Y-%m-%dT%H:%M:%SZ"), again))
    assert store.shorten("/map?layer=again", keep=False) == again
    assert store.sweep(now + timedelta(days=2)) == 0 and store.resolve(again) == "/map?layer=again"
    never = LinkStore(tmp_path / "never.sqlite3", unopened_days=0)
    code = never.shorten("/map?layer=a", keep=False)
    assert never.sweep(now + timedelta(days=3650)) == 0 and never.resolve(code) == "/map?layer=a"
    store.close(), never.close()


def test_a_store_that_cannot_be_written_still_resolves(tmp_path):
    store = LinkStore(tmp_path / "links.sqlite3", unopened_days=30)
    code = store.shorten("/map?layer=ro", keep=False)
    with store._locked() as conn:
        conn.execute("PRAGMA query_only = ON")          # as a read-only home would be
    assert store.resolve(code) == "/map?layer=ro"
    with store._locked() as conn:
        assert conn.execute("SELECT opened_at FROM links").fetchone()[0] is None
    store.close()


def test_a_store_from_before_expiry_keeps_its_links(tmp_path):
    from datetime import datetime, timedelta, timezone

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:                # the schema as it was
        conn.execute("CREATE TABLE links (code TEXT PRIMARY KEY, target TEXT NOT NULL UNIQUE, "
                     "created_at TEXT NOT NULL DEFAULT '2020-01-01T00:00:00Z')")
        conn.execute("INSERT INTO links(code, target) VALUES ('abcdefgh', '/map?layer=old')")
    store = LinkStore(path, unopened_days=1)
    assert store.sweep(datetime.now(timezone.utc) + timedelta(days=9999)) == 0
    assert store.resolve("abcdefgh") == "/map?layer=old"
    store.close()


def test_a_new_api_link_sweeps_old_unopened_ones(tmp_path, monkeypatch):
    store = LinkStore(tmp_path / "links.sqlite3", unopened_days=1)
    stale = store.shorten("/map?layer=stale", keep=False)
    with store._locked() as conn:
        conn.execute("UPDATE links SET created_at = '2000-01-01T00:00:00Z'")
    store._last_sweep = None                        # as if no sweep ran in this process yet
    store.shorten("/map?layer=fresh", keep=False)
    assert store.resolve(stale) is None and store.count() == 1
    store.close()


# ---------------------------------------------------------------------------------------- where it is used
SVG_NS = "{http://www.w3.org/2000/svg}"


def _svg_text(data: bytes) -> str:
    return " ".join("".join(el.itertext()) for el in ET.fromstring(data).iter(f"{SVG_NS}text"))


def test_the_map_svg_footer_has_the_short_link_not_the_long_query(client):
    response = client.get("/export/map.svg?preset=slide&layer=london-boroughs")
    assert response.status_code == 200
    text = _svg_text(response.data)
    match = re.search(r"View online: https://data\.example\.london(/l/[0-9a-z]{8,16})\b", text)
    assert match, text[-400:]
    assert "layer=" not in text and "view=" not in text and "preset=" not in text
    followed = client.get(match.group(1))
    assert followed.status_code == 302
    assert followed.headers["Location"].startswith("/map?view=") and "layer=london-boroughs" in followed.headers["Location"]


def _id_text(ident) -> str:
    """A component id as Dash's renderer writes it in changedPropIds (a pattern id: sorted JSON)."""
    return ident if isinstance(ident, str) else json.dumps(ident, sort_keys=True, separators=(",", ":"))


def _callback(client, output: str, output_id, inputs: list, state: list) -> dict:
    """Run one Dash callback as the browser would (POST /_dash-update-component)."""
    body = {"output": output, "outputs": {"id": output_id, "property": output.rsplit(".", 1)[1]},
            "inputs": inputs, "state": state, "changedPropIds": [f"{_id_text(inputs[0]['id'])}.{inputs[0]['property']}"]}
    response = client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.data[:300]
    return next(iter(response.json["response"].values()))["content"]


def test_copy_link_on_the_map_copies_the_short_link(client):
    search = "?view=51.5072,-0.1276,10&layer=london-boroughs"
    link = _callback(client, "map-export-copy.content", "map-export-copy",
                     [{"id": "map-export-copy", "property": "n_clicks", "value": 1}],
                     [{"id": "map-url", "property": "data", "value": search}])
    assert re.fullmatch(r"https://data\.example\.london/l/[0-9a-z]{8,16}", link)
    assert client.get(link.removeprefix("https://data.example.london")).headers["Location"] == "/map" + search


def test_copy_link_under_a_chart_copies_the_short_link(client):
    index = "air-quality/no2-borough-2019"
    link = _callback(client, '{"index":["MATCH"],"type":"export-copy"}.content', {"type": "export-copy", "index": index},
                     [{"id": {"type": "export-copy", "index": index}, "property": "n_clicks", "value": 1}],
                     [{"id": {"type": "export-target", "index": index}, "property": "data",
                       "value": {"theme": "air-quality", "chart": "no2-borough-2019", "permalink": CHART}}])
    assert re.fullmatch(r"https://data\.example\.london/l/[0-9a-z]{8,16}", link)
    assert client.get(link.removeprefix("https://data.example.london")).headers["Location"] == CHART


def test_cli_prints_the_short_link_and_exports_from_one(tmp_path, data_dir):
    from click.testing import CliRunner

    from explorer.cli import main

    runner = CliRunner()
    env = {"EXPLORER_HOME": str(tmp_path / "home"), "EXPLORER_DATA_DIR": str(data_dir)}
    first = runner.invoke(main, ["export", "map", "--url", "https://maps.example/map?layer=london-boroughs",
                                 "--format", "svg", "-o", str(tmp_path / "a.svg")], env=env)
    assert first.exit_code == 0, first.output
    link = re.search(r"^link: (https://maps\.example/l/[0-9a-z]{8,16})$", first.output, re.M)
    assert link, first.output
    again = runner.invoke(main, ["export", "map", "--url", link.group(1), "--format", "svg",
                                 "-o", str(tmp_path / "b.svg")], env=env)
    assert again.exit_code == 0, again.output
    assert f"link: {link.group(1)}" in again.output
    assert _svg_text((tmp_path / "b.svg").read_bytes()) == _svg_text((tmp_path / "a.svg").read_bytes())
    unknown = runner.invoke(main, ["export", "map", "--url", "https://maps.example/l/zzzzzzzz"], env=env)
    assert unknown.exit_code != 0 and "no short link 'zzzzzzzz'" in unknown.output


@pytest.mark.parametrize("proxies, second_visitor", [(0, 429), (1, 200)])
def test_behind_a_trusted_proxy_each_visitor_has_their_own_limit(tmp_path, data_dir, proxies, second_visitor):
    """Every request reaches the app from the proxy's address; only when the proxy is declared
    are its X-Forwarded-For headers believed (never by default: a client could claim any address)."""
    app = create_app(Settings(home=tmp_path, data_dir=data_dir, cache_url="simple", shorten_rate=1,
                              trusted_proxies=proxies))
    client = app.server.test_client()
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    first = client.get("/api/shorten", query_string={"target": "/map?layer=a"}, environ_base=proxy,
                       headers={"X-Forwarded-For": "203.0.113.7"})
    assert first.status_code == 200
    second = client.get("/api/shorten", query_string={"target": "/map?layer=b"}, environ_base=proxy,
                        headers={"X-Forwarded-For": "203.0.113.8"})
    assert second.status_code == second_visitor
