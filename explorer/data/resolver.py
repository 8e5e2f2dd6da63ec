"""Resolve a registry resource to a local file, with its provenance.

Lookup order for one resource of an entry:

1. the **local data folder** (``settings.data_dir``): ``data_dir / resource.local_path`` and every
   sidecar beside it, used in place (never copied); the path must stay inside the data folder;
2. the **store** (``settings.store_dir / <entry id> / <resource id>``): a previous download,
   valid only when its ``provenance.json`` is complete and the files' sizes and sha256 match it,
   and it came from the URL/checksum/member the registry names now;
3. a **download** (unless ``settings.offline``) into the store: checked URL, timeouts, retries,
   size cap, checksum and size verified, zip members extracted safely;

otherwise :class:`ResolveError` says, for that dataset and resource, what was tried and why each
step failed. :meth:`Resolver.where` reports the same without downloading.

When a stored copy can no longer be used as it is (the registry now names another URL, checksum
or zip member) and the download that would refresh it fails (network error, HTTP error, a bad
file), the **last stored copy is served** instead of an error, provided its files are intact, and
its provenance says so: ``refresh_failed_at`` (the first failed attempt since it was stored, kept
in its ``provenance.json``) and ``refresh_error``. A failed forced refresh (``fetch(force=True)``)
still raises, but records the same on the copy it kept. A successful download clears both.

Store writes are crash-safe: files are downloaded into a staging folder beside the resource's
folder, the old ``provenance.json`` is removed, files are renamed into place, and the new
``provenance.json`` is written last, so a half-finished store copy is never taken as valid.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit


from explorer.data import archive
from explorer.data.download import DownloadError, DownloadRefused, InvalidDownload, download
from explorer.catalogue.models import Entry, Resource
from explorer.guards.netguard import GuardedSession, UnsafeURLError, check_url
from explorer.data.provenance import (
    PROVENANCE_FILE,
    HashCache,
    Provenance,
    mtime_iso,
    read_provenance,
    sha256_file,
    utc_now_iso,
    write_provenance,
)
from explorer.settings import Settings

# Zip files that are documents in their own right, not archives of data files.
_ZIP_CONTAINER_FORMATS = {"xlsx", "xlsm", "docx", "pptx", "ods", "odt", "kmz", "jar"}
_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,119}$")
_STALE_STAGING_SECONDS = 24 * 3600
_AVAILABLE_MESSAGES = {
    "local": "{where}: found in the local data folder",
    "store": "{where}: a downloaded copy is in the store",
    "download": "{where}: not here yet; it will be downloaded from {url}",
}


_PLAIN_REASONS = (   # (words in the technical reason, what a resident reads), first match wins
    ("EXPLORER_DOWNLOAD_DEADLINE", "the source took too long to send the file"),
    ("web page (HTML)", "the source sent a web page instead of the data"),
    ("not a readable zip", "the source sent a damaged or incomplete archive"),
    ("truncated", "the source sent an incomplete file"),
    ("connection closed after", "the source sent an incomplete file"),
    ("decompression bomb", "the new file unpacks to far more data than allowed"),
    ("not usable", "the source sent a file that cannot be read as the data"),
    (": refused: ", "the new address was refused for safety"),
    ("mismatch", "the new file does not match its published checksum"),
    ("download limit", "the new file is larger than the download limit"),
    ("HTTP 404", "the file is no longer at its address"),
    ("HTTP 429", "the source's server was too busy"),
    ("HTTP 4", "the source refused the request"),
    ("HTTP 5", "the source's server answered with an error"),
)


def refresh_summary(error: str | None) -> str:
    """The reason a refresh failed (``provenance.refresh_error``) in a few plain words."""
    text = str(error or "")
    for words, plain in _PLAIN_REASONS:
        if words in text:
            return plain
    return "the source could not be reached" if text else "reason not recorded"


class ResolveError(Exception):
    """A resource that could not be made available; the message names what was tried."""

    def __init__(self, dataset_id: str, resource_id: str | None, tried: list[str]):
        self.dataset_id = dataset_id
        self.resource_id = resource_id
        self.tried = list(tried)
        where = f"{dataset_id}/{resource_id}" if resource_id else dataset_id
        super().__init__(f"{where}: {_join_reasons(self.tried)}")


def _join_reasons(reasons: list[str]) -> str:
    if not reasons:
        return "not available"
    if len(reasons) == 1:
        return reasons[0]
    return ", ".join(reasons[:-1]) + ", and " + reasons[-1]


@dataclass
class Resolved:
    path: Path
    provenance: Provenance
    sidecar_paths: list[Path] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return self.provenance.origin


# ------------------------------------------------------------------------------------------------
def _component(text: str) -> str:
    """A folder name for an id: the id itself when safe, else a slug plus a short hash."""
    if _SAFE_COMPONENT.match(text) and ".." not in text:
        return text
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80] or "resource"
    return f"{slug}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:8]}"


def _safe_filename(name: str, fallback: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._~ ()+,-]+", "_", name).strip(" .")
    if not name:
        name = fallback
    if name == PROVENANCE_FILE:
        name = "data-" + name
    return name[:150]


def _check_sidecar_name(name: str, entry_id: str, resource_id: str) -> str:
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise ResolveError(entry_id, resource_id,
                           [f"sidecar name {name!r} is not a plain file name (field 'sidecars')"])
    return name


def sidecar_file_name(main_name: str, sidecar: str) -> str:
    """A sidecar's file name: as given, or ``stem + sidecar`` when given as a suffix (``.dbf``)."""
    if sidecar.startswith(".") and sidecar.count(".") == 1:
        return main_name[: main_name.rfind(".")] + sidecar if "." in main_name else main_name + sidecar
    return sidecar


def sidecar_url(url: str, name: str) -> str:
    """The URL of a file beside ``url`` (same folder; the query string is not carried over)."""
    parts = urlsplit(url)
    folder = posixpath.dirname(parts.path)
    return urlunsplit((parts.scheme, parts.netloc, f"{folder}/{quote(name)}", "", ""))


def _url_file_name(url: str, fallback: str) -> str:
    return _safe_filename(unquote(posixpath.basename(urlsplit(url).path)), fallback)


class Resolver:
    """Find or fetch registry resources; see the module docstring for the order of lookup."""

    _locks: dict[str, threading.Lock] = {}
    _locks_guard = threading.Lock()

    def __init__(self, settings: Settings, session: GuardedSession | None = None,
                 progress: bool | None = None, *, backoff: float = 0.5):
        self.settings = settings
        self.session = session
        self.progress = progress
        self.backoff = backoff
        self.hashes = HashCache(settings.home / "hashes.json")

    # Public API ---------------------------------------------------------------------------------
    def resolve(self, entry: Entry, resource_id: str | None = None) -> Resolved:
        """Local data folder, then the store, then a download; ResolveError when none works."""
        res = self._pick(entry, resource_id)
        tried: list[str] = []
        local, reason = self._local(entry, res)
        if local is not None:
            return local
        tried.append(reason)
        with self._lock(entry, res):
            stored, reason = self._stored(entry, res)
            if stored is not None:
                return stored
            tried.append(reason)
            try:
                return self._download(entry, res, tried)
            except ResolveError as exc:
                last = self._last_copy_after_failed_refresh(entry, res, exc)
                if last is None:
                    raise
                return last

    def fetch(self, entry: Entry, resource_id: str | None = None, force: bool = False) -> Resolved:
        """Like :meth:`resolve`; with ``force=True``, download into the store again regardless
        of any local or stored copy (a previous store copy is kept if the download fails)."""
        if not force:
            return self.resolve(entry, resource_id)
        res = self._pick(entry, resource_id)
        with self._lock(entry, res):
            try:
                return self._download(entry, res, ["a fresh download was asked for"])
            except ResolveError as exc:
                # Asked for explicitly, so the failure is reported; the copy kept is marked.
                self._last_copy_after_failed_refresh(entry, res, exc)
                raise

    def where(self, entry: Entry, resource_id: str | None = None) -> dict:
        """What is available where, without downloading (for "why can't it load" messages)."""
        res = self._pick(entry, resource_id)
        local, local_reason = self._local(entry, res)
        stored, store_reason = self._stored(entry, res)
        folder = self._store_folder(entry, res)
        download_ok, download_reason = True, "a download is possible"
        if self.settings.offline:
            download_ok, download_reason = False, "downloads are off (offline)"
        elif not res.url:
            download_ok, download_reason = False, self._no_url_reason(entry)
        else:
            try:
                # No DNS lookup here: a page view must not wait on the network (the download
                # itself checks every address the name resolves to).
                check_url(res.url, allow_private=self.settings.allow_private_urls, resolve=False)
            except UnsafeURLError as exc:
                download_ok, download_reason = False, f"the download would be refused ({exc})"
        available = "local" if local else "store" if stored else "download" if download_ok else None
        reasons = [r for r, ok in ((local_reason, local), (store_reason, stored),
                                   (download_reason, download_ok)) if not ok]
        return {
            "dataset_id": entry.id,
            "resource_id": res.id,
            "available": available,
            "local": {
                "path": str(local.path) if local else self._local_candidate(res),
                "ok": local is not None,
                "reason": "found in the local data folder" if local else local_reason,
            },
            "store": {
                "path": str(stored.path) if stored else str(folder),
                "ok": stored is not None,
                "reason": "a valid copy is in the store" if stored else store_reason,
            },
            "download": {
                "url": res.url,
                "ok": download_ok,
                "reason": download_reason,
            },
            "message": _AVAILABLE_MESSAGES[available].format(
                where=f"{entry.id}/{res.id}", url=res.url) if available else
            str(ResolveError(entry.id, res.id, reasons)),
        }

    def copies_signature(self, entry: Entry, resource_id: str | None = None) -> tuple:
        """What is on disk for a resource, as ``stat`` figures (size, modification time, inode) of
        its local file and that file's folder, its store folder and each file in it: a few ``stat``
        calls and no file read, so a memo of something drawn from the resource (a page, a preview)
        can key on it and a copy that appears, goes or is replaced gives a new key. An unknown
        resource raises :class:`ResolveError`, as :meth:`where` does."""
        res = self._pick(entry, resource_id)

        def stat(path) -> tuple | None:
            try:
                st = os.stat(path)
            except OSError:
                return None
            return st.st_size, st.st_mtime_ns, st.st_ino

        local = self._local_candidate(res)
        folder = self._store_folder(entry, res)
        try:
            with os.scandir(folder) as items:
                stored = tuple(sorted((item.name, stat(item.path)) for item in items))
        except OSError:
            stored = ()
        return (res.id, local, stat(local) if local else None,
                stat(os.path.dirname(local)) if local else None, stat(folder), stored)

    # Steps --------------------------------------------------------------------------------------
    def _pick(self, entry: Entry, resource_id: str | None) -> Resource:
        try:
            return entry.resource(resource_id)
        except LookupError as exc:
            raise ResolveError(entry.id, resource_id, [str(exc)]) from None

    def _local_candidate(self, res: Resource) -> str | None:
        if self.settings.data_dir is None or not res.local_path:
            return None
        return str(Path(self.settings.data_dir) / res.local_path)

    def _local(self, entry: Entry, res: Resource) -> tuple[Resolved | None, str]:
        if not res.local_path:
            return None, "no local path is registered"
        if self.settings.data_dir is None:
            return None, "no local data folder is set (EXPLORER_DATA_DIR)"
        root = Path(self.settings.data_dir).resolve()
        main, problem = self._local_file(root, res.local_path, "the local path")
        if main is None:
            return None, problem
        candidate = root / res.local_path
        sidecars: list[Path] = []
        for name in res.sidecars:
            name = sidecar_file_name(main.name, _check_sidecar_name(name, entry.id, res.id))
            relative = posixpath.join(posixpath.dirname(res.local_path.replace("\\", "/")), name)
            side, problem = self._local_file(root, relative, f"the sidecar {name!r}")
            if side is None:
                if problem.startswith("not in the local data folder"):
                    return None, f"not complete in the local data folder ({candidate.parent / name} missing)"
                return None, problem
            sidecars.append(side)
        digest = self.hashes.sha256(main)
        verified = None
        if res.checksum and res.checksum.startswith("sha256:"):
            if res.checksum != f"sha256:{digest}":
                return None, (f"the local file {candidate} differs from the registry's checksum "
                              f"(sha256 {digest[:12]}…, expected {res.checksum[7:19]}…)")
            verified = res.checksum
        prov = self._provenance(entry, res, origin="local", path=main, sha256=digest,
                                size=main.stat().st_size, retrieved_at=mtime_iso(main),
                                checksum=verified,
                                sidecars=[self._sidecar_record(p) for p in sidecars])
        return Resolved(main, prov, sidecars), ""

    def _link_roots(self) -> list[Path]:
        text = self.settings.data_links_to or ""
        return [Path(p).expanduser().resolve() for p in text.split(os.pathsep) if p.strip()]

    def _local_file(self, root: Path, local_path: str, what: str) -> tuple[Path | None, str]:
        """The file ``local_path`` names under the data folder, or (None, why not).

        The path itself must stay inside (relative, no '..'). Symbolic links on the way, placed by
        the operator, are followed when they lead inside the data folder or into a folder named in
        EXPLORER_DATA_LINKS_TO; any other link is refused, and the message says which one and why.
        The file must be a regular file (not a device, a pipe or a folder).
        """
        parts = [p for p in str(local_path).replace("\\", "/").split("/") if p not in ("", ".")]
        if not parts or str(local_path).startswith(("/", "\\")) or ".." in parts \
                or re.match(r"^[A-Za-z]:", str(local_path)):
            return None, (f"{what} {local_path!r} leads outside the data folder (an absolute path "
                          "or '..'); refused")
        allowed = [root, *self._link_roots()]
        current = root
        for depth, part in enumerate(parts, start=1):
            current = current / part
            if not current.is_symlink():
                continue
            target = current.resolve()
            if any(target.is_relative_to(r) for r in allowed):
                continue
            kind = "file" if depth == len(parts) else "folder"
            shown = "/".join(parts[:depth])
            return None, (f"{what} {local_path!r} leads outside the data folder: the {kind} "
                          f"{shown!r} in it is a symbolic link to a place outside the data folder; "
                          "such links are followed only into the folders named in "
                          "EXPLORER_DATA_LINKS_TO; refused")
        main = current.resolve()
        if not any(main.is_relative_to(r) for r in allowed):
            return None, f"{what} {local_path!r} leads outside the data folder; refused"
        if not main.exists():
            return None, f"not in the local data folder ({root / local_path} missing)"
        if not main.is_file():
            return None, (f"{what} {local_path!r} is not a regular file (a folder, device or "
                          "pipe); refused")
        return main, ""

    def _store_folder(self, entry: Entry, res: Resource) -> Path:
        return self.settings.store_dir / _component(entry.id) / _component(res.id)

    def _stored(self, entry: Entry, res: Resource, current: bool = True) -> tuple[Resolved | None, str]:
        """A valid store copy; with ``current=False`` also one the registry has moved on from
        (another URL, checksum or member), as long as its files match its provenance."""
        folder = self._store_folder(entry, res)
        prov_path = folder / PROVENANCE_FILE
        if not prov_path.is_file():
            has_files = folder.is_dir() and any(not p.name.startswith(".") for p in folder.iterdir())
            return None, ("not in the store (an incomplete copy without provenance.json is there)"
                          if has_files else "not in the store")
        try:
            prov = read_provenance(prov_path)
        except (OSError, ValueError) as exc:
            return None, f"not in the store (its provenance.json is unusable: {exc})"
        if prov.dataset_id != entry.id or prov.resource_id != res.id:
            return None, "not in the store (the copy there belongs to another resource)"
        stale = []
        if res.url and prov.source_url != res.url:
            stale.append(f"it came from {prov.source_url}, the registry now says {res.url}")
        if res.checksum and prov.checksum != res.checksum:
            stale.append("the registry's checksum changed")
        if res.archive_member and prov.archive_member != res.archive_member:
            stale.append("the registry names another zip member")
        if stale and current:
            return None, f"the store copy is out of date ({'; '.join(stale)})"
        main = folder / Path(prov.path).name
        problem = self._check_file(main, prov.size, prov.sha256)
        if problem:
            return None, f"the store copy is damaged ({problem})"
        recorded = {str(s.get("name")): s for s in prov.sidecars}
        sidecars: list[Path] = []
        for name in res.sidecars:
            name = sidecar_file_name(main.name, _check_sidecar_name(name, entry.id, res.id))
            if name not in recorded and current:
                return None, f"the store copy is incomplete (sidecar {name} was not downloaded)"
        for name, record in recorded.items():
            path = folder / _safe_filename(name, "sidecar")
            problem = self._check_file(path, record.get("size"), record.get("sha256"))
            if problem:
                return None, f"the store copy is damaged ({problem})"
            sidecars.append(path)
        prov = replace(prov, origin="store", path=str(main))
        return Resolved(main, prov, sidecars), ""

    def _last_copy_after_failed_refresh(self, entry: Entry, res: Resource,
                                        error: ResolveError) -> Resolved | None:
        """After a failed download: the intact store copy, marked in its provenance.json as not
        refreshed since the first failure; None when the failure was not a download that failed
        (offline, no URL) or there is no intact copy."""
        cause = error.__cause__
        if not isinstance(cause, (DownloadError, archive.ArchiveError)):
            return None
        last, _ = self._stored(entry, res, current=False)
        if last is None:
            return None
        folder = self._store_folder(entry, res)
        reason = str(cause)[:500]
        try:
            on_disk = read_provenance(folder)
            marked = replace(on_disk, refresh_failed_at=on_disk.refresh_failed_at or utc_now_iso(),
                             refresh_error=reason)
            write_provenance(marked, folder)
        except (OSError, ValueError):
            marked = replace(last.provenance, refresh_failed_at=last.provenance.refresh_failed_at
                             or utc_now_iso(), refresh_error=reason)
        prov = replace(last.provenance, refresh_failed_at=marked.refresh_failed_at,
                       refresh_error=reason)
        return Resolved(last.path, prov, last.sidecar_paths)

    def _check_file(self, path: Path, size: object, sha256: object) -> str | None:
        try:
            actual = path.stat().st_size
        except OSError:
            return f"{path.name} missing"
        if actual != size:
            return f"{path.name} has {actual:,} bytes, provenance says {size}"
        if self.hashes.sha256(path) != sha256:
            return f"{path.name} does not match its sha256 in provenance.json"
        return None

    def _download(self, entry: Entry, res: Resource, tried: list[str]) -> Resolved:
        s = self.settings
        if s.offline:
            raise ResolveError(entry.id, res.id, [*tried, "downloads are off (offline)"])
        if not res.url:
            raise ResolveError(entry.id, res.id, [*tried, self._no_url_reason(entry)])
        folder = self._store_folder(entry, res)
        folder.parent.mkdir(parents=True, exist_ok=True)
        self._clean_staging(folder.parent)
        staging = folder.parent / f".{folder.name}.staging-{uuid.uuid4().hex[:10]}"
        staging.mkdir()
        try:
            try:
                prov, names = self._download_into(entry, res, staging)
            except DownloadRefused as exc:
                raise ResolveError(entry.id, res.id, [*tried, f"the download was refused ({exc})"]) from exc
            except (DownloadError, archive.ArchiveError) as exc:
                raise ResolveError(entry.id, res.id, [*tried, f"the download failed ({exc})"]) from exc
            # Swap into place: provenance out first, files in, provenance last.
            folder.mkdir(parents=True, exist_ok=True)
            (folder / PROVENANCE_FILE).unlink(missing_ok=True)
            for old in folder.iterdir():
                if old.name not in names and old.is_file() and not old.name.startswith("."):
                    old.unlink(missing_ok=True)
            for name in names:
                os.replace(staging / name, folder / name)
            main = folder / Path(prov.path).name
            prov = replace(prov, path=str(main))
            self.hashes.remember(main, prov.sha256)
            sidecar_paths = []
            for record in prov.sidecars:
                path = folder / record["name"]
                self.hashes.remember(path, record["sha256"])
                sidecar_paths.append(path)
            write_provenance(prov, folder)
            return Resolved(main, prov, sidecar_paths)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _download_into(self, entry: Entry, res: Resource, staging: Path) -> tuple[Provenance, list[str]]:
        """Download (and extract) into ``staging``; return the provenance and the file names."""
        s = self.settings
        budget = s.max_download_bytes
        name = _url_file_name(res.url, f"{_component(res.id)}.{res.format or 'bin'}")
        common = dict(session=self.session, timeout=s.http_timeout, retries=s.http_retries,
                      backoff=self.backoff, allow_private=s.allow_private_urls, progress=self.progress,
                      deadline=s.download_deadline)
        got = download(res.url, staging / name, max_bytes=budget, expected_checksum=res.checksum,
                       expected_size=res.size, label=f"{entry.id}/{res.id}", **common)
        budget -= got.size
        retrieved_at = utc_now_iso()
        is_zip = zipfile.is_zipfile(got.path)
        if res.archive_member and not is_zip:
            raise archive.ArchiveError(f"{res.url}: the registry names the zip member "
                                       f"{res.archive_member!r} but the download is not a zip")
        member = None
        if is_zip and (res.archive_member or res.format not in _ZIP_CONTAINER_FORMATS):
            member = res.archive_member or archive.obvious_member(got.path, res.format or None)
        if member is not None:
            folder_in_zip = archive.member_dir(member)
            member_name = posixpath.basename(member.replace("\\", "/"))
            if res.sidecars:
                wanted = [posixpath.join(folder_in_zip, sidecar_file_name(member_name, n))
                          if folder_in_zip else sidecar_file_name(member_name, n)
                          for n in (_check_sidecar_name(x, entry.id, res.id) for x in res.sidecars)]
            else:
                wanted = archive.sidecar_members(got.path, member)
            extracted = archive.extract_members(got.path, [member, *wanted], staging,
                                                max_bytes=s.max_download_bytes)
            got.path.unlink()
            for path in extracted:
                if path.name == PROVENANCE_FILE or path.name.startswith("."):
                    raise archive.ArchiveError(f"{res.url}: member {path.name!r} has a reserved name")
            main, sidecar_paths = extracted[0], extracted[1:]
            sha = sha256_file(main)
            size = main.stat().st_size
        else:
            main, sha, size = got.path, got.sha256, got.size
            sidecar_paths = []
            for side in res.sidecars:
                side_name = _safe_filename(sidecar_file_name(name, _check_sidecar_name(side, entry.id, res.id)),
                                           "sidecar")
                part = download(sidecar_url(res.url, side_name), staging / side_name,
                                max_bytes=max(budget, 0), label=side_name, **common)
                budget -= part.size
                sidecar_paths.append(part.path)
        self._validate(res, main, extracted_from_zip=member is not None)
        prov = self._provenance(entry, res, origin="download", path=main, sha256=sha, size=size,
                                retrieved_at=retrieved_at, checksum=got.checksum_verified,
                                archive_member=member, download_sha256=got.sha256,
                                download_size=got.size,
                                sidecars=[self._sidecar_record(p) for p in sidecar_paths])
        return prov, [main.name, *(p.name for p in sidecar_paths)]

    @staticmethod
    def _validate(res: Resource, main: Path, extracted_from_zip: bool) -> None:
        """The new copy must be what the registry declares before it replaces the stored one."""
        from explorer.data.loaders import LoadError, validate_file
        from explorer.catalogue.models import guess_format

        declared = res
        if extracted_from_zip:   # judge the member by its own name, not the archive's format
            declared = replace(res, format=guess_format(main.name) or "", archive_member=None)
        try:
            validate_file(main, declared)
        except LoadError as exc:
            raise InvalidDownload(res.url, f"the new copy is not usable: {exc}") from None

    # Helpers ------------------------------------------------------------------------------------
    def _provenance(self, entry: Entry, res: Resource, **values) -> Provenance:
        values["path"] = str(values["path"])
        return Provenance(
            dataset_id=entry.id, resource_id=res.id, source_url=res.url,
            upstream_url=res.upstream_url or entry.upstream_url, licence=entry.licence,
            licence_url=entry.licence_url, attribution=entry.attribution,
            publisher=entry.publisher, **values)

    def _sidecar_record(self, path: Path) -> dict:
        return {"name": path.name, "size": path.stat().st_size, "sha256": self.hashes.sha256(path)}

    @staticmethod
    def _no_url_reason(entry: Entry) -> str:
        if entry.access_level != "open":
            note = f": {entry.access_note}" if entry.access_note else ""
            return f"there is no download URL (access is {entry.access_level}{note})"
        return "there is no download URL"

    @staticmethod
    def _clean_staging(parent: Path) -> None:
        """Remove staging folders left by killed processes (older than a day)."""
        now = time.time()
        try:
            for path in parent.iterdir():
                if path.name.startswith(".") and ".staging-" in path.name:
                    try:
                        if now - path.stat().st_mtime > _STALE_STAGING_SECONDS:
                            shutil.rmtree(path, ignore_errors=True)
                    except OSError:
                        pass
        except OSError:
            pass

    def _lock(self, entry: Entry, res: Resource) -> threading.Lock:
        key = str(self._store_folder(entry, res))
        with Resolver._locks_guard:
            return Resolver._locks.setdefault(key, threading.Lock())
