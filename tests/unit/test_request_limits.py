"""What one request may ask of the web side (issue 13, items 4 and 11): repeated and oversized query
parameters, Referers, forged Host headers, the server's folders in answers, and /assets/."""

from __future__ import annotations

import pytest

from explorer.web.app import create_app
from explorer.settings import Settings
from explorer.web.path_redaction import Redactor
from explorer.guards.request_limits import (MAX_FIELDS, MAX_FILTER_VALUES, MAX_QUERY_CHARS,
                                         MAX_VALUES_PER_NAME, QueryRefused, facet_filters,
                                         host_policy, normalised_query, parse_pairs, parse_query)

ROUTER = "..page-content.children...page-title.data...page-rendered.data.."


@pytest.fixture(scope="module")
def app(tmp_path_factory, data_dir):
    return create_app(Settings(home=tmp_path_factory.mktemp("limits-home"), data_dir=data_dir,
                               cache_url="simple", offline=True))


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


def route(client, pathname: str, search: str):
    body = {"output": ROUTER, "outputs": [{"id": "page-content", "property": "children"},
                                          {"id": "page-title", "property": "data"},
                                          {"id": "page-rendered", "property": "data"}],
            "inputs": [{"id": "url", "property": "pathname", "value": pathname},
                       {"id": "url", "property": "search", "value": search}],
            "state": [{"id": "page-rendered", "property": "data", "value": None}],
            "changedPropIds": ["url.search"]}
    return client.post("/_dash-update-component", json=body)


# The parser -----------------------------------------------------------------------------------------
def test_repeats_are_dropped_and_limits_named():
    assert parse_pairs("theme=x&theme=x&q=a+b&theme=y&theme=x") == [("theme", "x"), ("q", "a b"), ("theme", "y")]
    assert parse_query("?a=1&a=1&b=&c") == {"a": ["1"]}
    assert parse_query("b=&c", keep_blank_values=True) == {"b": [""], "c": [""]}
    # the kept parts byte for byte as sent
    assert normalised_query("layer=a%2Cb&view=1,2,3&layer=a%2Cb") == "layer=a%2Cb&view=1,2,3"
    assert normalised_query("theme=x&" * 900) == "theme=x"
    with pytest.raises(QueryRefused, match="at most 8,192"):
        parse_pairs("theme=x&" * (MAX_QUERY_CHARS // 8 + 1))
    with pytest.raises(QueryRefused, match="'highlight' more than 64 times"):
        parse_pairs("&".join(f"highlight=b{i}" for i in range(MAX_VALUES_PER_NAME + 1)))
    with pytest.raises(QueryRefused, match=f"more than {MAX_FIELDS}"):
        parse_pairs("&".join(f"k{i}=v" for i in range(MAX_FIELDS + 1)))
    assert len(parse_pairs("&".join(f"highlight=b{i}" for i in range(33)))) == 33  # every borough


def test_catalogue_filters_are_bounded():
    params = parse_query("&".join(f"theme=t{i}" for i in range(30)) + "&format=csv")
    filters, dropped = facet_filters(params, ["theme", "format"])
    assert sum(map(len, filters.values())) == MAX_FILTER_VALUES and dropped == 11
    assert filters["theme"][0] == "t0" and "format" not in filters


# Requests -------------------------------------------------------------------------------------------
def test_repeated_parameters_cost_no_more_than_one(client):
    one = client.get("/catalogue?theme=air-quality")
    many = client.get("/catalogue?" + "&".join(["theme=air-quality"] * 400))   # 7 KB of repeats
    assert one.status_code == many.status_code == 200
    assert many.data.count(b"theme=air-quality") == one.data.count(b"theme=air-quality")
    api_one = client.get("/api/datasets?theme=air-quality").get_json()
    api_many = client.get("/api/datasets?" + "&".join(["theme=air-quality"] * 400)).get_json()
    assert api_many == api_one and api_one["total"] > 0
    # the same through the router callback
    r_one, r_many = route(client, "/catalogue", "?theme=air-quality"), \
        route(client, "/catalogue", "?" + "&".join(["theme=air-quality"] * 400))
    assert r_one.status_code == r_many.status_code == 200 and len(r_one.data) == len(r_many.data)


@pytest.mark.parametrize("path", ["/catalogue", "/map", "/api/datasets", "/geo/london-boroughs.geojson",
                                  "/export/map.png", "/download/layer.zip", "/l/abcdefgh",
                                  "/api/shorten", "/_dash-layout", "/themes/air-quality"])
def test_oversized_queries_are_refused_on_every_route(client, path):
    response = client.get(path + "?" + "&".join(["theme=x"] * 3000))
    assert response.status_code == 400, response.data[:200]
    assert b"at most 8,192" in response.data and len(response.data) < 300
    too_many = client.get(path + "?" + "&".join(f"layer=d{i}" for i in range(MAX_VALUES_PER_NAME + 1)))
    assert too_many.status_code == 400 and b"more than 64 times" in too_many.data


def test_many_distinct_filters_draw_a_bounded_page(client):
    twenty = route(client, "/catalogue", "?" + "&".join(f"theme=t{i}" for i in range(MAX_FILTER_VALUES)))
    sixty = route(client, "/catalogue", "?" + "&".join(f"theme=t{i}" for i in range(60)))
    assert twenty.status_code == sixty.status_code == 200
    assert len(sixty.data) == len(twenty.data)  # the first 20 filters are used, whatever follows


def test_referers_that_cannot_be_read_serve_the_bare_frame(client):
    """/_dash-layout reads no Referer any more (the page comes with its layout,
    explorer/web/index_page.py): whatever it names, the answer is the bare frame, at once."""
    bare = client.get("/_dash-layout")
    for referer in ("http://[::1", "http://[::1/map", "http://localhost:99999/map",
                    "http://localhost/catalogue?" + "&".join(["theme=x"] * 3000), "x" * 100_000,
                    "http://localhost/catalogue?theme=air-quality"):
        response = client.get("/_dash-layout", headers={"Referer": referer})
        assert response.status_code == 200 and response.data == bare.data, referer[:40]
    # the index page reads its own query within the same bounds: repeats cost no more than one
    one = client.get("/catalogue?theme=air-quality")
    many = client.get("/catalogue?" + "&".join(["theme=air-quality"] * 400))
    assert one.status_code == many.status_code == 200
    assert len(one.data) - len(many.data) in range(-64, 65)   # the same page (its random ids aside)


# Host -------------------------------------------------------------------------------------------------
def test_a_forged_host_is_refused_when_no_public_url_is_set(client):
    for path in ("/api/shorten?target=/map", "/catalogue.jsonld", "/api/dcat", "/"):
        response = client.get(path, headers={"Host": "evil.example"})
        assert response.status_code == 400 and b"evil.example" not in response.data, path
    ok = client.get("/api/shorten?target=/map", headers={"Host": "127.0.0.1:8050"})
    assert ok.status_code == 200 and ok.get_json()["url"].startswith("http://127.0.0.1:8050/l/")
    assert client.get("/catalogue.jsonld").get_json()["@id"] == "http://localhost/catalogue.jsonld"
    assert client.get("/", headers={"Host": "[::1]:8050"}).status_code == 200


def test_allowed_hosts_and_public_url(tmp_path, data_dir):
    listed = create_app(Settings(home=tmp_path / "a", data_dir=data_dir, cache_url="simple",
                                 offline=True, allowed_hosts="data.example.org, .example.net"))
    c = listed.server.test_client()
    url = c.get("/api/shorten?target=/map", headers={"Host": "data.example.org"}).get_json()["url"]
    assert url.startswith("http://data.example.org/l/")
    assert c.get("/", headers={"Host": "maps.example.net"}).status_code == 200
    assert c.get("/", headers={"Host": "example.org"}).status_code == 400
    assert c.get("/", headers={"Host": "evil.example.net.attacker.org"}).status_code == 400

    public = create_app(Settings(home=tmp_path / "b", data_dir=data_dir, cache_url="simple", offline=True,
                                 public_url="https://data.example.london"))
    c = public.server.test_client()
    doc = c.get("/api/shorten?target=/map", headers={"Host": "evil.example"}).get_json()
    assert doc["url"].startswith("https://data.example.london/l/")
    dcat = c.get("/catalogue.jsonld", headers={"Host": "evil.example"})
    assert dcat.get_json()["@id"] == "https://data.example.london/catalogue.jsonld"
    assert b"evil.example" not in dcat.data


def test_host_policy():
    allowed = host_policy("data.example.org .example.net 10.0.0.5 ::1 0.0.0.0")
    assert all(allowed(h) for h in ("localhost", "127.0.0.1:8050", "127.3.4.5", "[::1]:80", "data.example.org:443",
                                    "a.example.net", "example.net", "10.0.0.5", "LOCALHOST"))
    assert not any(allowed(h) for h in ("evil.example", "10.0.0.6", "", "a b", "example.net.evil",
                                        "data.example.org@evil", "0.0.0.0", "[::2]"))


# Paths and assets --------------------------------------------------------------------------------------
def test_the_data_folder_path_is_never_shown(tmp_path, data_dir, client):
    assert str(data_dir).encode() not in client.get("/").data
    home = route(client, "/", "")
    assert home.status_code == 200 and str(data_dir).encode() not in home.data
    assert b"data folder" not in home.data and b"server" not in home.data     # no server internals at all

    secret = tmp_path / "secret-data-folder"
    (secret / "boundaries").mkdir(parents=True)
    (secret / "boundaries" / "London_Borough_Excluding_MHW.geojson").write_text("{not json")
    broken = create_app(Settings(home=tmp_path / "home", data_dir=secret, cache_url="simple", offline=True))
    c = broken.server.test_client()
    for url in ("/geo/london-boroughs/geojson.geojson", "/geo/london-boroughs.geojson",
                "/geo/london-boroughs.geojson?resource=gpkg", "/download/layer.zip?layer=london-boroughs"):
        response = c.get(url)
        assert response.status_code == 422, (url, response.data[:200])
        assert b"secret-data-folder" not in response.data and str(tmp_path).encode() not in response.data
        assert b"boundaries/London_Borough" in response.data  # still says which file


def test_redactor_keeps_other_paths():
    r = Redactor(__import__("pathlib").Path("/srv/data"), __import__("pathlib").Path("/srv/home"))
    assert r.text("file /srv/data/a/b.csv: bad") == "file a/b.csv: bad"
    assert r.text("no folder /srv/data.") == "no folder the local data folder."
    assert r.text("/srv/data2/x /srv/datax https://x.org/srv/data/y") == "/srv/data2/x /srv/datax https://x.org/srv/data/y"
    assert r.text('{"path": "/srv/home/store/x.zip"}') == '{"path": "store/x.zip"}'


def test_assets_serves_only_asset_types(client):
    assert client.get("/assets/__init__.py").status_code == 404
    assert client.get("/assets/__init__.pyc").status_code == 404
    assert client.get("/assets/__pycache__/x").status_code == 404
    assert client.get("/assets/explorer.css").status_code == 200
    assert client.get("/assets/first_view.js").status_code == 200
