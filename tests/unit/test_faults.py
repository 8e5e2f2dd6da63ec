"""Faults: a source that cannot be refreshed (the last stored copy is served and says so), and a
process killed while it writes into the store (the half-written copy is never read as valid).

Sources are a local HTTP server on 127.0.0.1 that serves, then fails or goes away.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from explorer.catalogue.models import Entry
from explorer.data.provenance import read_provenance
from explorer.data.resolver import ResolveError, Resolver
from explorer.settings import Settings

from ..local_http import local_server as source  # noqa: F401 - the one local HTTP server, a publisher's

REPO = Path(__file__).resolve().parents[2]
V1 = b"LSOA21CD,value\n" + b"".join(b"E0100%04d,%d\n" % (i, i) for i in range(500))
V2 = V1.replace(b",1\n", b",100\n")


def trickled(body: bytes):
    """A response sent 4 KB at a time at ~100 KB/s: a download is killed long before its end."""
    def respond(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for i in range(0, len(body), 4096):
            try:
                handler.wfile.write(body[i:i + 4096])
                handler.wfile.flush()
            except OSError:
                return
            time.sleep(0.04)
    return respond


@pytest.fixture
def settings(tmp_path):
    return Settings(home=tmp_path / "home", data_dir=tmp_path / "nodata", allow_private_urls=True,
                    http_timeout=2, http_retries=2, harvest_bundled=False)


def entry(url: str, checksum: str | None = None) -> Entry:
    resource = {"id": "no2", "url": url, "format": "csv"}
    if checksum:
        resource["checksum"] = checksum
    return Entry.from_dict({"id": "laei-test", "title": "LAEI test", "publisher": "GLA",
                            "licence": "OGL v3", "resources": [resource]})


def resolver(settings) -> Resolver:
    return Resolver(settings, progress=False, backoff=0.01)


def card_text(component) -> str:
    return json.dumps(component.to_plotly_json(), default=lambda c: c.to_plotly_json())


# A source that cannot be refreshed ---------------------------------------------------------------
def test_new_version_unreachable_serves_the_last_stored_copy_and_says_since_when(settings, source):
    from layouts.components import source_card

    source.add("/2019/no2.csv", (200, V1))
    first = resolver(settings).resolve(entry(source.url("/2019/no2.csv")))
    assert first.origin == "download" and first.provenance.refresh_failed_at is None

    # The registry now names the publisher's new file; the publisher's server answers 503.
    source.add("/2020/no2.csv", (503, b"maintenance"))
    newer = entry(source.url("/2020/no2.csv"))
    got = resolver(settings).resolve(newer)
    assert got.origin == "store" and got.path.read_bytes() == V1
    assert got.provenance.sha256 == hashlib.sha256(V1).hexdigest()
    assert got.provenance.refresh_failed_at and "HTTP 503" in got.provenance.refresh_error
    since = got.provenance.refresh_failed_at
    folder = settings.store_dir / "laei-test" / "no2"
    on_disk = read_provenance(folder)
    assert on_disk.refresh_failed_at == since and on_disk.source_url.endswith("/2019/no2.csv")

    # The source card says it.
    card = card_text(source_card(newer, got.provenance.to_dict()))
    assert f"could not refresh since {since[:16].replace('T', ' ')}" in card
    assert "could not refresh" not in card_text(source_card(newer, first.provenance.to_dict()))

    # Still failing later (the server is gone now): still served, still "since" the first failure.
    source.close()
    time.sleep(1.1)
    again = resolver(settings).resolve(newer)
    assert again.origin == "store" and again.provenance.refresh_failed_at == since
    assert again.provenance.refresh_error != got.provenance.refresh_error  # refused, not a 503


def test_the_mark_goes_when_a_refresh_succeeds(settings, source):
    source.add("/v1.csv", (200, V1))
    resolver(settings).resolve(entry(source.url("/v1.csv")))
    source.add("/v2.csv", (500, b"boom"))
    assert resolver(settings).resolve(entry(source.url("/v2.csv"))).provenance.refresh_failed_at
    source.add("/v2.csv", (200, V2))
    fresh = resolver(settings).resolve(entry(source.url("/v2.csv")))
    assert fresh.origin == "download" and fresh.path.read_bytes() == V2
    assert fresh.provenance.refresh_failed_at is None and fresh.provenance.refresh_error is None
    assert read_provenance(settings.store_dir / "laei-test" / "no2").refresh_failed_at is None


def test_a_forced_refresh_that_fails_is_reported_and_marks_the_copy_kept(settings, source):
    e = entry(source.url("/no2.csv"))
    source.add("/no2.csv", (200, V1))
    r = resolver(settings)
    r.resolve(e)
    source.add("/no2.csv", (502, b"bad gateway"))
    with pytest.raises(ResolveError, match="HTTP 502"):
        r.fetch(e, force=True)
    kept = r.resolve(e)
    assert kept.origin == "store" and kept.path.read_bytes() == V1
    assert kept.provenance.refresh_failed_at and "HTTP 502" in kept.provenance.refresh_error


def test_new_checksum_with_the_old_file_still_served_keeps_the_verified_copy(settings, source):
    source.add("/no2.csv", (200, V1))
    resolver(settings).resolve(entry(source.url("/no2.csv"), f"sha256:{hashlib.sha256(V1).hexdigest()}"))
    # The registry expects new bytes, the publisher still serves the old: not a valid refresh.
    got = resolver(settings).resolve(entry(source.url("/no2.csv"),
                                           f"sha256:{hashlib.sha256(V2).hexdigest()}"))
    assert got.origin == "store" and got.path.read_bytes() == V1
    assert "checksum" in got.provenance.refresh_error.lower() or "sha256" in got.provenance.refresh_error


def test_no_stored_copy_and_no_source_is_still_an_error(settings, source):
    source.add("/gone.csv", (404, b""))
    with pytest.raises(ResolveError, match="HTTP 404"):
        resolver(settings).resolve(entry(source.url("/gone.csv")))


def test_offline_does_not_pass_off_an_out_of_date_copy(settings, source):
    source.add("/v1.csv", (200, V1))
    resolver(settings).resolve(entry(source.url("/v1.csv")))
    with pytest.raises(ResolveError, match="out of date"):
        resolver(settings.with_(offline=True)).resolve(entry(source.url("/v2.csv")))


def test_damaged_last_copy_is_not_served_when_the_refresh_fails(settings, source):
    source.add("/v1.csv", (200, V1))
    resolver(settings).resolve(entry(source.url("/v1.csv")))
    data_file = settings.store_dir / "laei-test" / "no2" / "v1.csv"
    data_file.write_bytes(V1[: len(V1) // 2])
    source.add("/v2.csv", (503, b""))
    with pytest.raises(ResolveError, match="HTTP 503"):
        resolver(settings).resolve(entry(source.url("/v2.csv")))


# A process killed while it writes ----------------------------------------------------------------
KILLED_FETCH = textwrap.dedent("""
    import sys
    from explorer.catalogue.models import Entry
    from explorer.data.resolver import Resolver
    from explorer.settings import Settings
    home, url = sys.argv[1:3]
    settings = Settings(home=home, allow_private_urls=True, http_timeout=30, http_retries=1,
                        harvest_bundled=False)
    entry = Entry.from_dict({"id": "laei-test", "title": "LAEI test", "publisher": "GLA",
                             "licence": "OGL v3",
                             "resources": [{"id": "no2", "url": url, "format": "csv"}]})
    Resolver(settings, progress=False).fetch(entry, force=True)
    print("finished")
""")


def _kill_mid_download(settings, url: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", KILLED_FETCH, str(settings.home), url],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        parent = settings.store_dir / "laei-test"
        deadline = time.monotonic() + 20
        partial = None
        while time.monotonic() < deadline and partial is None:
            for path in parent.glob(".no2.staging-*/*") if parent.is_dir() else []:
                if path.stat().st_size > 20_000:
                    partial = path
            time.sleep(0.02)
        assert partial is not None, "the download never started writing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL
        assert b"finished" not in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_killed_while_downloading_leaves_nothing_that_reads_as_valid(settings, source):
    big = V1 * 200  # ~2.5 MB, trickled
    source.add("/big.csv", trickled(big))
    _kill_mid_download(settings, source.url("/big.csv"))
    e = entry(source.url("/big.csv"))
    offline = resolver(settings.with_(offline=True))
    with pytest.raises(ResolveError, match="not in the store"):
        offline.resolve(e)
    assert offline.where(e)["store"]["ok"] is False
    # The next process downloads it whole, past the abandoned staging folder.
    source.add("/big.csv", (200, big))
    got = resolver(settings).resolve(e)
    assert got.origin == "download" and got.path.read_bytes() == big


def test_killed_while_refreshing_keeps_the_previous_copy_intact(settings, source):
    source.add("/no2.csv", (200, V1))
    e = entry(source.url("/no2.csv"))
    resolver(settings).resolve(e)
    source.add("/no2.csv", trickled(V2 * 200))
    _kill_mid_download(settings, source.url("/no2.csv"))
    kept = resolver(settings.with_(offline=True)).resolve(e)
    assert kept.origin == "store" and kept.path.read_bytes() == V1
    assert kept.provenance.sha256 == hashlib.sha256(V1).hexdigest()
