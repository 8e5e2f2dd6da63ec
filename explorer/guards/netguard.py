"""The one way out of the process: URL checks and a guarded HTTP session.

A harvested catalogue is untrusted input: an entry whose resource URL is ``http://127.0.0.1:6379``
or ``http://169.254.169.254/`` must not make our server fetch it. Three layers stop it:

1. :func:`check_url` refuses, before any request, URLs that URL parsers read differently
   (backslashes, whitespace, control characters, a user name or password, ``@`` or brackets in odd
   places, percent signs or ambiguous numbers in the host, hosts on which ``urlsplit`` and urllib3
   disagree) and, unless ``allow_private``, hosts that are or resolve to loopback, private,
   link-local, shared, reserved or multicast addresses.
2. :class:`GuardedSession` (a ``requests.Session``) checks every request it sends, redirects
   included, and its connections check **the address the socket actually connected to**, after DNS
   resolution, so a name that resolves elsewhere the second time (DNS rebinding) is still caught.
   Proxies from the environment are ignored: through a proxy the guard could not see where the
   connection goes. Connect errors, 429 and 5xx are retried by urllib3 ``Retry`` (backoff,
   ``Retry-After`` honoured up to 30 s).
3. :func:`deadline` bounds everything inside it — connecting, waiting, every byte read, retries —
   by a total time: a server that trickles one byte a second cannot hold a worker past it.
"""

from __future__ import annotations

import io
import ipaddress
import re
import socket
import threading
import time
from contextlib import contextmanager
from urllib.parse import SplitResult, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import MaxRetryError, ReadTimeoutError
from urllib3.util import parse_url
from urllib3.util.retry import Retry

USER_AGENT = "london-data-explorer/0.1 (+https://data.london.gov.uk)"
MAX_URL_LENGTH = 8192
MAX_REDIRECTS = 10
REDIRECT_CODES = (301, 302, 303, 307, 308)
RETRY_STATUSES = (429, 500, 502, 503, 504)
_MAX_RETRY_WAIT = 30.0
_ALLOW_HINT = "set EXPLORER_ALLOW_PRIVATE_URLS to allow"


class UnsafeURLError(ValueError):
    """A URL (or a connection) that may not be made, with the reason."""


class DeadlineExceeded(Exception):
    """The total time allowed for a request ran out (not an OSError: nothing retries it)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(f"took longer than {seconds:g} s in all")


class TooManyRedirects(Exception):
    """More redirects than :data:`MAX_REDIRECTS`."""


# ------------------------------------------------------------------------------------------------
# Addresses
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _is_private(address: str) -> bool:
    """True for any address that is not a public unicast one (IPv4 inside IPv6 unwrapped)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return _is_private(str(inner))
    return (not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_loopback
            or ip.is_link_local or ip.is_unspecified)


# ------------------------------------------------------------------------------------------------
# URL syntax: refuse what parsers disagree on
_BAD_CHAR = re.compile(r"[\x00-\x20\x7f-\x9f\\\s\u200b-\u200f\u2028\u2029\ufeff]")
_HOST_CHARS = re.compile(r"^[a-z0-9._-]+$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_IPV6_AUTHORITY = re.compile(r"^\[[0-9a-f:.]+\](:[0-9]*)?$", re.IGNORECASE)


def _describe(char: str) -> str:
    if char == "\\":
        return "a backslash"
    if char == " ":
        return "a space"
    return f"the character U+{ord(char):04X}"


def check_syntax(url: object) -> SplitResult:
    """The URL split into parts, or UnsafeURLError when its form is one parsers disagree on."""
    if not isinstance(url, str):
        raise UnsafeURLError(f"{url!r}: not a URL (not text)")
    shown = url[:200]
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURLError(f"{shown!r}…: longer than {MAX_URL_LENGTH:,} characters")
    bad = _BAD_CHAR.search(url)
    if bad:
        raise UnsafeURLError(f"{shown!r}: contains {_describe(bad.group())} at position "
                             f"{bad.start()}; URL parsers disagree on such URLs, so it is refused")
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", url)
    scheme = match.group(1).lower() if match else ""
    if scheme not in ("http", "https"):
        raise UnsafeURLError(f"{shown!r}: only http and https URLs are fetched, not "
                             f"{scheme or 'none'!r}")
    if not url[len(scheme) + 1:].startswith("//"):
        raise UnsafeURLError(f"{shown!r}: no '//' before the host")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:   # unbalanced brackets, a port that is not a number …
        raise UnsafeURLError(f"{shown!r}: malformed address ({exc})") from None
    authority = parts.netloc
    if "@" in authority:
        raise UnsafeURLError(f"{shown!r}: a user name or password ('@') in the address is refused")
    if "%" in authority:
        raise UnsafeURLError(f"{shown!r}: percent-encoding in the host is refused")
    if ("[" in authority or "]" in authority) and not _IPV6_AUTHORITY.match(authority):
        raise UnsafeURLError(f"{shown!r}: brackets in the host are only allowed around an IPv6 "
                             "address")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURLError(f"{shown!r}: no host")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise UnsafeURLError(f"{shown!r}: the host {host!r} is not a valid name") from None
    if not authority.startswith("["):
        if not _HOST_CHARS.match(host):
            raise UnsafeURLError(f"{shown!r}: the host {host!r} holds characters a host name "
                                 "cannot have")
        if _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]):
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                raise UnsafeURLError(f"{shown!r}: the numeric host {host!r} is not a plain "
                                     "dotted IPv4 address; such forms are read differently by "
                                     "different parsers") from None
    if port == 0:
        raise UnsafeURLError(f"{shown!r}: port 0")
    # The client (urllib3) must read the same host and port as we did.
    try:
        theirs = parse_url(url)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a refusal
        raise UnsafeURLError(f"{shown!r}: malformed address ({exc})") from None
    their_host = (theirs.host or "").strip("[]").rstrip(".").lower()
    if their_host != host.lower() or (theirs.port or None) != (port or None):
        raise UnsafeURLError(f"{shown!r}: URL parsers disagree on its host ({host!r} or "
                             f"{their_host!r}); refused")
    return parts


def check_url(url: str, allow_private: bool = False, resolve: bool = True) -> str:
    """Return the URL if it may be fetched; raise UnsafeURLError otherwise.

    Checks the form (:func:`check_syntax`, always), then the host: a literal IP is checked
    directly; a name is resolved (with ``resolve``) and every address it resolves to is checked.
    A name that does not resolve is let through here: the request itself will fail. The
    connection checks the address it reaches again (:class:`GuardedSession`).
    """
    parts = check_syntax(url)
    if allow_private:
        return url
    host = parts.hostname.rstrip(".")
    try:
        private = _is_private(host)
    except ValueError:
        private = None
    if private:
        raise UnsafeURLError(f"{url[:200]!r}: {host} is a private or loopback address "
                             f"({_ALLOW_HINT})")
    if private is False:
        return url
    lowered = host.lower()
    if lowered in {"localhost", "localhost.localdomain"} or lowered.endswith(".localhost"):
        raise UnsafeURLError(f"{url[:200]!r}: {host} is the local machine ({_ALLOW_HINT})")
    if resolve:
        try:
            infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
        except (socket.gaierror, UnicodeError, OSError):
            return url
        for info in infos:
            address = info[4][0]
            if _is_private(address):
                raise UnsafeURLError(f"{url[:200]!r}: {host} resolves to the private address "
                                     f"{address} ({_ALLOW_HINT})")
    return url


def next_hop(current: str, location: str) -> str:
    """The absolute URL a redirect's ``Location`` leads to; UnsafeURLError for a Location whose
    form parsers disagree on (checked before it is joined, then after)."""
    bad = _BAD_CHAR.search(location)
    if bad:
        raise UnsafeURLError(f"{current[:200]!r} redirects to {location[:200]!r}, which contains "
                             f"{_describe(bad.group())}; refused")
    try:
        target = urljoin(current, location)
    except ValueError as exc:
        raise UnsafeURLError(f"{current[:200]!r} redirects to {location[:200]!r}, a malformed "
                             f"address ({exc}); refused") from None
    check_syntax(target)
    return target


# ------------------------------------------------------------------------------------------------
# Deadlines
_local = threading.local()


def remaining() -> float | None:
    """Seconds left before the innermost :func:`deadline` of this thread; None without one."""
    end = getattr(_local, "end", None)
    return None if end is None else end - time.monotonic()


def _check_deadline() -> float | None:
    left = remaining()
    if left is not None and left <= 0:
        raise DeadlineExceeded(_local.seconds)
    return left


@contextmanager
def deadline(seconds: float | None):
    """Everything this thread sends or reads inside must be done within ``seconds`` (None: no
    limit); past it, the next read or connect raises :class:`DeadlineExceeded`."""
    previous = (getattr(_local, "end", None), getattr(_local, "seconds", None))
    if seconds is not None and seconds > 0:
        end = time.monotonic() + float(seconds)
        if previous[0] is None or end < previous[0]:
            _local.end, _local.seconds = end, float(seconds)
    try:
        yield
    finally:
        _local.end, _local.seconds = previous


class _DeadlineSocket:
    """A socket whose every receive waits at most the idle timeout and never past the deadline."""

    def __init__(self, sock):
        self._sock = sock
        self._idle = sock.gettimeout()

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def settimeout(self, value):
        self._idle = value
        self._sock.settimeout(value)

    def gettimeout(self):
        return self._idle

    def makefile(self, mode="r", buffering=None, **_kw):
        if "b" not in mode or "w" in mode:
            return self._sock.makefile(mode, buffering, **_kw)
        self._sock._io_refs += 1
        return io.BufferedReader(socket.SocketIO(self, "rb"),
                                 buffering if buffering and buffering > 0 else io.DEFAULT_BUFFER_SIZE)

    def _decref_socketios(self):
        self._sock._decref_socketios()

    def _bounded(self, call, *args):
        left = _check_deadline()
        if left is not None:
            self._sock.settimeout(left if self._idle is None else min(self._idle, left))
        try:
            return call(*args)
        except socket.timeout:
            _check_deadline()
            raise
        finally:
            if left is not None:
                self._sock.settimeout(self._idle)

    def recv_into(self, buffer, nbytes=0, flags=0):
        return self._bounded(self._sock.recv_into, buffer, nbytes, flags)

    def recv(self, bufsize, flags=0):
        return self._bounded(self._sock.recv, bufsize, flags)


class _GuardedConnectionMixin:
    allow_private = False

    def _new_conn(self):
        left = _check_deadline()
        if left is not None and (self.timeout is None or not isinstance(self.timeout, (int, float))
                                 or self.timeout > left):
            self.timeout = max(left, 0.001)
        sock = super()._new_conn()
        if not self.allow_private:
            try:
                peer = sock.getpeername()[0]
            except OSError:
                sock.close()
                raise
            if _is_private(peer):
                sock.close()
                raise UnsafeURLError(f"{self.host}:{self.port} connects to {peer}, a private or "
                                     f"loopback address ({_ALLOW_HINT})")
        return sock

    def connect(self):
        super().connect()
        self.sock = _DeadlineSocket(self.sock)


def _pool_classes(allow_private: bool) -> dict:
    http_conn = type("GuardedHTTPConnection", (_GuardedConnectionMixin, HTTPConnection),
                     {"allow_private": allow_private})
    https_conn = type("GuardedHTTPSConnection", (_GuardedConnectionMixin, HTTPSConnection),
                      {"allow_private": allow_private})
    return {
        "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
        "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
    }


_POOLS = {flag: _pool_classes(flag) for flag in (False, True)}


class _BoundedRetry(Retry):
    """urllib3 Retry whose waits are capped (30 s) and never run past the deadline; a read
    timeout still failing on the last attempt is reported as the timeout it is."""

    def increment(self, *args, **kwargs):
        try:
            return super().increment(*args, **kwargs)
        except MaxRetryError as exc:
            if isinstance(exc.reason, ReadTimeoutError):
                raise exc.reason from None
            raise

    def sleep(self, response=None):
        wait = None
        if response is not None and self.respect_retry_after_header:
            wait = self.get_retry_after(response)
        if wait is None:
            wait = self.get_backoff_time()
        wait = min(max(wait or 0.0, 0.0), _MAX_RETRY_WAIT)
        left = _check_deadline()
        if left is not None and wait >= left:
            raise DeadlineExceeded(_local.seconds)
        if wait:
            time.sleep(wait)


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections check the address they reach and honour deadlines."""

    def __init__(self, allow_private: bool = False, **kwargs):
        self.allow_private = bool(allow_private)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS[self.allow_private]

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        raise UnsafeURLError(f"proxy {proxy!r}: requests through a proxy are not made (the guard "
                             "could not see where they go)")


class GuardedSession(requests.Session):
    """The HTTP session for everything that leaves the process (see the module docstring).

    ``retries`` is the number of attempts in all (at least one); ``backoff`` the first wait.
    """

    def __init__(self, *, allow_private: bool = False, retries: int = 3, backoff: float = 0.5,
                 pool_size: int = 10, accept: str | None = None,
                 user_agent: str = USER_AGENT):
        super().__init__()
        self.trust_env = False
        self.allow_private = bool(allow_private)
        self.max_redirects = MAX_REDIRECTS
        attempts = max(1, int(retries))
        retry = _BoundedRetry(total=attempts - 1, connect=attempts - 1, read=attempts - 1,
                              status=attempts - 1, redirect=0, other=0,
                              status_forcelist=RETRY_STATUSES, backoff_factor=max(backoff, 0.0),
                              allowed_methods=frozenset({"GET", "HEAD"}),
                              raise_on_status=False, raise_on_redirect=False,
                              respect_retry_after_header=True)
        adapter = GuardedAdapter(self.allow_private, max_retries=retry,
                                 pool_connections=pool_size, pool_maxsize=pool_size)
        self.adapters.clear()
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.headers["User-Agent"] = user_agent
        if accept:
            self.headers["Accept"] = accept

    def send(self, request, **kwargs):
        check_url(request.url, allow_private=self.allow_private, resolve=False)
        _check_deadline()
        return super().send(request, **kwargs)

    def get_redirect_target(self, resp):
        target = super().get_redirect_target(resp)
        if target is not None:
            next_hop(resp.url, target)
        return target


def attempts_of(response: requests.Response) -> int:
    """How many requests urllib3 made for this response (1 + its retries)."""
    retries = getattr(getattr(response, "raw", None), "retries", None)
    history = getattr(retries, "history", None) or ()
    return 1 + len(history)


def follow(session: GuardedSession, url: str, *, check=check_url, allow_private: bool = False,
           timeout=None, headers: dict | None = None) -> tuple[requests.Response, str, int]:
    """GET ``url`` (streamed), following redirects by hand with every hop checked by ``check``.

    Returns (response, the URL it came from, attempts made). Raises UnsafeURLError for a refused
    hop, TooManyRedirects past :data:`MAX_REDIRECTS`.
    """
    current = url
    attempts = 0
    for _ in range(MAX_REDIRECTS + 1):
        check(current, allow_private=allow_private)
        resp = session.get(current, stream=True, timeout=timeout, allow_redirects=False,
                           headers=headers)
        attempts += attempts_of(resp)
        location = resp.headers.get("Location")
        if resp.status_code in REDIRECT_CODES and location:
            resp.close()
            current = next_hop(current, location)
            continue
        return resp, current, attempts
    raise TooManyRedirects(f"{url[:200]}: more than {MAX_REDIRECTS} redirects")
