"""Users, publisher memberships, sessions, API tokens and sign-in attempts.

``AccountStore`` is the interface the web app and the CLI use; ``SQLiteAccountStore`` implements
it over ``EXPLORER_HOME/accounts.sqlite3`` (the publishing tables live in the same file, so one
transaction covers an entry's version, its audit line and its upload record).

Secrets are never stored as given: passwords as argon2id hashes, session ids and API tokens as
sha256 of a 256-bit random value (a fast hash is right for a random value; argon2 is for things
people choose). A token is shown once, when created.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from explorer.accounts import passwords
from explorer.accounts.db import Database, utc_now
from explorer.db import database_url, pg_database

ROLES = ("editor", "admin")
SESSION_DAYS = 14
SESSION_IDLE_HOURS = 24 * 3
LOGIN_WINDOW_MINUTES = 15
LOGIN_MAX_FAILURES = 5          # per account and per client address within the window
TOKEN_PREFIX = "ldx_"
_EMAIL_RE = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    oidc_subject TEXT UNIQUE,
    created TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS publishers (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS memberships (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    publisher TEXT NOT NULL REFERENCES publishers(slug),
    role TEXT NOT NULL CHECK (role IN ('editor', 'admin')),
    PRIMARY KEY (user_id, publisher)
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    expires TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    last_used TEXT,
    revoked TEXT
);
CREATE TABLE IF NOT EXISTS login_failures (
    key TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures(key, at)
"""


class AccountError(ValueError):
    """A refused account change, naming the field."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def publisher_slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (name or "").strip().lower()).strip("-")
    return slug[:80]


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalise_email(email: str) -> str:
    email = (email or "").strip()
    if not _EMAIL_RE.match(email):
        raise AccountError("email", "Enter an email address like name@example.org.")
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


@dataclass(frozen=True)
class Membership:
    publisher: str       # slug
    name: str            # the publisher's name as the registry spells it
    role: str


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str = ""
    memberships: tuple[Membership, ...] = field(default_factory=tuple)

    @property
    def is_admin(self) -> bool:
        return any(m.role == "admin" for m in self.memberships)

    @property
    def publisher_slugs(self) -> set[str]:
        """Each publisher's slug and its name as a slug (the registry spells publishers by name)."""
        return {m.publisher for m in self.memberships} | {publisher_slug(m.name) for m in self.memberships}

    def can_edit_publisher(self, publisher_name: str) -> bool:
        return self.is_admin or publisher_slug(publisher_name) in self.publisher_slugs

    def to_dict(self) -> dict:
        return {"id": self.id, "email": self.email, "name": self.name, "admin": self.is_admin,
                "publishers": [{"slug": m.publisher, "name": m.name, "role": m.role}
                               for m in self.memberships]}


class AccountStore:
    """What the app and CLI need from account storage (a PostgreSQL backend implements these)."""

    def add_user(self, email: str, password: str | None, *, name: str = "",
                 publisher: str | None = None, publisher_name: str | None = None,
                 role: str | None = None) -> User: raise NotImplementedError
    def get_user(self, user_id: int) -> User | None: raise NotImplementedError
    def find_user(self, email: str) -> User | None: raise NotImplementedError
    def list_users(self) -> list[User]: raise NotImplementedError
    def set_password(self, user_id: int, password: str) -> None: raise NotImplementedError
    def authenticate(self, email: str, password: str, client: str) -> User | None: raise NotImplementedError
    def oidc_user(self, subject: str, email: str, name: str = "") -> User: raise NotImplementedError
    def create_session(self, user_id: int) -> tuple[str, str]: raise NotImplementedError
    def session_user(self, session_id: str) -> tuple[User, str] | None: raise NotImplementedError
    def end_session(self, session_id: str) -> None: raise NotImplementedError
    def create_token(self, user_id: int, name: str) -> tuple[int, str]: raise NotImplementedError
    def token_user(self, token: str) -> User | None: raise NotImplementedError
    def list_tokens(self, user_id: int | None = None) -> list[dict]: raise NotImplementedError
    def revoke_token(self, token_id: int) -> bool: raise NotImplementedError
    def publishers(self) -> list[tuple[str, str]]: raise NotImplementedError


class SQLiteAccountStore(AccountStore):
    def __init__(self, db: Database):
        self.db = db
        db.ensure_schema(SCHEMA)

    # Users -------------------------------------------------------------------------------------
    def _user(self, row) -> User | None:
        if row is None or row["disabled"]:
            return None
        members = self.db.query(
            "SELECT m.publisher, p.name, m.role FROM memberships m JOIN publishers p ON p.slug = m.publisher"
            " WHERE m.user_id = ? ORDER BY p.name", (row["id"],))
        return User(id=row["id"], email=row["email"], name=row["name"],
                    memberships=tuple(Membership(r[0], r[1], r[2]) for r in members))

    def add_user(self, email, password, *, name="", publisher=None, publisher_name=None, role=None):
        email = normalise_email(email)
        if password is not None:
            problem = passwords.check_strength(password)
            if problem:
                raise AccountError("password", problem)
        if publisher is not None:
            slug = publisher_slug(publisher)
            if not slug:
                raise AccountError("publisher", "Give the publisher's short name (slug).")
            if role not in ROLES:
                raise AccountError("role", f"Choose one of: {', '.join(ROLES)}.")
        elif role is not None:
            raise AccountError("publisher", "A role needs a publisher.")
        hashed = passwords.hash_password(password) if password is not None else None
        with self.db.transaction() as conn:
            row = conn.execute("SELECT id FROM users WHERE email = ? COLLATE NOCASE", (email,)).fetchone()
            if row is None:
                user_id = conn.execute(
                    "INSERT INTO users(email, name, password_hash, created) VALUES (?, ?, ?, ?)",
                    (email, name.strip()[:200], hashed, utc_now())).lastrowid
            else:
                user_id = row[0]
                if hashed is not None:
                    conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (hashed, user_id))
            if publisher is not None:
                conn.execute("INSERT INTO publishers(slug, name) VALUES (?, ?) ON CONFLICT(slug) DO NOTHING",
                             (slug, (publisher_name or publisher).strip()[:200]))
                conn.execute("INSERT INTO memberships(user_id, publisher, role) VALUES (?, ?, ?)"
                             " ON CONFLICT(user_id, publisher) DO UPDATE SET role = excluded.role",
                             (user_id, slug, role))
        return self.get_user(user_id)

    def set_publisher_name(self, slug: str, name: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE publishers SET name = ? WHERE slug = ?", (name, slug))

    def get_user(self, user_id):
        return self._user(self.db.one("SELECT * FROM users WHERE id = ?", (user_id,)))

    def find_user(self, email):
        try:
            email = normalise_email(email)
        except AccountError:
            return None
        return self._user(self.db.one("SELECT * FROM users WHERE email = ? COLLATE NOCASE", (email,)))

    def list_users(self):
        return [u for u in (self._user(r) for r in self.db.query("SELECT * FROM users ORDER BY email")) if u]

    def set_password(self, user_id, password):
        problem = passwords.check_strength(password)
        if problem:
            raise AccountError("password", problem)
        with self.db.transaction() as conn:
            conn.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                         (passwords.hash_password(password), user_id))

    def publishers(self):
        return [(r[0], r[1]) for r in self.db.query("SELECT slug, name FROM publishers ORDER BY name")]

    # Sign-in with a rate limit ------------------------------------------------------------------
    def _failures(self, key: str, since: str) -> int:
        return self.db.one("SELECT COUNT(*) FROM login_failures WHERE key = ? AND at > ?", (key, since))[0]

    def authenticate(self, email, password, client):
        """The user, or None. None for a wrong password, an unknown address and a paused account
        alike: the caller shows one message, and the time taken is the same (argon2 runs)."""
        since = (datetime.now(timezone.utc) - timedelta(minutes=LOGIN_WINDOW_MINUTES)).isoformat(timespec="seconds")
        email_key = "email:" + _sha((email or "").strip().lower())
        client_key = "client:" + _sha(client or "")
        paused = (self._failures(email_key, since) >= LOGIN_MAX_FAILURES
                  or self._failures(client_key, since) >= LOGIN_MAX_FAILURES * 4)
        try:
            address = normalise_email(email)
        except AccountError:
            address = None
        row = self.db.one("SELECT * FROM users WHERE email = ? COLLATE NOCASE AND disabled = 0",
                          (address,)) if address else None
        ok, rehash = passwords.verify(row["password_hash"] if row else None, password or "")
        if ok and not paused:
            if rehash:
                self.set_password(row["id"], password)
            with self.db.transaction() as conn:
                conn.execute("DELETE FROM login_failures WHERE key = ?", (email_key,))
            return self.get_user(row["id"])
        with self.db.transaction() as conn:
            now = utc_now()
            conn.executemany("INSERT INTO login_failures(key, at) VALUES (?, ?)",
                             [(email_key, now), (client_key, now)])
            conn.execute("DELETE FROM login_failures WHERE at < ?",
                         ((datetime.now(timezone.utc) - timedelta(days=1)).isoformat(timespec="seconds"),))
        return None

    def oidc_user(self, subject, email, name=""):
        """The account for an OpenID Connect subject: found by subject, else by verified email
        (linked then), else created without a password and without any publisher role."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM users WHERE oidc_subject = ?", (subject,)).fetchone()
            if row is None:
                email = normalise_email(email)
                row = conn.execute("SELECT * FROM users WHERE email = ? COLLATE NOCASE", (email,)).fetchone()
                if row is None:
                    user_id = conn.execute(
                        "INSERT INTO users(email, name, oidc_subject, created) VALUES (?, ?, ?, ?)",
                        (email, name[:200], subject, utc_now())).lastrowid
                else:
                    user_id = row["id"]
                    conn.execute("UPDATE users SET oidc_subject = ? WHERE id = ?", (subject, user_id))
            else:
                user_id = row["id"]
        user = self.get_user(user_id)
        if user is None:
            raise AccountError("email", "This account is disabled.")
        return user

    # Sessions -----------------------------------------------------------------------------------
    def create_session(self, user_id):
        """A new session: (session id for the cookie, CSRF token). Always a fresh id: callers
        end the previous session, so an id planted before sign-in is worth nothing after it."""
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = datetime.now(timezone.utc)
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO sessions(id_hash, user_id, csrf, created, last_seen, expires)"
                         " VALUES (?, ?, ?, ?, ?, ?)",
                         (_sha(session_id), user_id, csrf, now.isoformat(timespec="seconds"),
                          now.isoformat(timespec="seconds"),
                          (now + timedelta(days=SESSION_DAYS)).isoformat(timespec="seconds")))
            conn.execute("DELETE FROM sessions WHERE expires < ?", (now.isoformat(timespec="seconds"),))
        return session_id, csrf

    def session_user(self, session_id):
        if not session_id or len(session_id) > 200:
            return None
        row = self.db.one("SELECT * FROM sessions WHERE id_hash = ?", (_sha(session_id),))
        if row is None:
            return None
        now = datetime.now(timezone.utc)
        idle_since = (now - timedelta(hours=SESSION_IDLE_HOURS)).isoformat(timespec="seconds")
        if row["expires"] < now.isoformat(timespec="seconds") or row["last_seen"] < idle_since:
            self.end_session(session_id)
            return None
        user = self.get_user(row["user_id"])
        if user is None:
            return None
        if row["last_seen"][:16] != now.isoformat(timespec="minutes")[:16]:
            with self.db.transaction() as conn:
                conn.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?",
                             (now.isoformat(timespec="seconds"), row["id_hash"]))
        return user, row["csrf"]

    def end_session(self, session_id):
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE id_hash = ?", (_sha(session_id or ""),))

    # API tokens ---------------------------------------------------------------------------------
    def create_token(self, user_id, name):
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.transaction() as conn:
            token_id = conn.execute(
                "INSERT INTO tokens(user_id, name, token_hash, created) VALUES (?, ?, ?, ?)",
                (user_id, (name or "token").strip()[:100], _sha(token), utc_now())).lastrowid
        return token_id, token

    def token_user(self, token):
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        row = self.db.one("SELECT id, user_id FROM tokens WHERE token_hash = ? AND revoked IS NULL",
                          (_sha(token),))
        if row is None:
            return None
        with self.db.transaction() as conn:
            conn.execute("UPDATE tokens SET last_used = ? WHERE id = ?", (utc_now(), row["id"]))
        return self.get_user(row["user_id"])

    def list_tokens(self, user_id=None):
        sql = ("SELECT t.id, u.email, t.name, t.created, t.last_used, t.revoked FROM tokens t"
               " JOIN users u ON u.id = t.user_id")
        rows = self.db.query(sql + (" WHERE t.user_id = ?" if user_id else "") + " ORDER BY t.id",
                             (user_id,) if user_id else ())
        return [dict(r) for r in rows]

    def revoke_token(self, token_id):
        with self.db.transaction() as conn:
            cur = conn.execute("UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL",
                               (utc_now(), token_id))
            return cur.rowcount > 0


def accounts_path(home: Path) -> Path:
    return Path(home) / "accounts.sqlite3"


def open_accounts(settings) -> SQLiteAccountStore:
    settings.ensure_dirs()
    return SQLiteAccountStore(accounts_database(settings))


def accounts_database(settings):
    """The database of accounts and publishing: PostgreSQL when EXPLORER_DATABASE_URL names one,
    else ``EXPLORER_HOME/accounts.sqlite3``."""
    url = database_url(settings)
    if url:
        return pg_database(url)
    return Database(accounts_path(settings.home))
