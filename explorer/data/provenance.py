"""Where a file came from and what was done to it.

A :class:`Provenance` travels with every resolved resource: the resolver creates it (origin
``local``, ``store`` or ``download``), loaders append transformations ("reprojected EPSG:27700 →
EPSG:4326"), and the app shows it beside each chart and map layer and writes it beside exports.

Downloads in the store carry a ``provenance.json`` beside them. Local files are hashed once and
the digest is cached in ``<home>/hashes.json`` (keyed by path, checked against size, mtime and
inode), because hashing many megabytes on every load is wasteful.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path

ORIGINS = ("local", "store", "download")
PROVENANCE_FILE = "provenance.json"
_REQUIRED = ("dataset_id", "resource_id", "origin", "path", "retrieved_at", "sha256", "size")


@dataclass
class Provenance:
    """Where a resolved file came from.

    ``retrieved_at`` is an ISO 8601 UTC timestamp: when the file was downloaded, or, for
    ``origin == "local"``, the local file's modification time (nobody recorded when it was
    fetched). ``sha256`` and ``size`` describe the file at ``path`` (for a zip member, the
    extracted member; the zip itself is ``download_sha256``/``download_size``).
    """

    dataset_id: str
    resource_id: str
    origin: str                          # "local" | "store" | "download"
    path: str
    retrieved_at: str
    sha256: str
    size: int
    source_url: str | None = None        # the URL we fetch (or would fetch) the resource from
    upstream_url: str | None = None      # the publisher's own URL / dataset page
    licence: str = ""
    licence_url: str | None = None
    attribution: str = ""
    publisher: str = ""
    transformations: list[str] = field(default_factory=list)
    checksum: str | None = None          # the registry's checksum, when it was verified
    archive_member: str | None = None    # member extracted from a downloaded zip
    download_sha256: str | None = None   # sha256 of the bytes downloaded (the zip, when extracted)
    download_size: int | None = None
    sidecars: list[dict] = field(default_factory=list)  # [{"name", "size", "sha256"}]
    refresh_failed_at: str | None = None  # first failed refresh since this copy was stored
    refresh_error: str | None = None      # why the latest refresh failed

    def __post_init__(self) -> None:
        if self.origin not in ORIGINS:
            raise ValueError(f"provenance origin must be one of {', '.join(ORIGINS)}, got {self.origin!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Provenance":
        if not isinstance(data, dict):
            raise ValueError(f"provenance: expected an object, got {type(data).__name__}")
        missing = [name for name in _REQUIRED if data.get(name) in (None, "")]
        if missing:
            raise ValueError(f"provenance: missing field(s) {', '.join(missing)}")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        try:
            values["size"] = int(values["size"])
        except (TypeError, ValueError):
            raise ValueError(f"provenance: field 'size' is not a number: {data.get('size')!r}") from None
        if not isinstance(values.get("transformations", []), list):
            raise ValueError("provenance: field 'transformations' must be a list")
        if not isinstance(values.get("sidecars", []), list):
            raise ValueError("provenance: field 'sidecars' must be a list")
        values["transformations"] = [str(t) for t in values.get("transformations") or []]
        values["sidecars"] = [dict(s) for s in values.get("sidecars") or []]
        return cls(**values)

    def with_transformation(self, text: str) -> "Provenance":
        """A copy with one more transformation appended (this one is left unchanged)."""
        return replace(self, transformations=[*self.transformations, str(text)],
                       sidecars=[dict(s) for s in self.sidecars])


# ------------------------------------------------------------------------------------------------
def utc_now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def mtime_iso(path: Path) -> str:
    stamp = Path(path).stat().st_mtime
    return datetime.fromtimestamp(stamp, timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def write_json_atomic(path: Path, data: object) -> None:
    """Write JSON to a temporary file in the same folder, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_provenance(prov: Provenance, folder_or_file: Path) -> Path:
    """Write ``provenance.json`` (atomically) into a folder, or to the given ``.json`` path."""
    target = Path(folder_or_file)
    if target.suffix.lower() != ".json":
        target = target / PROVENANCE_FILE
    write_json_atomic(target, prov.to_dict())
    return target


def read_provenance(folder_or_file: Path) -> Provenance:
    """Read and check a ``provenance.json``; ValueError (naming the file) when unusable."""
    target = Path(folder_or_file)
    if target.suffix.lower() != ".json":
        target = target / PROVENANCE_FILE
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise ValueError(f"{target}: unreadable provenance ({exc})") from None
    try:
        return Provenance.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{target}: {exc}") from None


# ------------------------------------------------------------------------------------------------
class HashCache:
    """sha256 digests of files, remembered in a small JSON file.

    An entry is reused only while the file's size, mtime (ns), ctime (ns) and inode are unchanged;
    a file replaced by ``os.replace`` gets a new inode, so it is always hashed again. Failing to
    save the cache (read-only home) never fails a load.
    """

    _MAX_ENTRIES = 5000
    _locks: dict[str, threading.Lock] = {}
    _locks_guard = threading.Lock()

    def __init__(self, path: Path):
        self.path = Path(path)
        with HashCache._locks_guard:
            self._lock = HashCache._locks.setdefault(str(self.path), threading.Lock())

    @staticmethod
    def _signature(st: os.stat_result) -> dict:
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns,
                "ino": st.st_ino}

    def _load(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, data: dict) -> None:
        if len(data) > self._MAX_ENTRIES:
            # Keep the most recently hashed entries.
            keep = sorted(data.items(), key=lambda kv: kv[1].get("hashed_at", ""), reverse=True)
            data = dict(keep[: self._MAX_ENTRIES])
        try:
            write_json_atomic(self.path, data)
        except OSError:
            pass

    def lookup(self, file: Path) -> str | None:
        """The cached digest of ``file`` if the file is unchanged since it was hashed, else None."""
        key = str(Path(file).resolve())
        try:
            sig = self._signature(os.stat(key))
        except OSError:
            return None
        with self._lock:
            item = self._load().get(key)
        if isinstance(item, dict) and all(item.get(k) == v for k, v in sig.items()):
            digest = item.get("sha256")
            return digest if isinstance(digest, str) else None
        return None

    def remember(self, file: Path, digest: str, _sig: dict | None = None) -> None:
        """Record the digest of ``file`` as it is now (call right after hashing or writing it)."""
        key = str(Path(file).resolve())
        try:
            sig = _sig or self._signature(os.stat(key))
        except OSError:
            return
        with self._lock:
            data = self._load()
            data[key] = {**sig, "sha256": digest, "hashed_at": utc_now_iso()}
            self._save(data)

    def sha256(self, file: Path) -> str:
        """sha256 of ``file``, from the cache when the file has not changed since."""
        cached = self.lookup(file)
        if cached is not None:
            return cached
        before = self._signature(os.stat(file))
        digest = sha256_file(file)
        after = self._signature(os.stat(file))
        if before == after:  # not remembered if the file changed while it was being read
            self.remember(file, digest, after)
        return digest
