"""Stream one URL to one file, carefully.

* every request goes through :class:`explorer.guards.netguard.GuardedSession`: every URL and every
  redirect target is checked with :func:`explorer.guards.netguard.check_url` (redirects are followed here,
  hop by hop), and each connection checks the address it actually reached;
* connect/read (idle) timeouts, and a total deadline for the whole download — retries, redirects
  and every byte included (``deadline``, ``EXPLORER_DOWNLOAD_DEADLINE``);
* retries with exponential backoff: connection errors, 429 and 5xx by urllib3 ``Retry`` in the
  session; truncated bodies here (other 4xx fail at once);
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

import requests
from tqdm import tqdm

from explorer.guards.netguard import (
    USER_AGENT,
    DeadlineExceeded,
    GuardedSession,
    TooManyRedirects,
    UnsafeURLError,
    check_url,
    follow,
)
from explorer.guards.netguard import deadline as _deadline
from explorer.guards.netguard import remaining as _remaining

_CHUNK = 1 << 16
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


class InvalidDownload(DownloadError):
    """The bytes arrived but are not what the registry declares (an HTML error page, a truncated
    zip …): they never replace a stored copy."""


class DownloadDeadline(DownloadError):
    """The download took longer than its total deadline (EXPLORER_DOWNLOAD_DEADLINE)."""


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


def _open(session: GuardedSession, url: str, timeout: tuple[float, float],
          allow_private: bool) -> tuple[requests.Response, str, int]:
    """GET with redirects followed by hand, each hop checked against the network guard."""
    try:
        return follow(session, url, check=check_url, allow_private=allow_private, timeout=timeout,
                      headers={"Accept-Encoding": "identity"})
    except UnsafeURLError as exc:
        raise DownloadRefused(url, f"refused: {exc}") from None
    except TooManyRedirects as exc:
        raise DownloadError(url, str(exc).split(": ", 1)[-1]) from None


def download(url: str, dest: Path, *, session: GuardedSession | None = None,
             timeout: float = 30.0, retries: int = 3, backoff: float = 0.5,
             max_bytes: int = 512 * 1024 * 1024, allow_private: bool = False,
             expected_checksum: str | None = None, expected_size: int | None = None,
             progress: bool | None = None, label: str | None = None,
             deadline: float | None = 120.0) -> DownloadResult:
    """Download ``url`` to ``dest`` (created only when complete and verified).

    ``retries`` is the number of attempts (at least one); ``timeout`` the idle timeout (connect,
    and between bytes); ``deadline`` the most seconds the whole download may take (None: no
    limit). ``session`` must be a :class:`GuardedSession` (one is made when None). Raises
    :class:`DownloadError` (or a subclass) naming the URL; nothing is left at ``dest`` or beside it
    on failure.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if session is not None and not isinstance(session, GuardedSession):
        raise TypeError("download() takes a netguard.GuardedSession: every request must pass the guard")
    attempts = max(1, int(retries))
    own_session = session is None
    if own_session:
        session = GuardedSession(allow_private=allow_private, retries=attempts, backoff=backoff)
    try:
        expected = parse_checksum(expected_checksum) if expected_checksum else None
    except ValueError as exc:
        raise DownloadError(url, f"cannot verify: {exc}") from None
    show = _stderr_is_tty() if progress is None else bool(progress)
    used = [0]   # requests made so far, urllib3's retries included
    try:
        with _deadline(deadline):
            last: Exception | None = None
            while used[0] < attempts:
                try:
                    result = _attempt(session, url, dest, (timeout, timeout), max_bytes,
                                      allow_private, expected, expected_size, show,
                                      label or dest.name, used)
                    result.attempts = used[0]
                    return result
                except _Retryable as exc:
                    last = exc
                except requests.exceptions.ChunkedEncodingError as exc:
                    last = exc
                except (requests.ConnectionError, requests.Timeout) as exc:
                    # urllib3 has already retried these as often as the session allows
                    raise DownloadError(url, f"{_reason(exc)} (gave up after {attempts} "
                                             f"attempt(s))") from None
                except requests.RequestException as exc:  # invalid URL …
                    raise DownloadError(url, f"request failed: {exc}") from None
                if used[0] < attempts:
                    left = _remaining()
                    delay = min(backoff * (2 ** (used[0] - 1)), 30.0)
                    if left is not None and delay >= left:
                        raise DeadlineExceeded(deadline)
                    time.sleep(max(delay, 0.0))
            reason = last.reason if isinstance(last, DownloadError) else _reason(last)
            raise DownloadError(url, f"{reason} (gave up after {used[0]} attempt(s))") from None
    except DeadlineExceeded:
        raise DownloadDeadline(url, f"took longer than {deadline:g} s in all, the limit on one "
                                    f"download (EXPLORER_DOWNLOAD_DEADLINE); stopped") from None
    finally:
        if own_session:
            session.close()


def _reason(exc: Exception | None) -> str:
    text = str(exc)
    if "(Caused by " in text:
        text = text.split("(Caused by ", 1)[1].rstrip(")")
    return f"{type(exc).__name__}: {text}"


def _attempt(session, url, dest, timeout, max_bytes, allow_private, expected, expected_size,
             show, label, used: list[int]) -> DownloadResult:
    resp, final_url, made = _open(session, url, timeout, allow_private)
    used[0] += made
    with resp:
        code = resp.status_code
        if code == 429 or code >= 500:   # urllib3 has retried it as often as allowed
            raise DownloadError(url, f"HTTP {code} {resp.reason or ''}".strip()
                                + f" (gave up after {used[0]} attempt(s))")
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
