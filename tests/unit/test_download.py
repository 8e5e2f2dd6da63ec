"""Streaming downloads against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import explorer.data.download as dl
from explorer.data.download import (
    ChecksumMismatch,
    DownloadError,
    DownloadRefused,
    DownloadTooLarge,
    download,
    parse_checksum,
)
from explorer.guards.netguard import UnsafeURLError

from ..local_http import LocalServer
from ..local_http import local_server as server  # noqa: F401 - the one local HTTP server, as `server`

BODY = b"LSOA21CD,value\n" + b"".join(b"E0100%04d,%d\n" % (i, i * 7) for i in range(3000))
SHA = hashlib.sha256(BODY).hexdigest()
MD5 = hashlib.md5(BODY).hexdigest()


def truncated(handler):
    """Announce 1000 bytes, send 100, close the connection."""
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler.wfile.write(b"x" * 100)
    handler.wfile.flush()
    handler.close_connection = True


def no_length(body: bytes):
    def respond(handler):
        handler.send_response(200)
        handler.end_headers()  # HTTP/1.0, no Content-Length: the body ends when the socket closes
        handler.wfile.write(body)
        handler.close_connection = True
    return respond


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def get(url, dest, **kw):
    kw.setdefault("allow_private", True)
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 5)
    kw.setdefault("progress", False)
    return download(url, dest, **kw)


def test_download_streams_hashes_and_verifies(server, tmp_path):
    url = server.add("/data/x.csv", (200, {"Content-Type": "text/csv"}, BODY))
    result = get(url, tmp_path / "x.csv", expected_checksum=f"sha256:{SHA}", expected_size=len(BODY))
    assert (tmp_path / "x.csv").read_bytes() == BODY
    assert result.sha256 == SHA and result.size == len(BODY)
    assert result.checksum_verified == f"sha256:{SHA}"
    assert result.content_type == "text/csv" and result.attempts == 1
    assert leftovers(tmp_path) == ["x.csv"]
    # md5 as given by some catalogues is verified too.
    result = get(url, tmp_path / "y.csv", expected_checksum=f"md5:{MD5}")
    assert result.checksum_verified == f"md5:{MD5}"


@pytest.mark.parametrize("checksum", [f"sha256:{'0' * 64}", f"md5:{'0' * 32}"])
def test_checksum_mismatch_leaves_nothing(server, tmp_path, checksum):
    url = server.add("/x.csv", (200, {}, BODY))
    with pytest.raises(ChecksumMismatch, match="mismatch"):
        get(url, tmp_path / "x.csv", expected_checksum=checksum)
    assert leftovers(tmp_path) == []
    assert server.hits["/x.csv"] == 1  # not retried: the bytes are what the server has


def test_size_mismatch_with_registry_is_an_error(server, tmp_path):
    url = server.add("/x.csv", (200, {}, BODY))
    with pytest.raises(ChecksumMismatch, match="registry says 10"):
        get(url, tmp_path / "x.csv", expected_size=10)
    assert leftovers(tmp_path) == []


def test_truncated_body_is_an_error_after_retries_and_leaves_nothing(server, tmp_path):
    url = server.add("/cut.csv", truncated)
    with pytest.raises(DownloadError, match="after 100 of 1,000 bytes") as info:
        get(url, tmp_path / "cut.csv", retries=2)
    assert "2 attempt" in str(info.value)
    assert server.hits["/cut.csv"] == 2
    assert leftovers(tmp_path) == []


def test_server_error_then_success_is_retried(server, tmp_path):
    url = server.add("/flaky.csv", (500, {}, b"oops"), (503, {}, b"busy"), (200, {}, BODY))
    result = get(url, tmp_path / "f.csv", retries=3, expected_checksum=SHA)
    assert result.attempts == 3 and server.hits["/flaky.csv"] == 3
    assert (tmp_path / "f.csv").read_bytes() == BODY


def test_server_error_gives_up_after_the_configured_attempts(server, tmp_path):
    url = server.add("/down.csv", (502, {}, b"bad gateway"))
    with pytest.raises(DownloadError, match="HTTP 502.*3 attempt"):
        get(url, tmp_path / "d.csv", retries=3)
    assert server.hits["/down.csv"] == 3


def test_client_error_is_not_retried(server, tmp_path):
    url = server.url("/missing.csv")
    with pytest.raises(DownloadError, match="HTTP 404"):
        get(url, tmp_path / "m.csv", retries=3)
    assert server.hits["/missing.csv"] == 1


def test_connection_refused_is_retried_then_reported(tmp_path):
    srv = LocalServer()
    url = srv.url("/gone.csv")
    srv.close()  # nothing listens on that port any more
    with pytest.raises(DownloadError, match="gone.csv.*2 attempt"):
        get(url, tmp_path / "g.csv", retries=2, timeout=2)
    assert leftovers(tmp_path) == []


def test_size_cap_on_content_length_aborts_before_reading(server, tmp_path):
    url = server.add("/big.csv", (200, {}, BODY))
    with pytest.raises(DownloadTooLarge, match="over the download limit"):
        get(url, tmp_path / "big.csv", max_bytes=1000)
    assert server.hits["/big.csv"] == 1 and leftovers(tmp_path) == []


def test_size_cap_on_streamed_bytes_without_content_length(server, tmp_path):
    url = server.add("/stream.csv", no_length(BODY))
    with pytest.raises(DownloadTooLarge, match="more than 1,000 bytes"):
        get(url, tmp_path / "s.csv", max_bytes=1000)
    assert leftovers(tmp_path) == []
    # The same body under a sufficient cap streams fine without a Content-Length.
    assert get(url, tmp_path / "s.csv", max_bytes=len(BODY)).sha256 == SHA


def test_private_url_refused_without_a_request(server, tmp_path):
    url = server.add("/x.csv", (200, {}, BODY))
    with pytest.raises(DownloadRefused, match="private or loopback"):
        get(url, tmp_path / "x.csv", allow_private=False)
    assert server.hits["/x.csv"] == 0 and leftovers(tmp_path) == []


def test_redirects_are_followed_and_each_hop_is_checked(server, tmp_path, monkeypatch):
    server.add("/old.csv", (302, {"Location": "/new.csv"}, b""))
    server.add("/new.csv", (200, {}, BODY))
    result = get(server.url("/old.csv"), tmp_path / "x.csv")
    assert result.url == server.url("/new.csv") and result.sha256 == SHA

    # A redirect to a refused address is caught, not followed.
    server.add("/sneaky.csv", (302, {"Location": "/secret"}, b""))
    real_check = dl.check_url

    def guard(url, allow_private=False, **kw):
        if url.endswith("/secret"):
            raise UnsafeURLError(f"{url!r}: internal")
        return real_check(url, allow_private=allow_private, **kw)

    monkeypatch.setattr(dl, "check_url", guard)
    with pytest.raises(DownloadRefused, match="internal"):
        get(server.url("/sneaky.csv"), tmp_path / "y.csv")
    assert server.hits["/secret"] == 0


def test_progress_bar_goes_to_stderr_only_when_asked(server, tmp_path, capsys):
    url = server.add("/x.csv", (200, {}, BODY))
    get(url, tmp_path / "a.csv", progress=False)
    assert capsys.readouterr().err == ""
    get(url, tmp_path / "b.csv", progress=True, label="demo")
    err = capsys.readouterr().err
    assert "demo" in err
    get(url, tmp_path / "c.csv", progress=None)  # auto: stderr is not a terminal under pytest
    assert capsys.readouterr().err == ""


def test_parse_checksum():
    assert parse_checksum("SHA256:" + "AB" * 32) == ("sha256", "ab" * 32)
    assert parse_checksum("ab" * 32) == ("sha256", "ab" * 32)
    assert parse_checksum("cd" * 16) == ("md5", "cd" * 16)
    for bad in ("crc32:1234", "sha256:xyz", "sha256:"):
        with pytest.raises(ValueError, match="not a checksum"):
            parse_checksum(bad)
