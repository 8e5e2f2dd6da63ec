"""Bounds on what one request may ask of the app, checked before any work is done for it.

A query string reaches the app two ways: the request's own (every route, and the index page's
``PageRequest``, explorer/web/index_page.py) and the router callback's ``url.search`` (the
browser's address, sent again in a Dash callback). Both are read here, by ``parse_pairs``, which:

- refuses a query longer than ``MAX_QUERY_CHARS`` (no page or link of this app comes near it);
- drops exact repeats of a ``name=value`` pair, keeping the first (``theme=x&theme=x…`` is
  ``theme=x``);
- refuses more than ``MAX_VALUES_PER_NAME`` distinct values of one name or more than
  ``MAX_FIELDS`` distinct pairs in all.

Each step is one pass over the text, so reading a query costs linear time in its length; and what
a page draws from a query (the catalogue's facet links, each naming every active filter) is bounded
by these counts however the query was written. ``QueryRefused`` is answered with a 400 naming the
limit (explorer/web/security.py).

``QueryLimits`` applies the same to ``QUERY_STRING`` at the WSGI level, before Flask reads it:
repeats are dropped from the query every route sees; a refused query is marked for
explorer/web/security.py to answer 400.

``allowed_host`` decides whether a request's ``Host`` may be used to build links when
``EXPLORER_PUBLIC_URL`` is unset (see ``host_policy``).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from urllib.parse import unquote_plus

MAX_QUERY_CHARS = 8192        # a map link with 8 layers, each with a filter, is ~1.5 KB
MAX_VALUES_PER_NAME = 64      # a chart highlighting every borough names 33; layers stop at 8
MAX_FIELDS = 128
MAX_FILTER_VALUES = 20        # catalogue facet values in one search (each draws links naming all)
REFUSED_KEY = "explorer.query_refused"


class QueryRefused(ValueError):
    """A query over one of the limits; its message says which (shown to the client)."""


def _split(query: str) -> list[tuple[str, str, str]]:
    """(raw part, name, value) of each ``&``-separated part, decoded as ``parse_qsl`` does."""
    query = query[1:] if query.startswith("?") else query
    if len(query) > MAX_QUERY_CHARS:
        raise QueryRefused(f"the query string is {len(query):,} characters long; at most "
                           f"{MAX_QUERY_CHARS:,} are read")
    out = []
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        out.append((part, unquote_plus(name), unquote_plus(value)))
    return out


def _distinct(parts: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    seen: set[tuple[str, str]] = set()
    per_name: Counter[str] = Counter()
    kept = []
    for raw, name, value in parts:
        if (name, value) in seen:
            continue
        seen.add((name, value))
        per_name[name] += 1
        if per_name[name] > MAX_VALUES_PER_NAME:
            raise QueryRefused(f"the query names {name[:40]!r} more than {MAX_VALUES_PER_NAME} "
                               "times with different values")
        if len(seen) > MAX_FIELDS:
            raise QueryRefused(f"the query has more than {MAX_FIELDS} different name=value pairs")
        kept.append((raw, name, value))
    return kept


def parse_pairs(query: str | None, keep_blank_values: bool = False) -> list[tuple[str, str]]:
    """The query's (name, value) pairs in order, each once; raises QueryRefused over a limit."""
    pairs = _distinct(_split(query or ""))
    return [(name, value) for _, name, value in pairs if value or keep_blank_values]


def parse_query(query: str | None, keep_blank_values: bool = False) -> dict[str, list[str]]:
    """As ``urllib.parse.parse_qs``, within the limits above."""
    out: dict[str, list[str]] = {}
    for name, value in parse_pairs(query, keep_blank_values):
        out.setdefault(name, []).append(value)
    return out


def normalised_query(query: str) -> str:
    """The raw query with exact repeats dropped (the kept parts byte for byte as sent)."""
    return "&".join(raw for raw, _, _ in _distinct(_split(query)))


def facet_filters(params: dict[str, list[str]], facets) -> tuple[dict[str, list[str]], int]:
    """The catalogue filters of a parsed query, at most MAX_FILTER_VALUES in all (the first ones):
    (filters, how many were left out)."""
    filters: dict[str, list[str]] = {}
    kept = dropped = 0
    for key in facets:
        for value in params.get(key, []):
            if not value:
                continue
            if kept < MAX_FILTER_VALUES:
                filters.setdefault(key, []).append(value)
                kept += 1
            else:
                dropped += 1
    return filters, dropped


class QueryLimits:
    """WSGI middleware: drops repeated pairs from QUERY_STRING, marks an over-limit query (and
    clears it, so nothing reads it) for the app to answer 400."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        query = environ.get("QUERY_STRING") or ""
        if query:
            try:
                tidy = normalised_query(query)
            except QueryRefused as exc:
                environ[REFUSED_KEY] = str(exc)
                environ["QUERY_STRING"] = ""
            else:
                if tidy != query:
                    environ["QUERY_STRING"] = tidy
        return self.app(environ, start_response)


# Host ------------------------------------------------------------------------------------------
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_HOST_RE = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<name>[A-Za-z0-9.-]+))(?::(?P<port>\d{1,5}))?$")


def host_name(host: str | None) -> str | None:
    """The name or address of a Host header, lower case and without its port; None when the header
    is not a well-formed host."""
    match = _HOST_RE.match((host or "").strip())
    if not match:
        return None
    return (match.group("v6") or match.group("name") or "").lower().rstrip(".") or None


def _is_loopback(name: str) -> bool:
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


WILDCARD_ADDRESSES = frozenset({"0.0.0.0", "::", ""})


def host_policy(allowed_hosts: str = ""):
    """A check ``allowed(host_header) -> bool``: loopback names and addresses, and
    EXPLORER_ALLOWED_HOSTS (``.example.org`` also allows its subdomains; ``explorer serve --host H``
    adds H unless it is a wildcard such as 0.0.0.0)."""
    names: set[str] = set()
    suffixes: list[str] = []
    for token in re.split(r"[\s,]+", allowed_hosts or ""):
        token = token.strip().lower().rstrip(".")
        if not token or token in WILDCARD_ADDRESSES:
            continue
        if token.startswith("."):
            suffixes.append(token)
            names.add(token[1:])
        else:
            names.add(host_name(token) or host_name(f"[{token}]") or token)

    def allowed(host: str | None) -> bool:
        name = host_name(host)
        if name is None:
            return False
        return _is_loopback(name) or name in names or any(name.endswith(s) for s in suffixes)

    return allowed
