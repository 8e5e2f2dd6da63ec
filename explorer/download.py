"""Stream one URL to one file, carefully.

* every URL, and every redirect target, is checked with :func:`explorer.netguard.check_url`;
* connect/read timeouts; retries with exponential backoff on connection errors, truncated bodies,
  429 and 5xx (other 4xx fail at once);
* a size cap, enforced on ``Content-Length`` before reading and on the bytes actually received;
* sha256 (and the registry's md5/sha1, when that is what it gives) computed while streaming, then
  the expected checksum and size verified;
* a body shorter than its ``Content-Length`` is an error (the connection closed half-way);
* the body goes to a temporary file in the destination folder and is renamed into place only when
  complete and verified, so a killed process or a failure never leaves a file under the real name;
* a tqdm progress bar on stderr when stderr is a terminal (or ``progress=True``).
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import requests
from tqdm import tqdm

from explorer.netguard import UnsafeURLError, check_url

USER_AGENT = "london-data-explorer/0.1 (+https://data.london.gov.uk)"
_CHUNK = 1 << 16
_MAX_REDIRECTS = 10
_REDIRECTS = (301, 302, 303, 307, 308)
_CHECKSUM_ALGOS = ("sha256", "md5", "sha1")


class DownloadError(Exception):
    """A download that failed; the message names the URL and the reason."""

    retryable = False

    def __init__(self, url: str, reason: str):
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


class DownloadRefused(DownloadError):
    """The URL (or a redirect) points somewhere we do not fetch from."""


class DownloadTooLarge(DownloadError):
    """More bytes than the size cap."""


class ChecksumMismatch(DownloadError):
    """The bytes do not match the registry's checksum or size."""


class _Retryable(DownloadError):
    retryable = True


class IncompleteDownload(_Retryable):
    """The connection closed before the announced number of bytes arrived."""


@dataclass
class DownloadResult:
    path: Path
    url: str                 # the URL the bytes came from (after redirects)
    size: int
    sha256: str
    content_type: str | None
    attempts: int
    checksum_verified: str | None = None   # the expected checksum, when one was given


def parse_checksum(value: str) -> tuple[str, str]:
    """Split ``"sha256:<hex>"`` / ``"md5:<hex>"`` into (algorithm, lower-case hex digest)."""
    text = str(value).strip().lower()
    algo, sep, digest = text.partition(":")
    if not sep:
        algo, digest = ("sha256" if len(text) == 64 else "md5"), text
    if algo not in _CHECKSUM_ALGOS or not digest or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"not a checksum: {value!r} (expected sha256:<hex> or md5:<hex>)")
    return algo, digest


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _int_header(resp: requests.Response, name: str) -> int | None:
    raw = resp.headers.get(name)
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


def _open(session: requests.Session, url: str, timeout: tuple[float, float],
          allow_private: bool) -> tuple[requests.Response, str]:
    """GET with redirects followed by hand, each hop checked against the network guard."""
    current = url
    for _ in range(_MAX_REDIRECTS + 1):
        try:
            check_url(current, allow_private=allow_private)
        except UnsafeURLError as exc:
            raise DownloadRefused(url, f"refused: {exc}") from None
        resp = session.get(current, stream=True, timeout=timeout, allow_redirects=False,
                           headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
        if resp.status_code in _REDIRECTS and resp.headers.get("Location"):
            location = urljoin(current, resp.headers["Location"])
            resp.close()
            current = location
            continue
        return resp, current
    raise DownloadError(url, f"more than {_MAX_REDIRECTS} redirects")


def download(url: str, dest: Path, *, session: requests.Session | None = None,
             timeout: float = 30.0, retries: int = 3, backoff: float = 0.5,
             max_bytes: int = 512 * 1024 * 1024, allow_private: bool = False,
             expected_checksum: str | None = None, expected_size: int | None = None,
             progress: bool | None = None, label: str | None = None) -> DownloadResult:
    """Download ``url`` to ``dest`` (created only when complete and verified).

    ``retries`` is the number of attempts (at least one). Raises :class:`DownloadError` (or a
    subclass) naming the URL; nothing is left at ``dest`` or beside it on failure.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    own_session = session is None
    session = session or requests.Session()
    try:
        expected = parse_checksum(expected_checksum) if expected_checksum else None
    except ValueError as exc:
        raise DownloadError(url, f"cannot verify: {exc}") from None
    show = _stderr_is_tty() if progress is None else bool(progress)
    attempts = max(1, int(retries))
    try:
        last: Exception | None = None
        for attempt in range(1, attempts + 1):
            try:
                result = _attempt(session, url, dest, (timeout, timeout), max_bytes, allow_private,
                                  expected, expected_size, show, label or dest.name)
                result.attempts = attempt
                return result
            except _Retryable as exc:
                last = exc
                wait = exc.retry_after if isinstance(exc, _HTTPRetryable) else None
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                last = exc
                wait = None
            except requests.RequestException as exc:  # invalid URL, too many redirects …
                raise DownloadError(url, f"request failed: {exc}") from None
            if attempt < attempts:
                delay = wait if wait is not None else backoff * (2 ** (attempt - 1))
                time.sleep(min(max(delay, 0.0), 30.0))
        if isinstance(last, DownloadError):
            raise DownloadError(url, f"{last.reason} (gave up after {attempts} attempt(s))") from None
        raise DownloadError(url, f"{type(last).__name__}: {last} (gave up after {attempts} attempt(s))") from None
    finally:
        if own_session:
            session.close()


class _HTTPRetryable(_Retryable):
    def __init__(self, url: str, reason: str, retry_after: float | None):
        super().__init__(url, reason)
        self.retry_after = retry_after


def _attempt(session, url, dest, timeout, max_bytes, allow_private, expected, expected_size,
             show, label) -> DownloadResult:
    resp, final_url = _open(session, url, timeout, allow_private)
    with resp:
        code = resp.status_code
        if code == 429 or code >= 500:
            retry_after = _int_header(resp, "Retry-After")
            raise _HTTPRetryable(url, f"HTTP {code} {resp.reason or ''}".strip(),
                                 float(retry_after) if retry_after is not None else None)
        if code >= 400:
            raise DownloadError(url, f"HTTP {code} {resp.reason or ''}".strip())
        if code != 200:
            raise DownloadError(url, f"unexpected HTTP {code} {resp.reason or ''}".strip())
        length = _int_header(resp, "Content-Length")
        encoded = resp.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
        if length is not None and not encoded:
            if length > max_bytes:
                raise DownloadTooLarge(url, f"Content-Length {length:,} bytes is over the download limit "
                                            f"of {max_bytes:,} bytes (EXPLORER_MAX_DOWNLOAD_BYTES)")
            if expected_size is not None and length != expected_size:
                raise ChecksumMismatch(url, f"the server sends {length:,} bytes but the registry "
                                            f"says {expected_size:,}")
        sha = hashlib.sha256()
        other = hashlib.new(expected[0]) if expected and expected[0] != "sha256" else None
        tmp = dest.parent / f".{dest.name}.part-{uuid.uuid4().hex[:10]}"
        received = 0
        try:
            with open(tmp, "wb") as fh, tqdm(total=None if encoded else length, unit="B",
                                             unit_scale=True, unit_divisor=1024, desc=label,
                                             file=sys.stderr, disable=not show, leave=False) as bar:
                for chunk in resp.iter_content(chunk_size=_CHUNK):
                    if not chunk:
                        continue
                    received += len(chunk)
                    if received > max_bytes:
                        raise DownloadTooLarge(url, f"more than {max_bytes:,} bytes received; over the "
                                                    f"download limit (EXPLORER_MAX_DOWNLOAD_BYTES)")
                    sha.update(chunk)
                    if other is not None:
                        other.update(chunk)
                    fh.write(chunk)
                    bar.update(len(chunk))
                fh.flush()
                os.fsync(fh.fileno())
            if length is not None:
                on_wire = resp.raw.tell() if encoded and hasattr(resp.raw, "tell") else received
                if on_wire < length:
                    raise IncompleteDownload(url, f"connection closed after {on_wire:,} of "
                                                  f"{length:,} bytes")
            digest = sha.hexdigest()
            verified = None
            if expected_size is not None and received != expected_size:
                raise ChecksumMismatch(url, f"size mismatch: got {received:,} bytes, the registry "
                                            f"says {expected_size:,}")
            if expected is not None:
                algo, want = expected
                got = digest if algo == "sha256" else other.hexdigest()
                if got != want:
                    raise ChecksumMismatch(url, f"{algo} mismatch: got {got}, the registry says {want}")
                verified = f"{algo}:{want}"
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return DownloadResult(path=dest, url=final_url, size=received, sha256=digest,
                              content_type=resp.headers.get("Content-Type"), attempts=1,
                              checksum_verified=verified)
