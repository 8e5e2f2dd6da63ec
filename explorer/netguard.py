"""Refuse URLs that point the server at its own machine or private network.

A harvested catalogue is untrusted input: an entry whose resource URL is ``http://127.0.0.1:6379``
or ``http://169.254.169.254/`` must not make our server fetch it. Loopback, private, link-local,
reserved and multicast addresses are refused unless ``allow_private_urls`` is set (tests and
intranet deployments set it).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeURLError(ValueError):
    """A URL that may not be fetched, with the reason."""


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
            or ip.is_multicast or ip.is_unspecified)


def check_url(url: str, allow_private: bool = False, resolve: bool = True) -> str:
    """Return the URL if it may be fetched; raise UnsafeURLError otherwise.

    Checks the scheme, then the host: a literal IP is checked directly; a name is resolved and
    every address it resolves to is checked (so ``localhost`` and DNS names that point inside are
    caught). A name that does not resolve is let through here: the request itself will fail.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError(f"{url!r}: only http and https URLs are fetched, not {parts.scheme or 'none'!r}")
    host = parts.hostname
    if not host:
        raise UnsafeURLError(f"{url!r}: no host")
    if allow_private:
        return url
    try:
        if _is_private(host):
            raise UnsafeURLError(f"{url!r}: {host} is a private or loopback address (set EXPLORER_ALLOW_PRIVATE_URLS to allow)")
        return url
    except ValueError as exc:
        if isinstance(exc, UnsafeURLError):
            raise
    if host.lower() in {"localhost", "localhost.localdomain"} or host.lower().endswith(".localhost"):
        raise UnsafeURLError(f"{url!r}: {host} is the local machine (set EXPLORER_ALLOW_PRIVATE_URLS to allow)")
    if resolve:
        try:
            infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
        except (socket.gaierror, UnicodeError, OSError):
            return url
        for info in infos:
            address = info[4][0]
            if _is_private(address):
                raise UnsafeURLError(f"{url!r}: {host} resolves to the private address {address} (set EXPLORER_ALLOW_PRIVATE_URLS to allow)")
    return url
