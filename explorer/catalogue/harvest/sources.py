"""Reading a harvest SOURCE (a local file or an http(s) URL) and helpers shared by harvesters.

Everything that goes wrong with the source as a whole raises :class:`HarvestError` naming the
source; nothing is written to the registry in that case.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import requests

from explorer.catalogue.models import EntryError, guess_format
from explorer.guards.netguard import (
    REDIRECT_CODES,
    DeadlineExceeded,
    GuardedSession,
    TooManyRedirects,
    UnsafeURLError,
    check_url,
    deadline,
    follow,
)

USER_AGENT = "london-data-explorer/0.1"
# Largest catalogue document read from a local file (a catalogue is metadata, not data).
MAX_FILE_BYTES = 256 * 1024 * 1024


class HarvestError(Exception):
    """The source as a whole cannot be harvested (unreadable, wrong shape, unsafe URL …)."""

    def __init__(self, source: str, message: str):
        self.source = source
        self.message = message
        super().__init__(f"{source}: {message}")


def is_url(source: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", source or ""))


def short_name(source: str) -> str:
    """A short label for a source: the file name, or the host of a URL."""
    if is_url(source):
        return urlsplit(source).hostname or source
    return Path(source).name or source


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------

def _session(settings=None) -> GuardedSession:
    """The guarded session for catalogue requests (see :mod:`explorer.guards.netguard`)."""
    return GuardedSession(allow_private=bool(getattr(settings, "allow_private_urls", False)),
                          retries=int(getattr(settings, "http_retries", 3) or 1), backoff=0.25,
                          accept="application/json, application/ld+json;q=0.9, */*;q=0.5",
                          user_agent=USER_AGENT)


def fetch_bytes(url: str, settings, source: str | None = None,
                session: GuardedSession | None = None) -> bytes:
    """GET ``url`` and return the body, or raise HarvestError naming ``source`` (default: the URL).

    Through the guarded session: every URL and redirect target is checked (and every connection's
    address); connection errors, timeouts, 429 and 5xx are retried by the session up to
    ``settings.http_retries`` attempts in all, a body cut short is fetched again within the same
    count; the whole fetch must end within ``settings.download_deadline`` seconds; bodies larger
    than ``settings.max_download_bytes`` are refused.
    """
    name = source or url
    if getattr(settings, "offline", False):
        raise HarvestError(name, f"offline mode is on (EXPLORER_OFFLINE): not fetching {url}")
    if session is not None and not isinstance(session, GuardedSession):
        raise TypeError("fetch_bytes() takes a netguard.GuardedSession")
    own_session = session is None
    session = session or _session(settings)
    attempts = max(1, int(getattr(settings, "http_retries", 3) or 1))
    limit = int(getattr(settings, "max_download_bytes", 512 * 1024 * 1024))
    timeout = float(getattr(settings, "http_timeout", 30.0))
    total = getattr(settings, "download_deadline", 120.0)
    allow_private = bool(getattr(settings, "allow_private_urls", False))
    last_error = ""
    used = 0
    try:
        with deadline(total):
            while used < attempts:
                try:
                    body, made = _get_once(session, url, allow_private, timeout, limit, name)
                    return body
                except _Retryable as exc:
                    last_error, made = exc.args[0], exc.args[1]
                used += made
            raise HarvestError(name, f"{last_error} (gave up after {used} attempt{'s' if used != 1 else ''})")
    except DeadlineExceeded:
        raise HarvestError(name, f"fetching {url} took longer than {total:g} s in all, the limit "
                                 "(EXPLORER_DOWNLOAD_DEADLINE); stopped") from None
    finally:
        if own_session:
            session.close()


class _Retryable(Exception):
    pass


def _get_once(session, url, allow_private, timeout, limit, name) -> tuple[bytes, int]:
    try:
        response, current, made = follow(session, url, check=check_url,
                                         allow_private=allow_private, timeout=timeout)
    except UnsafeURLError as exc:
        raise HarvestError(name, f"refused URL: {exc}") from None
    except TooManyRedirects:
        raise HarvestError(name, f"too many redirects from {url}") from None
    except (requests.ConnectionError, requests.Timeout) as exc:
        attempts = max(1, int(session.get_adapter(url).max_retries.total or 0) + 1)
        raise HarvestError(name, f"cannot reach {url}: {type(exc).__name__} (gave up after "
                                 f"{attempts} attempt{'s' if attempts != 1 else ''})") from None
    except requests.RequestException as exc:
        raise HarvestError(name, f"request to {url} failed: {exc}") from None
    with response:
        if response.status_code in REDIRECT_CODES:
            raise HarvestError(name, f"{current} answered {response.status_code} without a Location")
        if response.status_code >= 500 or response.status_code == 429:
            raise HarvestError(name, f"{current} answered HTTP {response.status_code} (gave up "
                                     f"after {made} attempt{'s' if made != 1 else ''})")
        if response.status_code >= 400:
            raise HarvestError(name, f"{current} answered HTTP {response.status_code} {response.reason or ''}".rstrip())
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise HarvestError(name, f"{current} is {int(declared):,} bytes, over the limit of {limit:,} (EXPLORER_MAX_DOWNLOAD_BYTES)")
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                total += len(chunk)
                if total > limit:
                    raise HarvestError(name, f"{current} sent more than {limit:,} bytes (EXPLORER_MAX_DOWNLOAD_BYTES)")
                chunks.append(chunk)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Retryable(f"connection to {current} broke: {exc}", made) from None
        except requests.RequestException as exc:
            raise HarvestError(name, f"reading {current} failed: {exc}") from None
        return b"".join(chunks), made


# ---------------------------------------------------------------------------------------------
# Files and parsing
# ---------------------------------------------------------------------------------------------

def read_bytes(source: str, settings) -> bytes:
    """Return the bytes of a local file or an http(s) URL."""
    if is_url(source):
        scheme = urlsplit(source).scheme.lower()
        if scheme not in ("http", "https"):
            raise HarvestError(source, f"only http(s) URLs and local files can be harvested, not {scheme}://")
        return fetch_bytes(source, settings)
    path = Path(os.path.expanduser(source))
    if not path.exists():
        raise HarvestError(source, "no such file")
    if path.is_dir():
        raise HarvestError(source, "is a folder, not a catalogue file")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise HarvestError(source, f"file is {size:,} bytes, too large for a catalogue")
        return path.read_bytes()
    except OSError as exc:
        raise HarvestError(source, f"cannot read: {exc.strerror or exc}") from None


def parse_json(data: bytes, source: str) -> object:
    """Parse JSON bytes; a decoding error names the source, line and column."""
    if not data.strip():
        raise HarvestError(source, "is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HarvestError(source, f"is not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if exc.pos >= len(text.rstrip()) - 1 else ""
        raise HarvestError(source, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}{hint}") from None
    except RecursionError:
        raise HarvestError(source, "JSON nested too deeply to be a catalogue") from None


def parse_yaml(data: bytes, source: str) -> object:
    import yaml

    from explorer.guards import safe_yaml

    try:
        return safe_yaml.load(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise HarvestError(source, f"is not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if isinstance(exc, safe_yaml.AliasRefused):
            raise HarvestError(source, f"refused{where}: it {problem}") from None
        raise HarvestError(source, f"not valid YAML{where}: {problem}") from None


def load_document(source: str, settings) -> object:
    """Read and parse a source document (JSON; YAML for .yaml/.yml files)."""
    data = read_bytes(source, settings)
    suffix = urlsplit(source).path.lower() if is_url(source) else source.lower()
    if suffix.endswith((".yaml", ".yml")):
        return parse_yaml(data, source)
    return parse_json(data, source)


# ---------------------------------------------------------------------------------------------
# Field helpers shared by the harvesters (they raise EntryError naming the field)
# ---------------------------------------------------------------------------------------------

def text_field(record: dict, key: str, entry_id: str | None, field_name: str | None = None) -> str | None:
    """The value of ``record[key]`` as stripped text, None when absent/empty; EntryError if not text."""
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise EntryError(field_name or key, f"expected text, got {type(value).__name__}", entry_id)
    text = str(value).strip()
    return text or None


def title_of(value: object) -> str | None:
    """A display name from a string or an object with title/name/display_name."""
    if value is None:
        return None
    if isinstance(value, dict):
        for key in ("title", "display_name", "name", "label"):
            item = value.get(key)
            if isinstance(item, str) and item.strip():
                return item.strip()
        return None
    if isinstance(value, str):
        return value.strip() or None
    return None


def parse_bool(value: object, field_name: str, entry_id: str | None) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    text = str(value).strip().lower()
    if text in {"true", "yes", "y", "1", "on"}:
        return True
    if text in {"false", "no", "n", "0", "off", "none", "null"}:
        return False
    raise EntryError(field_name, f"expected true or false, got {str(value)[:40]!r}", entry_id)


def parse_size(value: object, field_name: str, entry_id: str | None) -> int | None:
    """Bytes from an int or a numeric string; 'Unknown size' and the like give None."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value >= 0 else None
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if re.fullmatch(r"\d+", text):
            return int(text)
        if re.fullmatch(r"\d+\.\d+", text):
            return int(float(text))
        if "unknown" in text.lower() or text.lower() in {"n/a", "na", "-"}:
            return None
    raise EntryError(field_name, f"not a number of bytes: {str(value)[:40]!r}", entry_id)


def checksum_from(value: object) -> str | None:
    """'md5:<hex>' / 'sha1:<hex>' / 'sha256:<hex>' from a bare hex digest or 'algo:hex'; else None."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if not text:
        return None
    if ":" in text:
        algo, _, digest = text.partition(":")
        algo = algo.replace("-", "")
        if algo in {"md5", "sha1", "sha256"} and re.fullmatch(r"[0-9a-f]+", digest):
            return f"{algo}:{digest}"
        return None
    lengths = {32: "md5", 40: "sha1", 64: "sha256"}
    if re.fullmatch(r"[0-9a-f]+", text) and len(text) in lengths:
        return f"{lengths[len(text)]}:{text}"
    return None


# Catalogue format labels → our lower-case format names.
_FORMAT_ALIASES = {
    "geopackage": "gpkg", "shapefile": "shp", "esri shapefile": "shp", "shape": "shp",
    "geo json": "geojson", "geo-json": "geojson", "topo json": "topojson", "excel": "xlsx",
    "ms excel": "xls", "text/csv": "csv", "application/json": "json", "application/geo+json": "geojson",
    "application/vnd.geo+json": "geojson", "application/zip": "zip", "application/x-zip-compressed": "zip",
    "application/pdf": "pdf", "text/tab-separated-values": "tsv", "application/geopackage+sqlite3": "gpkg",
    "application/vnd.ms-excel": "xls", "text/plain": "txt", "text/html": "html",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/x-shapefile": "shp", "mapinfo": "tab", "mapinfo tab": "tab",
    "application/vnd.google-earth.kml+xml": "kml", "application/xml": "xml", "text/xml": "xml",
    "application/vnd.apache.parquet": "parquet", "application/x-parquet": "parquet",
}
# Labels that say little about the bytes: a file-name suffix is a better guess.
_VAGUE_FORMATS = {"", "spreadsheet", "data", "document", "file", "image", "other", "api", "link",
                  "web page", "webpage", "unknown", "download", "archive"}


def normalise_format(declared: object, *names: object) -> str:
    """A lower-case format: the declared one unless vague, else guessed from file names / URLs."""
    fmt = str(declared or "").strip().lower().lstrip(".")
    if "/" in fmt and fmt not in _FORMAT_ALIASES:
        # A media-type IRI or an unknown media type: keep its last part ("text/csv" → "csv").
        tail = fmt.rstrip("/").rsplit("/", 1)[-1]
        fmt = _FORMAT_ALIASES.get(fmt, tail.split("+")[0] if tail else "")
    fmt = _FORMAT_ALIASES.get(fmt, fmt)
    if fmt in _VAGUE_FORMATS:
        for name in names:
            if isinstance(name, str) and name:
                guessed = guess_format(name)
                if guessed:
                    return guessed
    return fmt


# Smallest-geography labels used by catalogues → GEOGRAPHY_LEVELS in models.
_GEOGRAPHY_PATTERNS = (
    (r"lower (layer )?super output|\blsoa", "lsoa"),
    (r"middle (layer )?super output|\bmsoa", "msoa"),
    (r"\boutput area|^oa$|^oa\d", "output-area"),
    (r"\bward", "ward"),
    (r"sub-?region", "sub-region"),
    (r"\bborough|local authority|\bla\b|district|\blad\b", "borough"),
    (r"\bregion|\bnuts", "region"),
    (r"greater london|^london$|london-wide|city-wide", "london"),
    (r"\bgrid|metre|\bkm\b|square", "grid"),
    (r"postcode (sector|district|area)", "other"),
    (r"point|coordinates|postcode|address|lat.?long|^x.?y$", "point"),
    (r"\bsite|school|hospital|institution|station|town centre", "site"),
    (r"^(none|n/?a|not applicable|no geography)$", "none"),
)


def normalise_geography(value: object) -> str | None:
    """Map a catalogue's smallest-geography label onto the levels of ``models.GEOGRAPHY_LEVELS``."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if not text:
        return None
    for pattern, level in _GEOGRAPHY_PATTERNS:
        if re.search(pattern, text):
            return level
    return "other"
