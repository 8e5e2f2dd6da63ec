"""Bad-input corpus, lying and slow sources (issue 13 items 6, 7): a refresh that brings back an
HTML page with status 200, a truncated zip, a bomb, broken JSON, a VRT, or never finishes must keep
the last good copy, and the source card must say since when and why it could not refresh."""

from __future__ import annotations

import json

import pytest

from explorer.catalogue.models import Entry, Resource
from explorer.data.provenance import read_provenance
from explorer.data.resolver import ResolveError, Resolver
from explorer.settings import Settings

from ..hostile import GOOD_CSV, HTML_ERROR, trickle, vrt, zeros_zip, zip_bytes
from ..local_http import local_server as server  # noqa: F401 - the one local HTTP server, as `server`

GOOD_ZIP = zip_bytes({"data/london.csv": GOOD_CSV})
GOOD_JSON = json.dumps([{"code": "E09000001", "value": 1}, {"code": "E09000002", "value": 2}]).encode()
GOOD_GEOJSON = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"n": 1}, "geometry": {"type": "Point", "coordinates": [-0.1, 51.5]}}]}).encode()




def settings_for(tmp_path, **kw) -> Settings:
    values = dict(home=tmp_path / "home", allow_private_urls=True, http_retries=1,
                  http_timeout=3, download_deadline=30)
    values.update(kw)
    return Settings(**values)


def card_text(provenance) -> str:
    from layouts.components import source_card

    entry = Entry(id="ds", title="Data")
    return json.dumps(source_card(entry, provenance.to_dict()).to_plotly_json(),
                      default=lambda c: c.to_plotly_json())


# (file name, format, good bytes, bad response, words in the error, words on the card)
CASES = [
    ("data.csv", "csv", GOOD_CSV, (200, {"Content-Type": "text/html"}, HTML_ERROR),
     "web page (HTML)", "sent a web page instead of the data"),
    ("data.csv", "csv", GOOD_CSV, (200, {}, b"<html><body>Please log in</body></html>\n"),
     "web page (HTML)", "sent a web page instead of the data"),
    ("pack.zip", "zip", GOOD_ZIP, (200, {}, GOOD_ZIP[: len(GOOD_ZIP) // 2]),
     "not a readable zip", "damaged or incomplete archive"),
    ("pack.zip", "zip", GOOD_ZIP, (200, {}, zeros_zip("data/london.csv", 64 << 20)),
     "decompression bomb", "far more data than allowed"),
    ("data.json", "json", GOOD_JSON, (200, {}, GOOD_JSON[:-10]),
     "not valid JSON", "cannot be read as the data"),
    ("sites.geojson", "geojson", GOOD_GEOJSON, (200, {}, vrt("CSV:/etc/passwd").encode()),
     "VRT", "cannot be read as the data"),
    ("sites.geojson", "geojson", GOOD_GEOJSON, (200, {}, HTML_ERROR),
     "web page (HTML)", "sent a web page instead of the data"),
]


@pytest.mark.parametrize("name,fmt,good,bad,error,card", CASES)
def test_a_lying_refresh_keeps_the_last_good_copy(tmp_path, server, monkeypatch, name, fmt, good,
                                                  bad, error, card):
    monkeypatch.setenv("EXPLORER_MAX_DOWNLOAD_BYTES", str(20 << 20))
    url = server.add(f"/{name}", (200, {}, good))
    settings = settings_for(tmp_path, max_download_bytes=20 << 20)
    entry = Entry(id="ds", title="Data", resources=[Resource(id="r1", url=url, format=fmt)])
    first = Resolver(settings, progress=False).resolve(entry)
    kept = first.path.read_bytes()
    folder = first.path.parent

    # The source starts lying: a forced refresh fails with the reason, and nothing stored is lost.
    server.add(f"/{name}", bad)
    with pytest.raises(ResolveError) as info:
        Resolver(settings, progress=False).fetch(entry, force=True)
    assert error in str(info.value), str(info.value)
    assert first.path.read_bytes() == kept
    again = Resolver(settings, progress=False).resolve(entry)
    assert again.origin == "store" and again.path.read_bytes() == kept
    on_disk = read_provenance(folder)
    assert on_disk.refresh_failed_at and error in on_disk.refresh_error
    since = on_disk.refresh_failed_at[:16].replace("T", " ")
    text = card_text(on_disk)
    assert f"could not refresh since {since} (" in text and f"{card}); this is the last" in text, text

    # The registry moves to a new address that lies the same way: the last copy is still served.
    moved = server.add(f"/v2/{name}", bad)
    newer = Entry(id="ds", title="Data", resources=[Resource(id="r1", url=moved, format=fmt)])
    served = Resolver(settings, progress=False).resolve(newer)
    assert served.path.read_bytes() == kept and served.provenance.refresh_failed_at


def test_a_refresh_from_a_server_trickling_bytes_ends_at_the_deadline_and_keeps_the_copy(tmp_path, server):
    url = server.add("/data.csv", (200, {}, GOOD_CSV))
    settings = settings_for(tmp_path, download_deadline=1.0)
    entry = Entry(id="ds", title="Data", resources=[Resource(id="r1", url=url, format="csv")])
    first = Resolver(settings, progress=False).resolve(entry)
    server.add("/data.csv", trickle(GOOD_CSV, every=0.25))
    with pytest.raises(ResolveError, match="EXPLORER_DOWNLOAD_DEADLINE"):
        Resolver(settings, progress=False).fetch(entry, force=True)
    assert first.path.read_bytes() == GOOD_CSV
    on_disk = read_provenance(first.path.parent)
    assert "took too long" in card_text(on_disk)


def test_a_good_refresh_still_replaces_the_copy_and_clears_the_failure(tmp_path, server):
    url = server.add("/data.csv", (200, {}, GOOD_CSV))
    settings = settings_for(tmp_path)
    entry = Entry(id="ds", title="Data", resources=[Resource(id="r1", url=url, format="csv")])
    Resolver(settings, progress=False).resolve(entry)
    server.add("/data.csv", (200, {}, HTML_ERROR))
    with pytest.raises(ResolveError):
        Resolver(settings, progress=False).fetch(entry, force=True)
    newer = GOOD_CSV + b"E01009999,1\n"
    server.add("/data.csv", (200, {}, newer))
    got = Resolver(settings, progress=False).fetch(entry, force=True)
    assert got.path.read_bytes() == newer and got.provenance.refresh_failed_at is None
    assert "could not refresh" not in card_text(got.provenance)


def test_the_theme_page_source_card_gives_the_same_reason_as_the_dataset_page():
    """Both source cards say why a refresh failed, in the same words (layouts.components.refresh_note)."""
    from explorer.data.resolver import refresh_summary
    from layouts.components import source_card
    from layouts.theme_page import source_block

    error = "ds/r1: HTTP 503 Service Unavailable (gave up after 3 attempt(s))"
    provenance = {"origin": "store", "retrieved_at": "2026-11-01T08:00:00+00:00",
                  "refresh_failed_at": "2026-12-01T09:30:00+00:00", "refresh_error": error}
    entry = Entry(id="ds", title="Data")
    sentence = (f"could not refresh since 2026-12-01 09:30 ({refresh_summary(error)}); "
                "this is the last stored copy")

    def text(component) -> str:
        return json.dumps(component.to_plotly_json(), default=lambda c: c.to_plotly_json())

    dataset_card = text(source_card(entry, provenance))
    theme_card = text(source_block({"dataset_id": "ds", "provenance": provenance}, entry, many=False))
    assert refresh_summary(error) != "reason not recorded"
    assert sentence in dataset_card and sentence in theme_card, theme_card
    assert error in theme_card                   # the recorded error one hover away
