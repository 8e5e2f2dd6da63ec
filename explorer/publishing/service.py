"""Create, edit, publish, archive and revert entries; add resources by URL or upload.

Every change is checked whole before anything is written (``FieldErrors`` names each bad field),
then written in one transaction: the new version, its audit line, the upload record and, for a
published entry, the registry row (the registry's own transaction runs inside ours and its
failure rolls ours back). An uploaded file is moved into the store before the transaction and
removed again if anything after fails, so no half-written entry or orphaned upload remains.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from explorer.accounts.store import User, publisher_slug
from explorer.catalogue.models import ACCESS_LEVELS, GEOGRAPHY_LEVELS, UPDATE_FREQUENCIES, Entry, EntryError, Resource, slugify
from explorer.guards.textsafe import safe_markdown
from explorer.publishing.access import AccessDenied, AccessPolicy
from explorer.publishing.errors import FieldErrors, PublishError
from explorer.publishing.store import PublishingStore
from explorer.publishing.uploads import UPLOAD_FORMATS, check_upload, sniff

LICENCES = (
    ("OGL-UK-3.0", "Open Government Licence v3.0", "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"),
    ("CC-BY-4.0", "Creative Commons Attribution 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    ("CC-BY-SA-4.0", "Creative Commons Attribution-ShareAlike 4.0", "https://creativecommons.org/licenses/by-sa/4.0/"),
    ("CC0-1.0", "Creative Commons Zero (public domain)", "https://creativecommons.org/publicdomain/zero/1.0/"),
    ("ODbL-1.0", "Open Data Commons Open Database Licence", "https://opendatacommons.org/licenses/odbl/1-0/"),
    ("other", "Other (describe it)", None),
)
_LICENCE_BY_KEY = {k: (title, url) for k, title, url in LICENCES}
_LICENCE_BY_TITLE = {title.lower(): k for k, title, _ in LICENCES if k != "other"}
EDITABLE = ("title", "description", "publisher", "licence", "licence_other", "licence_url", "themes",
            "tags", "update_frequency", "temporal_start", "temporal_end", "spatial_coverage",
            "smallest_geography", "access_level", "access_note", "access_contact")
_EMAIL_RE = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$")


@dataclass
class Change:
    entry: Entry
    state: str
    version: int


def _today() -> str:
    return date.today().isoformat()


def licence_key(entry_or_title) -> str:
    title = entry_or_title.licence if isinstance(entry_or_title, Entry) else str(entry_or_title or "")
    return _LICENCE_BY_TITLE.get(title.lower(), "other" if title else "")


def form_values(entry: Entry) -> dict:
    """An entry as the form's field values."""
    key = licence_key(entry)
    return {
        "title": entry.title, "description": entry.description, "publisher": entry.publisher,
        "licence": key, "licence_other": entry.licence if key == "other" else "",
        "licence_url": (entry.licence_url or "") if key == "other" else "",
        "themes": ", ".join(entry.themes), "tags": ", ".join(entry.tags),
        "update_frequency": entry.update_frequency or "", "temporal_start": entry.temporal_start or "",
        "temporal_end": entry.temporal_end or "",
        "spatial_coverage": str(entry.extras.get("spatial_coverage") or ""),
        "smallest_geography": entry.smallest_geography or "", "access_level": entry.access_level,
        "access_note": entry.access_note, "access_contact": str(entry.extras.get("access_contact") or ""),
    }


class Publishing:
    def __init__(self, registry, store: PublishingStore, data=None, settings=None):
        self.registry = registry
        self.store = store
        self.data = data
        self.settings = settings
        self.access = AccessPolicy(store)

    # Reading --------------------------------------------------------------------------------------
    def current(self, entry_id: str) -> tuple[Entry, str]:
        """(entry, state): the latest version of an entry we manage, else the registry's entry."""
        state = self.store.state(entry_id)
        if state is not None:
            version = self.store.version(entry_id)
            return Entry.from_dict(version["data"]), state["state"]
        entry = self.registry.get(entry_id)
        if entry is None:
            raise PublishError(f"no dataset {entry_id!r}")
        return entry, "archived" if entry.archived else "published"

    def editable(self, user: User | None, entry_id: str) -> tuple[Entry, str]:
        if user is None:
            raise AccessDenied(401, "Sign in to change entries.")
        entry, state = self.current(entry_id)
        if not self.access.can_edit(user, entry):
            raise AccessDenied(403, "Only the publisher's editors can change this entry.", entry_id)
        return entry, state

    def list_for(self, user: User) -> list[dict]:
        rows = self.store.entries(None if user.is_admin else user.publisher_slugs)
        out = []
        for row in rows:
            version = self.store.version(row["id"])
            out.append({**row, "title": version["data"]["title"] if version else row["id"],
                        "version": version["version"] if version else 0})
        return out

    def publishers_for(self, user: User, accounts) -> list[str]:
        """Publisher names this user may publish for (admins: every known publisher)."""
        names = {m.name for m in user.memberships}
        if user.is_admin:
            names |= {name for _, name in accounts.publishers()}
            names |= {v for v, _ in self.registry.facet_totals().get("publisher", [])}
        return sorted(n for n in names if n)

    # Validation -----------------------------------------------------------------------------------
    def validate(self, values: dict, user: User, entry_id: str | None = None,
                 base: Entry | None = None) -> Entry:
        """The entry these form/API values describe, or FieldErrors naming every bad field."""
        errors: dict[str, str] = {}
        unknown = [k for k in values if k not in EDITABLE and k not in ("id", "licence_key", "resources")]
        for key in unknown[:5]:
            errors[key] = "This field is not known."

        def text(name: str, limit: int = 2000) -> str:
            raw = values.get(name, "")
            if raw is None:
                return ""
            if isinstance(raw, (list, tuple)) and name in ("themes", "tags"):
                raw = ", ".join(str(v) for v in raw)
            if not isinstance(raw, (str, int, float)):
                errors[name] = "Expected text."
                return ""
            raw = str(raw).replace("\x00", "").strip()
            if len(raw) > limit:
                errors[name] = f"Use at most {limit:,} characters."
            return raw[:limit]

        title = " ".join(text("title", 200).split())
        if not title:
            errors["title"] = "Give the dataset a title."
        # Markdown kept as written, without raw HTML or links other than http(s)/mailto (as harvests)
        description = safe_markdown(text("description", 20000))
        publisher = text("publisher", 200)
        if not publisher:
            errors["publisher"] = "Choose the publisher."
        elif not AccessPolicy.can_edit(user, publisher=publisher):
            errors["publisher"] = "You can only publish for your own publishers."
        key = text("licence", 40)
        licence_title, licence_url = "", None
        if key in _LICENCE_BY_KEY and key != "other":
            licence_title, licence_url = _LICENCE_BY_KEY[key]
        elif key.lower() in _LICENCE_BY_TITLE:
            licence_title, licence_url = _LICENCE_BY_KEY[_LICENCE_BY_TITLE[key.lower()]]
        elif key == "other":
            licence_title = text("licence_other", 200)
            licence_url = text("licence_url", 500) or None
            if not licence_title:
                errors["licence_other"] = "Name the licence."
            if licence_url and not re.match(r"^https?://", licence_url, re.I):
                errors["licence_url"] = "Give an address starting with https://."
        else:
            errors["licence"] = "Choose a licence from the list, or 'Other'."
        themes = [t.strip() for t in re.split(r"[,;\n]", text("themes", 1000)) if t.strip()][:20]
        tags = [t.strip() for t in re.split(r"[,;\n]", text("tags", 1000)) if t.strip()][:40]
        frequency = text("update_frequency", 40)
        if frequency and frequency not in UPDATE_FREQUENCIES:
            errors["update_frequency"] = "Choose how often it is updated from the list."
        dates = {}
        for name in ("temporal_start", "temporal_end"):
            raw = text(name, 20)
            if raw and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", raw):
                errors[name] = "Use a year (2021), a month (2021-04) or a date (2021-04-30)."
            else:
                if raw and len(raw) == 10:
                    try:
                        date.fromisoformat(raw)
                    except ValueError:
                        errors[name] = "This date does not exist."
                dates[name] = raw or None
        if dates.get("temporal_start") and dates.get("temporal_end") and "temporal_end" not in errors \
                and dates["temporal_end"] < dates["temporal_start"]:
            errors["temporal_end"] = "The end comes before the start."
        spatial = text("spatial_coverage", 200)
        geography = text("smallest_geography", 40).lower()
        if geography and geography not in GEOGRAPHY_LEVELS:
            errors["smallest_geography"] = "Choose the smallest geography from the list."
        access = (text("access_level", 20) or "open").lower()
        if access not in ACCESS_LEVELS:
            errors["access_level"] = "Choose open, shared or closed."
        note = text("access_note", 2000)
        contact = text("access_contact", 200)
        if contact and not _EMAIL_RE.match(contact):
            errors["access_contact"] = "Give an email address like data@borough.gov.uk."
        if access in ("shared", "closed") and not (note or contact) and "access_level" not in errors:
            errors["access_note"] = "Say how people get access (a note or a contact address)."
        new_id = entry_id
        if new_id is None:
            wanted = text("id", 120)
            if wanted and not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,119}", wanted):
                errors["id"] = "Use lower-case letters, digits and hyphens."
            new_id = wanted or slugify(title or "dataset")
            if wanted and (self.registry.get(new_id) is not None or self.store.state(new_id) is not None):
                errors["id"] = "This identifier is taken."
            elif not wanted:
                new_id = self._free_id(new_id)
        if errors:
            raise FieldErrors(errors)
        extras = dict(base.extras) if base is not None else {}
        extras.update({"spatial_coverage": spatial or None, "access_contact": contact or None})
        extras = {k: v for k, v in extras.items() if v is not None}
        now = _today()
        data = {
            "id": new_id, "title": title, "description": description, "publisher": publisher,
            "licence": licence_title, "licence_url": licence_url, "themes": themes, "tags": tags,
            "access_level": access, "access_note": note, "update_frequency": frequency or None,
            "created": (base.created if base is not None else None) or now, "updated": now,
            "temporal_start": dates.get("temporal_start"), "temporal_end": dates.get("temporal_end"),
            "smallest_geography": geography or None, "source": "publish", "extras": extras,
            "attribution": base.attribution if base is not None else f"{publisher}",
            "caveats": base.caveats if base is not None else [],
            "upstream_url": base.upstream_url if base is not None else None,
            "archived": base.archived if base is not None else False,
            "resources": [r.__dict__ for r in base.resources] if base is not None else [],
        }
        try:
            return Entry.from_dict(data)
        except EntryError as exc:
            raise FieldErrors({exc.field: exc.message}) from None

    def _free_id(self, base: str) -> str:
        candidate, n = base, 1
        while candidate in ("new", "requests", "people") or self.registry.get(candidate) is not None \
                or self.store.state(candidate) is not None:
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    # Writing --------------------------------------------------------------------------------------
    def _write(self, entry: Entry, state: str, actor: str, action: str, note: str = "", **detail) -> Change:
        """New version + audit line + (published or archived) registry row, all or nothing."""
        entry.archived = state == "archived"
        with self.store.transaction():
            self.store.save_state(entry.id, publisher_slug(entry.publisher), state, actor)
            number = self.store.add_version(entry.id, entry.to_dict(), actor, note or action)
            self.store.audit(entry.id, actor, action, version=number, **detail)
            if state in ("published", "archived"):
                self.registry.upsert(entry)
        return Change(entry, state, number)

    def _adopt(self, entry: Entry, state: str, actor: str) -> None:
        """An entry harvested from elsewhere gets a first version before its first change here."""
        if self.store.state(entry.id) is None:
            with self.store.transaction():
                self.store.save_state(entry.id, publisher_slug(entry.publisher), state, actor)
                self.store.add_version(entry.id, entry.to_dict(), "registry", "as harvested")

    def create(self, values: dict, user: User, publish: bool = False) -> Change:
        entry = self.validate(values, user)
        return self._write(entry, "published" if publish else "draft", user.email,
                           "published" if publish else "created draft")

    def create_with_upload(self, values: dict, user: User, stream, filename: str, declared: str,
                           max_bytes: int, publish: bool = False):
        """One form, one entry with its file: the entry, its upload and (when asked) its publication
        are written together, or nothing is (a bad file leaves no draft behind)."""
        entry = self.validate(values, user)
        with self.store.transaction():
            self._write(entry, "draft", user.email, "created draft")
            change, resource, loaded = self.add_upload(entry.id, stream, filename, declared, user, max_bytes)
            if publish:
                change = self.publish(entry.id, user)
        return change, resource, loaded

    def update(self, entry_id: str, values: dict, user: User, partial: bool = False) -> Change:
        entry, state = self.editable(user, entry_id)
        if partial:
            merged = form_values(entry)
            merged.update(values)
            if "licence" in values and values["licence"] not in _LICENCE_BY_KEY:
                merged.setdefault("licence_other", values["licence"])
            values = merged
        new = self.validate(values, user, entry_id=entry.id, base=entry)
        if publisher_slug(new.publisher) != publisher_slug(entry.publisher) and not user.is_admin \
                and publisher_slug(new.publisher) not in user.publisher_slugs:
            raise FieldErrors({"publisher": "You can only publish for your own publishers."})
        changed = sorted(k for k, v in new.to_dict().items() if entry.to_dict().get(k) != v and k != "updated")
        self._adopt(entry, state, user.email)
        return self._write(new, state, user.email, "edited", fields=changed)

    def publish(self, entry_id: str, user: User) -> Change:
        entry, state = self.editable(user, entry_id)
        self._adopt(entry, state, user.email)
        return self._write(entry, "published", user.email, "published")

    def archive(self, entry_id: str, user: User) -> Change:
        entry, state = self.editable(user, entry_id)
        if state == "draft":
            raise FieldErrors({"state": "A draft is not published; there is nothing to archive."})
        self._adopt(entry, state, user.email)
        return self._write(entry, "archived", user.email, "archived")

    def revert(self, entry_id: str, number: int, user: User) -> Change:
        entry, state = self.editable(user, entry_id)
        old = self.store.version(entry_id, number)
        if old is None:
            raise PublishError(f"{entry_id} has no version {number}")
        restored = Entry.from_dict(old["data"])
        restored.updated = _today()
        return self._write(restored, "archived" if state == "archived" else state, user.email,
                           "reverted", note=f"reverted to version {number}", to_version=number)

    # Versions -------------------------------------------------------------------------------------
    def diff(self, entry_id: str, old: int, new: int) -> list[dict]:
        a, b = self.store.version(entry_id, old), self.store.version(entry_id, new)
        if a is None or b is None:
            raise PublishError(f"{entry_id}: no such version")
        out = []
        for key in sorted(set(a["data"]) | set(b["data"])):
            before, after = a["data"].get(key), b["data"].get(key)
            if before == after or key == "updated":
                continue
            if isinstance(before, str) and isinstance(after, str) and ("\n" in before or "\n" in after):
                lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=1))[2:]
            else:
                lines = [f"- {json.dumps(before, ensure_ascii=False)}", f"+ {json.dumps(after, ensure_ascii=False)}"]
            out.append({"field": key, "lines": lines})
        return out

    # Resources ------------------------------------------------------------------------------------
    def _next_resource_id(self, entry: Entry, prefix: str) -> str:
        taken = {r.id for r in entry.resources}
        n = 1
        while f"{prefix}{n}" in taken:
            n += 1
        return f"{prefix}{n}"

    def add_url_resource(self, entry_id: str, values: dict, user: User):
        entry, state = self.editable(user, entry_id)
        url = str(values.get("url") or "").strip()
        fmt = str(values.get("format") or "").strip().lower()
        errors = {}
        if not re.match(r"^https?://[^\s]{3,2000}$", url):
            errors["url"] = "Give the file's address, starting with https://."
        if fmt and fmt not in UPLOAD_FORMATS and fmt not in ("json", "shp"):
            errors["format"] = f"Choose one of: {', '.join(UPLOAD_FORMATS)}."
        if errors:
            raise FieldErrors(errors)
        try:
            resource = Resource.from_dict({"id": self._next_resource_id(entry, "r"), "url": url, "format": fmt,
                                           "title": str(values.get("title") or "")[:200]}, entry.id)
        except EntryError as exc:
            raise FieldErrors({exc.field.split(".")[-1]: exc.message}) from None
        entry.resources.append(resource)
        loaded = self.load_report_source(entry, resource.id)   # FieldErrors before anything is written
        self._adopt(entry, state, user.email)
        change = self._write(entry, state, user.email, "added resource", resource=resource.id, url=url)
        return change, resource, loaded

    def add_upload(self, entry_id: str, stream, filename: str, declared: str, user: User, max_bytes: int):
        """Store an uploaded file under the store, check it is the declared format, load it with the
        loaders, then record it. Returns (change, resource, LoadedDataset)."""
        entry, state = self.editable(user, entry_id)
        settings = self.settings
        fmt, safe = check_upload(filename, declared)
        resource_id = self._next_resource_id(entry, "upload-")
        folder = settings.store_dir / _component(entry.id) / resource_id
        staging = settings.store_dir / f".upload-{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        try:
            target = staging / safe
            digest, size = _copy_limited(stream, target, max_bytes)
            sniff(target, fmt)
            resource = Resource(id=resource_id, title=safe, format=fmt, size=size, checksum=f"sha256:{digest}",
                                local_path=f"uploads/{entry.id}/{resource_id}/{safe}")
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            provenance = {
                "dataset_id": entry.id, "resource_id": resource_id, "origin": "store",
                "path": str(folder / safe), "retrieved_at": now, "sha256": digest, "size": size,
                "source_url": None, "licence": entry.licence, "licence_url": entry.licence_url,
                "attribution": entry.attribution, "publisher": entry.publisher,
                "transformations": [f"uploaded by {user.email} as {filename[:200]!r}"],
                "checksum": f"sha256:{digest}",
                "uploaded_by": user.email, "uploaded_at": now, "original_name": filename[:500],
            }
            (staging / "provenance.json").write_text(json.dumps(provenance, indent=2), encoding="utf-8")
            folder.parent.mkdir(parents=True, exist_ok=True)
            if folder.exists():
                shutil.rmtree(folder)
            staging.rename(folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            candidate = Entry.from_dict({**entry.to_dict(), "resources": [*[r.__dict__ for r in entry.resources],
                                                                          resource.__dict__]})
            loaded = self.load_report_source(candidate, resource_id)
            candidate = Entry.from_dict(candidate.to_dict())
            self._adopt(entry, state, user.email)
            with self.store.transaction():
                self.store.add_upload(entry_id=entry.id, resource_id=resource_id, original_name=filename[:500],
                                      stored_name=safe, format=fmt, sha256=digest, size=size,
                                      uploaded_by=user.email, at=now)
                change = self._write(candidate, state, user.email, "uploaded", resource=resource_id,
                                     file=filename[:200], sha256=digest, size=size)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            try:
                folder.parent.rmdir()        # the entry's folder, when this was its first file
            except OSError:
                pass
            raise
        return change, resource, loaded

    def load_report_source(self, entry: Entry, resource_id: str, code_column: str | None = None,
                           boundary: str | None = None):
        """Load a resource of a (possibly unpublished) entry the way the map will; a file the loaders
        cannot read is FieldErrors on 'file'. Options pick another code column or boundary set."""
        from explorer.geo.joins import DatasetError

        if code_column or boundary:
            entry = Entry.from_dict(entry.to_dict())
            res = entry.resource(resource_id)
            res.options = {**res.options, **({"code_column": code_column} if code_column else {}),
                           **({"boundary": boundary} if boundary else {})}
        try:
            return self.data.load_entry(entry, resource_id)
        except DatasetError as exc:
            raise FieldErrors({"file": exc.reason}) from None

    def set_join(self, entry_id: str, resource_id: str, code_column: str | None, boundary: str | None,
                 user: User) -> Change:
        entry, state = self.editable(user, entry_id)
        try:
            res = entry.resource(resource_id)
        except LookupError:
            raise PublishError(f"{entry_id} has no resource {resource_id!r}") from None
        options = {k: v for k, v in res.options.items() if k not in ("code_column", "boundary")}
        if code_column:
            options["code_column"] = code_column
        if boundary:
            options["boundary"] = boundary
        res.options = options
        self._adopt(entry, state, user.email)
        return self._write(entry, state, user.email, "changed join", resource=resource_id,
                           code_column=code_column, boundary=boundary)

    # Access requests ------------------------------------------------------------------------------
    def request_access(self, entry_id: str, user: User, purpose: str) -> int:
        entry = self.registry.get(entry_id)
        if entry is None:
            raise PublishError(f"no dataset {entry_id!r}")
        purpose = (purpose or "").replace("\x00", "").strip()
        if entry.access_level == "open":
            raise FieldErrors({"purpose": "This dataset is open: no request is needed."})
        if len(purpose) < 10:
            raise FieldErrors({"purpose": "Say in a sentence what you will use the data for."})
        if len(purpose) > 2000:
            raise FieldErrors({"purpose": "Use at most 2,000 characters."})
        if self.store.requests(entry_ids={entry_id}, user_id=user.id, status="pending"):
            raise FieldErrors({"purpose": "You already have a request waiting for this dataset."})
        with self.store.transaction():
            request_id = self.store.add_request(entry_id, user.id, user.email, purpose)
            self.store.audit(entry_id, user.email, "access requested", request=request_id, purpose=purpose)
        return request_id

    def inbox(self, user: User) -> list[dict]:
        rows = self.store.requests()
        return [r for r in rows if self._can_decide(user, r["entry_id"])]

    def _can_decide(self, user: User, entry_id: str) -> bool:
        entry = self.registry.get(entry_id)
        return entry is not None and self.access.can_edit(user, entry)

    def decide(self, request_id: int, user: User, approve: bool, reason: str = "", until: str = "") -> None:
        req = self.store.request(request_id)
        if req is None:
            raise PublishError(f"no request {request_id}")
        if not self._can_decide(user, req["entry_id"]):
            raise AccessDenied(403, "Only the publisher's editors decide on requests for this dataset.")
        errors = {}
        reason = (reason or "").strip()[:2000]
        until = (until or "").strip()
        if req["status"] != "pending":
            errors["request"] = f"This request was already {req['status']}."
        if not approve and len(reason) < 5:
            errors["reason"] = "Give the reason for refusing; the requester will see it."
        if approve and until:
            try:
                if date.fromisoformat(until) < date.today():
                    errors["until"] = "The end date is in the past."
            except ValueError:
                errors["until"] = "Use a date like 2027-03-31."
        if errors:
            raise FieldErrors(errors)
        status = "approved" if approve else "refused"
        with self.store.transaction():
            self.store.decide(request_id, status, user.email, reason, until or None)
            self.store.audit(req["entry_id"], user.email, f"access {status}", request=request_id,
                             requester=req["email"], reason=reason, until=until or None)


def open_publishing(settings, registry, data=None):
    """(accounts, publishing) over one database: EXPLORER_HOME/accounts.sqlite3, or PostgreSQL."""
    from explorer.accounts.store import SQLiteAccountStore
    from explorer.accounts.store import accounts_database

    settings.ensure_dirs()
    db = accounts_database(settings)   # PostgreSQL when EXPLORER_DATABASE_URL is set
    return SQLiteAccountStore(db), Publishing(registry, PublishingStore(db), data, settings)


def _component(text: str) -> str:
    from explorer.data.resolver import _component as component  # the store's own folder naming
    return component(text)


def _copy_limited(stream, target: Path, max_bytes: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(target, "wb") as out:
        while True:
            chunk = stream.read(1024 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise FieldErrors({"file": f"The file is larger than the limit of {max_bytes // (1024 * 1024):,} MB."})
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())   # on disk before the folder is renamed into place (other hosts read it)
    if size == 0:
        raise FieldErrors({"file": "The file is empty."})
    return digest.hexdigest(), size


__all__ = ["Publishing", "FieldErrors", "PublishError", "LICENCES", "form_values", "open_publishing"]
