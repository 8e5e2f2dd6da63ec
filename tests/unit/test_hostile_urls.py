"""Bad-input corpus, network side (issue 13 items 1, 6, 8): parser-differential URLs, redirects,
addresses that resolve inside, slow servers and crafted catalogues.

The server on 127.0.0.1 plays the private address an attacker aims at: with the default settings
(private addresses refused) it must never be reached, and each refusal says why.
"""

from __future__ import annotations

import json
import re
import socket

import pytest
import requests

from explorer.guards import netguard
from explorer.data.download import DownloadDeadline, DownloadError, DownloadRefused, download
from explorer.catalogue.harvest import HarvestError, harvest
from explorer.catalogue.harvest.sources import fetch_bytes
from explorer.guards.netguard import GuardedSession, UnsafeURLError, check_url
from explorer.catalogue.registry import Registry
from explorer.settings import Settings

from ..hostile import GOOD_CSV, trickle


@pytest.fixture
def server(local_server):
    local_server.add("/secret.csv", (200, {}, b"password,hash\nroot,x\n"))
    return local_server


@pytest.fixture
def registry(tmp_path):
    reg = Registry(tmp_path / "registry.sqlite3")
    yield reg
    reg.close()


def differential_urls(port: int) -> list[tuple[str, str]]:
    """(URL, words the refusal must contain): each aims at 127.0.0.1:port behind another host."""
    return [
        (f"http://127.0.0.1:{port}\\@example.com/../secret.csv", "backslash"),
        (f"http://example.com\\@127.0.0.1:{port}/secret.csv", "backslash"),
        (f"http://example.com@127.0.0.1:{port}/secret.csv", "user name or password"),
        (f"http://user:pw@127.0.0.1:{port}/secret.csv", "user name or password"),
        (f"http://127.0.0.1:{port}%2F@example.com/secret.csv", "'@'"),
        (f"http://127.0.0.1:{port} @example.com/secret.csv", "space"),
        (f"http://127.0.0.1:{port}\t/secret.csv", "U+0009"),
        (f"http://127.0.0.1:{port}\r\n/secret.csv", "U+000D"),
        (f"http://[127.0.0.1:{port}/secret.csv", "malformed"),
        (f"http://127.0.0.1]:{port}/secret.csv", "malformed"),
        (f"http://[::1]x:{port}/secret.csv", "brackets"),
        (f"http://127.1:{port}/secret.csv", "numeric host"),
        (f"http://2130706433:{port}/secret.csv", "numeric host"),
        (f"http://0x7f.0.0.1:{port}/secret.csv", "numeric host"),
        (f"http://0177.0.0.1:{port}/secret.csv", "numeric host"),
        (f"http://exa%6dple.com@127.0.0.1:{port}/secret.csv", "'@'"),
        (f"http://127.0.0.1:{port}\u3000/secret.csv", "U+3000"),
        (f"http:/127.0.0.1:{port}/secret.csv", "'//'"),
        (f"file:///etc/passwd", "only http and https"),
    ]


def test_parser_differential_urls_are_refused_with_a_reason_and_never_reached(server, tmp_path):
    for url, words in differential_urls(server.port):
        with pytest.raises(UnsafeURLError, match=re.escape(words)):
            check_url(url, resolve=False)
        # refused even where private addresses are allowed: the form itself is the problem
        if "numeric" not in words:
            with pytest.raises(UnsafeURLError):
                check_url(url, allow_private=True, resolve=False)
        with pytest.raises(DownloadRefused):
            download(url, tmp_path / "x.csv", progress=False, retries=1)
    assert server.total == 0
    assert not (tmp_path / "x.csv").exists()


def test_a_plain_public_url_still_passes():
    assert check_url("https://data.london.gov.uk/download/x/y.csv?v=2#top", resolve=False)
    assert check_url("http://[2a00:1450:4009:81f::200e]:8080/x.csv", resolve=False)
    assert check_url("https://münchen.example/x.csv", resolve=False)


def test_the_socket_is_checked_where_it_actually_connects(server):
    # A name that the string check cannot judge (no DNS lookup at send time) but that connects
    # to loopback is stopped by the connection itself, after DNS: the server sees nothing.
    with GuardedSession(allow_private=False, retries=1) as session:
        pool = session.get_adapter("http://x/").poolmanager.connection_from_host(
            "127.0.0.1", server.port, scheme="http")
        with pytest.raises(UnsafeURLError, match="connects to 127.0.0.1, a private or loopback"):
            pool.urlopen("GET", "/secret.csv", retries=False)
    assert server.total == 0


def test_a_name_resolving_to_this_machine_is_refused(server, tmp_path):
    host = socket.gethostname()
    with pytest.raises(DownloadRefused, match="private|local machine"):
        download(f"http://{host}:{server.port}/secret.csv", tmp_path / "x.csv", progress=False)
    with pytest.raises(DownloadRefused, match="private|local machine"):
        download(f"http://localhost:{server.port}/secret.csv", tmp_path / "x.csv", progress=False)
    assert server.total == 0


@pytest.mark.parametrize("location", [
    "http://127.0.0.1:{port}\\@example.com/secret.csv",
    "http://example.com@127.0.0.1:{port}/secret.csv",
    "/\\127.0.0.1:{port}/secret.csv",
    "file:///etc/passwd",
    "http://[::1/secret.csv",
])
def test_redirects_to_parser_differential_locations_are_refused(server, tmp_path, location):
    start = server.add("/start.csv", (302, {"Location": location.format(port=server.port)}, b""))
    with pytest.raises(DownloadRefused, match="refused"):
        download(start, tmp_path / "x.csv", allow_private=True, progress=False, retries=1)
    settings = Settings(home=tmp_path / "home", allow_private_urls=True, http_retries=1)
    with pytest.raises(HarvestError, match="refused|URL"):
        fetch_bytes(start, settings)
    assert server.hits["/secret.csv"] == 0 and server.hits["/start.csv"] == 2


def test_the_session_itself_refuses_a_redirect_it_would_follow(server):
    start = server.add("/r", (302, {"Location": f"http://user@127.0.0.1:{server.port}/secret.csv"}, b""))
    with GuardedSession(allow_private=True, retries=1) as session, \
            pytest.raises(UnsafeURLError, match="user name or password"):
        session.get(start, timeout=5)
    assert server.hits["/secret.csv"] == 0


def test_proxies_from_the_environment_are_not_used(server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://203.0.113.9:3128")
    with GuardedSession(allow_private=True, retries=1) as session:
        assert session.get(server.url("/secret.csv"), timeout=5).status_code == 200


def test_a_server_sending_one_byte_a_second_is_stopped_by_the_deadline(server, tmp_path):
    url = server.add("/slow.csv", trickle(GOOD_CSV, every=0.3))
    # The idle timeout alone (3 s) would never fire: a byte comes every 0.3 s.
    with pytest.raises(DownloadDeadline, match="EXPLORER_DOWNLOAD_DEADLINE"):
        download(url, tmp_path / "slow.csv", allow_private=True, timeout=3, deadline=1.0,
                 progress=False)
    assert not (tmp_path / "slow.csv").exists()
    assert [p.name for p in tmp_path.iterdir()] == []
    settings = Settings(home=tmp_path / "home", allow_private_urls=True, http_timeout=3,
                        download_deadline=1.0)
    with pytest.raises(HarvestError, match="EXPLORER_DOWNLOAD_DEADLINE"):
        fetch_bytes(url, settings)


def test_slow_headers_are_stopped_by_the_deadline_too(server, tmp_path):
    def dribble(handler):
        try:
            for ch in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200:
                handler.wfile.write(bytes([ch]))
                handler.wfile.flush()
                __import__("time").sleep(0.2)
        except OSError:
            pass
    url = server.add("/headers.csv", dribble)
    with pytest.raises(DownloadDeadline):
        download(url, tmp_path / "h.csv", allow_private=True, timeout=3, deadline=1.0,
                 progress=False, retries=1)


def test_retry_after_cannot_hold_past_the_deadline(server, tmp_path):
    url = server.add("/busy.csv", (503, {"Retry-After": "3600"}, b"busy"))
    with pytest.raises(DownloadError) as info:
        download(url, tmp_path / "b.csv", allow_private=True, deadline=2.0, retries=3,
                 progress=False)
    assert "EXPLORER_DOWNLOAD_DEADLINE" in str(info.value) or "HTTP 503" in str(info.value)
    assert server.hits["/busy.csv"] == 1          # it did not wait an hour to ask again


# Catalogues -------------------------------------------------------------------------------------
BAD_URLS = ["http://[::1/x.csv", "http://127.0.0.1\\@example.com/x.csv", "http://a@b@example.com/",
            "http://example.com:99999/x.csv", "http://exa mple.com/x.csv", "ht!tp://x/"]


def _lds(urls):
    return [{"id": f"ds-{i}", "title": f"Dataset {i}", "sharing": "public",
             "resources": [{"id": "r1", "title": "file", "url": url}]} for i, url in enumerate(urls)]


def _ckan(urls):
    return {"success": True, "result": {"count": len(urls), "results": [
        {"name": f"pkg-{i}", "title": f"Package {i}", "license_id": "OGL-UK-3.0",
         "resources": [{"id": f"res-{i}", "name": "file", "url": url, "format": "CSV"}]}
        for i, url in enumerate(urls)]}}


def _dcat(urls):
    return {"@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/"},
            "@type": "dcat:Catalog", "dcat:dataset": [
                {"@type": "dcat:Dataset", "dct:identifier": f"ds-{i}", "dct:title": f"Dataset {i}",
                 "dcat:distribution": [{"@type": "dcat:Distribution", "dct:title": "file",
                                        "dcat:downloadURL": {"@id": url}}]}
                for i, url in enumerate(urls)]}


def _bundled(urls):
    return {"catalogue": {"title": "Mine"}, "datasets": [
        {"id": f"ds-{i}", "title": f"Dataset {i}", "resources": [{"id": "r1", "url": url}]}
        for i, url in enumerate(urls)]}


def _jkan(urls):
    return {"dataset": [{"identifier": f"ds-{i}", "title": f"Dataset {i}",
                         "distribution": [{"title": "file", "downloadURL": url}]}
                        for i, url in enumerate(urls)]}


@pytest.mark.parametrize("kind,build", [("lds", _lds), ("ckan", _ckan), ("dcat", _dcat),
                                        ("bundled", _bundled), ("jkan", _jkan)])
def test_a_bad_resource_url_rejects_its_entry_never_the_catalogue(tmp_path, registry, kind, build):
    good = "https://data.london.gov.uk/download/good/file.csv"
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(build([good, *BAD_URLS, good.replace("good", "good2")])), "utf-8")
    report = harvest(str(path), registry, Settings(home=tmp_path / "home"), kind=kind)
    assert len(report.added) == 2, report.summary()
    assert len(report.rejected) == len(BAD_URLS)
    for rejection in report.rejected:
        assert "url" in rejection.field.lower() or rejection.field == "resources", rejection
        assert rejection.reason
    reasons = " ".join(r.reason for r in report.rejected)
    assert "malformed" in reasons and "backslash" in reasons and "'@'" in reasons
    assert registry.count() == 2


def test_harvest_source_with_a_parser_differential_url_is_refused(server, tmp_path, registry):
    url = f"http://127.0.0.1:{server.port}\\@example.com/secret.csv"
    with pytest.raises(HarvestError, match="backslash"):
        harvest(url, registry, Settings(home=tmp_path / "home"), kind="lds")
    assert server.total == 0


def test_tile_fetches_go_through_the_guard(server, tmp_path):
    from explorer.export import tiles

    template = f"http://user@127.0.0.1:{server.port}/{{z}}/{{x}}/{{y}}.png"
    with pytest.raises(tiles.TileFailure, match="refused"):
        tiles.fetch_mosaic(template, (-20000, 6700000, 10000, 6720000), 400, tmp_path / "tiles",
                           allow_private=True)
    slow = server.add("/0/0/0.png", trickle(b"x" * 200, every=0.3))
    assert slow
    with pytest.raises(tiles.TileFailure, match="longer than|did not answer"):
        tiles.fetch_mosaic(server.url("/{z}/{x}/{y}.png"), (-2e7, -2e7, 2e7, 2e7), 10,
                           tmp_path / "tiles2", allow_private=True, timeout=3, budget=1.0)
    assert server.hits["/secret.csv"] == 0


def test_deadline_nesting_keeps_the_shorter_one():
    with netguard.deadline(100):
        with netguard.deadline(1):
            assert netguard.remaining() <= 1
        assert netguard.remaining() > 50
    assert netguard.remaining() is None


def test_requests_outside_the_guard_are_not_possible_through_download(tmp_path):
    with pytest.raises(TypeError, match="GuardedSession"):
        download("https://example.org/x.csv", tmp_path / "x", session=requests.Session())


def test_a_catalogue_nested_too_deeply_is_a_harvest_error(tmp_path, registry):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, "utf-8")
    with pytest.raises(HarvestError, match="nested too deeply"):
        harvest(str(path), registry, Settings(home=tmp_path / "home"))
