"""Builders for the bad-input corpus (issue 13): scripted responses and crafted files.

Everything is made by the tests themselves in ``tmp_path``: no hostile file is stored in the
repository. The responses here are for the one local HTTP server (``tests/local_http.py``).
"""

from __future__ import annotations

import gzip
import io
import time
import zipfile
from pathlib import Path

GOOD_CSV = b"LSOA21CD,value\n" + b"".join(b"E0100%04d,%d\n" % (i, i * 7) for i in range(400))
HTML_ERROR = (b"<!DOCTYPE HTML>\n<html><head><title>Service unavailable</title></head>"
              b"<body><h1>Sorry</h1><p>We are down for maintenance.</p></body></html>\n" * 3)


def trickle(body: bytes = GOOD_CSV, every: float = 1.0):
    """A response that announces the whole body and sends one byte per ``every`` seconds."""
    def respond(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            for i in range(len(body)):
                handler.wfile.write(body[i:i + 1])
                handler.wfile.flush()
                time.sleep(every)
        except OSError:
            pass
    return respond


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buffer.getvalue()


def zeros_zip(name: str, size: int) -> bytes:
    """A zip whose one member is ``size`` zero bytes (compresses about 1000:1)."""
    buffer = io.BytesIO()
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open(info, "w", force_zip64=True) as fh:
            block = b"0" * (1 << 20)
            for _ in range(size >> 20):
                fh.write(block)
    return buffer.getvalue()


def gzip_zeros(size: int) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as gz:
        block = b"0," * (1 << 19)
        for _ in range(size >> 20):
            gz.write(block)
    return buffer.getvalue()


def vrt(source: str, layer: str = "stolen") -> str:
    """A GDAL virtual dataset reading ``source`` (a file, or a /vsicurl/ URL)."""
    return (f'<OGRVRTDataSource><OGRVRTLayer name="{layer}"><SrcDataSource>{source}'
            f'</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>\n')


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path
