"""Tables for publishing: entry states, versions, uploads, the audit log and access requests.

``PublishingStore`` is the interface (a PostgreSQL backend implements the same methods); the
SQLite implementation shares the accounts database, so one transaction covers a version, its
audit line and its upload record.
"""

from __future__ import annotations

import json

from explorer.accounts.db import Database, utc_now

SCHEMA = """
CREATE TABLE IF NOT EXISTS pub_entries (
    id TEXT PRIMARY KEY,
    publisher TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'published', 'archived')),
    created_by TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pub_versions (
    entry_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    author TEXT NOT NULL,
    at TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (entry_id, version)
);
CREATE TABLE IF NOT EXISTS pub_uploads (
    id INTEGER PRIMARY KEY,
    entry_id TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    original_name TEXT NOT NULL,
    stored_name TEXT NOT NULL,
    format TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    uploaded_by TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pub_audit (
    id INTEGER PRIMARY KEY,
    entry_id TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS pub_audit_entry ON pub_audit(entry_id, id);
CREATE TABLE IF NOT EXISTS access_requests (
    id INTEGER PRIMARY KEY,
    entry_id TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    email TEXT NOT NULL,
    purpose TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'refused')),
    created TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT,
    reason TEXT NOT NULL DEFAULT '',
    until TEXT
);
CREATE INDEX IF NOT EXISTS access_requests_entry ON access_requests(entry_id, status)
"""


class PublishingStore:
    def __init__(self, db: Database):
        self.db = db
        db.ensure_schema(SCHEMA)

    def transaction(self):
        return self.db.transaction()

    # Entries and versions ------------------------------------------------------------------------
    def state(self, entry_id: str) -> dict | None:
        row = self.db.one("SELECT * FROM pub_entries WHERE id = ?", (entry_id,))
        return dict(row) if row else None

    def entries(self, publishers: set[str] | None = None) -> list[dict]:
        rows = self.db.query("SELECT * FROM pub_entries ORDER BY updated DESC")
        return [dict(r) for r in rows if publishers is None or r["publisher"] in publishers]

    def save_state(self, entry_id: str, publisher: str, state: str, actor: str) -> None:
        now = utc_now()
        self.db.conn().execute(
            "INSERT INTO pub_entries(id, publisher, state, created_by, created, updated)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET publisher = excluded.publisher,"
            " state = excluded.state, updated = excluded.updated",
            (entry_id, publisher, state, actor, now, now))

    def add_version(self, entry_id: str, data: dict, author: str, note: str = "") -> int:
        conn = self.db.conn()
        last = conn.execute("SELECT MAX(version) FROM pub_versions WHERE entry_id = ?", (entry_id,)).fetchone()[0]
        number = (last or 0) + 1
        conn.execute("INSERT INTO pub_versions(entry_id, version, data, author, at, note) VALUES (?, ?, ?, ?, ?, ?)",
                     (entry_id, number, json.dumps(data, ensure_ascii=False, sort_keys=True, default=str),
                      author, utc_now(), note[:300]))
        return number

    def versions(self, entry_id: str) -> list[dict]:
        rows = self.db.query("SELECT version, author, at, note FROM pub_versions WHERE entry_id = ?"
                             " ORDER BY version DESC", (entry_id,))
        return [dict(r) for r in rows]

    def version(self, entry_id: str, number: int | None = None) -> dict | None:
        if number is None:
            row = self.db.one("SELECT * FROM pub_versions WHERE entry_id = ? ORDER BY version DESC LIMIT 1",
                              (entry_id,))
        else:
            row = self.db.one("SELECT * FROM pub_versions WHERE entry_id = ? AND version = ?",
                              (entry_id, number))
        if row is None:
            return None
        out = dict(row)
        out["data"] = json.loads(out["data"])
        return out

    # Uploads --------------------------------------------------------------------------------------
    def add_upload(self, **record) -> None:
        self.db.conn().execute(
            "INSERT INTO pub_uploads(entry_id, resource_id, original_name, stored_name, format, sha256,"
            " size, uploaded_by, at) VALUES (:entry_id, :resource_id, :original_name, :stored_name,"
            " :format, :sha256, :size, :uploaded_by, :at)", record)

    def uploads(self, entry_id: str) -> list[dict]:
        return [dict(r) for r in self.db.query("SELECT * FROM pub_uploads WHERE entry_id = ? ORDER BY id",
                                               (entry_id,))]

    # Audit ----------------------------------------------------------------------------------------
    def audit(self, entry_id: str, actor: str, action: str, **detail) -> None:
        self.db.conn().execute("INSERT INTO pub_audit(entry_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
                               (entry_id, utc_now(), actor, action,
                                json.dumps(detail, ensure_ascii=False, default=str)))

    def audit_log(self, entry_id: str) -> list[dict]:
        rows = self.db.query("SELECT at, actor, action, detail FROM pub_audit WHERE entry_id = ? ORDER BY id DESC",
                             (entry_id,))
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]

    # Access requests ------------------------------------------------------------------------------
    def add_request(self, entry_id: str, user_id: int, email: str, purpose: str) -> int:
        return self.db.conn().execute(
            "INSERT INTO access_requests(entry_id, user_id, email, purpose, status, created)"
            " VALUES (?, ?, ?, ?, 'pending', ?)", (entry_id, user_id, email, purpose, utc_now())).lastrowid

    def request(self, request_id: int) -> dict | None:
        row = self.db.one("SELECT * FROM access_requests WHERE id = ?", (request_id,))
        return dict(row) if row else None

    def requests(self, *, entry_ids: set[str] | None = None, user_id: int | None = None,
                 status: str | None = None) -> list[dict]:
        sql, params = "SELECT * FROM access_requests WHERE 1 = 1", []
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        rows = [dict(r) for r in self.db.query(sql + " ORDER BY id DESC", params)]
        return [r for r in rows if entry_ids is None or r["entry_id"] in entry_ids]

    def decide(self, request_id: int, status: str, actor: str, reason: str, until: str | None) -> None:
        self.db.conn().execute(
            "UPDATE access_requests SET status = ?, decided_by = ?, decided_at = ?, reason = ?, until = ?"
            " WHERE id = ?", (status, actor, utc_now(), reason, until, request_id))

    def has_grant(self, entry_id: str, user_id: int, today: str) -> bool:
        row = self.db.one("SELECT 1 FROM access_requests WHERE entry_id = ? AND user_id = ? AND status = 'approved'"
                          " AND (until IS NULL OR until >= ?) LIMIT 1", (entry_id, user_id, today))
        return row is not None
