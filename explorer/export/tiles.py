"""Basemap tiles for exported maps: which XYZ tiles cover an extent, fetched into a mosaic.

Given a Web Mercator (EPSG:3857) bounding box and the width in pixels it will be drawn at, a zoom
is chosen so one tile pixel is roughly one image pixel (lowered until at most ``MAX_TILES`` tiles
are needed). The tiles are read from a small on-disk cache (``EXPLORER_HOME/cache/tiles``) or
fetched in parallel threads, each with a short timeout and the whole fetch within a time budget.
Every tile URL's host passes :func:`explorer.guards.netguard.check_url` and every request goes through
the guarded session (the address each connection reaches is checked; each fetch ends with the
budget); redirects are not followed.

Any failure (a refused URL, a timeout, an HTTP error, a body that is not an image, the budget
spent) raises :class:`TileFailure` with a short reason: the caller draws its map without tiles.
After a failure the same template is not tried again for ``RETRY_AFTER`` seconds (tiles already
in the cache are still used), so a dead tile server costs one export its budget, not every export.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

WORLD = 2 * math.pi * 6378137.0      # width of the Web Mercator world in metres
TILE_PX = 256
MAX_ZOOM = 19
MAX_TILES = 64
TILE_TIMEOUT = 3.0                   # seconds to connect, and between bytes, for one tile
TOTAL_BUDGET = 8.0                   # seconds for all the tiles of one map
MAX_TILE_BYTES = 1 << 20
CACHE_DAYS = 30
WORKERS = 8
RETRY_AFTER = 60.0
SUBDOMAINS = "abc"

_failures: dict[str, tuple[float, str]] = {}
_failures_lock = threading.Lock()


class TileFailure(Exception):
    """The tiles could not be had; the message is a short reason for the footer."""


@dataclass
class Mosaic:
    """Tiles stitched together: RGB pixels and where they sit in Web Mercator metres."""
    pixels: np.ndarray       # (rows, cols, 3) uint8
    zoom: int
    left: float              # x of the mosaic's left edge
    top: float               # y of its top edge
    resolution: float        # metres per pixel
    fetched: int             # tiles that came from the network (the rest from the cache)


def tile_url(template: str, z: int, x: int, y: int) -> str:
    return (template.replace("{s}", SUBDOMAINS[(x + y) % len(SUBDOMAINS)]).replace("{z}", str(z))
            .replace("{x}", str(x)).replace("{y}", str(y)).replace("{r}", ""))


def tile_span(bounds, z: int) -> tuple[int, int, int, int]:
    """(first column, last column, first row, last row) of the zoom-``z`` tiles over ``bounds``
    = (left, bottom, right, top) in Web Mercator metres; rows count down from the top."""
    left, bottom, right, top = bounds
    n = 2 ** z
    size = WORLD / n

    def col(x):
        return min(n - 1, max(0, int(math.floor((x + WORLD / 2) / size))))

    def row(y):
        return min(n - 1, max(0, int(math.floor((WORLD / 2 - y) / size))))

    return col(left), col(right), row(top), row(bottom)


def tile_count(span) -> int:
    c0, c1, r0, r1 = span
    return (c1 - c0 + 1) * (r1 - r0 + 1)


def choose_zoom(bounds, pixels_wide: float, max_tiles: int = MAX_TILES) -> int:
    """The zoom whose tile pixels best match ``pixels_wide`` image pixels over ``bounds``."""
    left, _, right, _ = bounds
    wanted = max(right - left, 1.0) / max(pixels_wide, 1.0)          # metres per image pixel
    z = int(round(math.log2(WORLD / (TILE_PX * wanted))))
    z = min(MAX_ZOOM, max(0, z))
    while z > 0 and tile_count(tile_span(bounds, z)) > max_tiles:
        z -= 1
    return z


def cache_folder(cache_dir: Path, template: str) -> Path:
    return Path(cache_dir) / "tiles" / hashlib.sha256(template.encode("utf-8")).hexdigest()[:16]


def _decode(data: bytes):
    """The tile as a TILE_PX square RGB array, or None when the bytes are not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img = img.convert("RGB")
            if img.size != (TILE_PX, TILE_PX):
                img = img.resize((TILE_PX, TILE_PX), Image.BILINEAR)
            return np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def _read_cached(path: Path):
    try:
        if time.time() - path.stat().st_mtime > CACHE_DAYS * 86400:
            return None
        return _decode(path.read_bytes())
    except OSError:
        return None


def _write_cached(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}"
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        pass                      # a cache that cannot be written only costs a fetch next time


def _fetch(session, url: str, timeout: float, ends_at: float) -> bytes:
    import requests

    from explorer.guards.netguard import DeadlineExceeded, UnsafeURLError, deadline

    try:
        with deadline(max(ends_at - time.monotonic(), 0.001)), \
                session.get(url, stream=True, timeout=(timeout, timeout),
                            allow_redirects=False) as resp:
            if resp.status_code != 200:
                raise TileFailure(f"the tile server answered HTTP {resp.status_code}")
            body = bytearray()
            for chunk in resp.iter_content(1 << 15):
                body.extend(chunk)
                if len(body) > MAX_TILE_BYTES:
                    raise TileFailure("a tile was larger than 1 MB")
            return bytes(body)
    except DeadlineExceeded:
        raise TileFailure("the tiles took longer than their time budget") from None
    except UnsafeURLError as exc:
        raise TileFailure(f"the tile URL was refused: {exc}") from None
    except requests.Timeout:
        raise TileFailure(f"the tile server did not answer within {timeout:g} s") from None
    except requests.RequestException as exc:
        raise TileFailure(f"the tile server could not be reached ({type(exc).__name__})") from None


def _check_hosts(urls: list[str], allow_private: bool) -> None:
    from explorer.guards.netguard import UnsafeURLError, check_url

    checked: set[str] = set()
    for url in urls:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key in checked:
            continue
        checked.add(key)
        try:
            check_url(url, allow_private=allow_private)
        except UnsafeURLError as exc:
            raise TileFailure(f"the tile URL was refused: {exc}") from None


def recent_failure(template: str) -> str | None:
    with _failures_lock:
        seen = _failures.get(template)
    if seen and time.monotonic() - seen[0] < RETRY_AFTER:
        return seen[1]
    return None


def _remember_failure(template: str, reason: str) -> None:
    with _failures_lock:
        _failures[template] = (time.monotonic(), reason)


def fetch_mosaic(template: str, bounds, pixels_wide: float, cache_dir: Path, *,
                 allow_private: bool = False, timeout: float | None = None,
                 budget: float | None = None, max_tiles: int = MAX_TILES) -> Mosaic:
    """The tiles over ``bounds`` (left, bottom, right, top in EPSG:3857) as one mosaic.

    Raises :class:`TileFailure` when any tile cannot be had.
    """
    timeout = TILE_TIMEOUT if timeout is None else timeout
    budget = TOTAL_BUDGET if budget is None else budget
    z = choose_zoom(bounds, pixels_wide, max_tiles)
    c0, c1, r0, r1 = tile_span(bounds, z)
    folder = cache_folder(cache_dir, template)
    tiles: dict[tuple[int, int], np.ndarray] = {}
    missing: list[tuple[int, int]] = []
    for row in range(r0, r1 + 1):
        for col in range(c0, c1 + 1):
            cached = _read_cached(folder / str(z) / str(col) / f"{row}.tile")
            if cached is None:
                missing.append((col, row))
            else:
                tiles[(col, row)] = cached
    if missing:
        earlier = recent_failure(template)
        if earlier:
            raise TileFailure(f"{earlier} (not retried for {RETRY_AFTER:g} s)")
        try:
            tiles.update(_fetch_all(template, z, missing, folder, allow_private, timeout, budget))
        except TileFailure as exc:
            _remember_failure(template, str(exc))
            raise
    mosaic = np.empty(((r1 - r0 + 1) * TILE_PX, (c1 - c0 + 1) * TILE_PX, 3), dtype=np.uint8)
    for (col, row), pixels in tiles.items():
        top, left = (row - r0) * TILE_PX, (col - c0) * TILE_PX
        mosaic[top:top + TILE_PX, left:left + TILE_PX] = pixels
    size = WORLD / 2 ** z
    return Mosaic(pixels=mosaic, zoom=z, left=-WORLD / 2 + c0 * size, top=WORLD / 2 - r0 * size,
                  resolution=size / TILE_PX, fetched=len(missing))


def _fetch_all(template, z, wanted, folder, allow_private, timeout, budget) -> dict:
    from explorer.guards.netguard import GuardedSession

    urls = {(col, row): tile_url(template, z, col, row) for col, row in wanted}
    _check_hosts(list(urls.values()), allow_private)
    ends_at = time.monotonic() + budget
    session = GuardedSession(allow_private=allow_private, retries=1,
                             pool_size=min(WORKERS, len(wanted)))

    def one(key):
        data = _fetch(session, urls[key], timeout, ends_at)
        pixels = _decode(data)
        if pixels is None:
            raise TileFailure("the tile server sent something that is not an image")
        _write_cached(folder / str(z) / str(key[0]) / f"{key[1]}.tile", data)
        return key, pixels

    pool = ThreadPoolExecutor(max_workers=min(WORKERS, len(wanted)), thread_name_prefix="tiles")
    try:
        futures = [pool.submit(one, key) for key in wanted]
        done, pending = wait(futures, timeout=budget)
        if pending:
            raise TileFailure(f"the tiles took longer than {budget:g} s")
        out = {}
        for future in done:
            exc = future.exception()
            if exc is not None:
                raise exc if isinstance(exc, TileFailure) else TileFailure(f"a tile failed: {exc}")
            key, pixels = future.result()
            out[key] = pixels
        return out
    finally:
        pool.shutdown(wait=False, cancel_futures=True)   # the deadline ends what still runs
        session.close()
