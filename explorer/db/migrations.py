"""Schema migrations: a small versioned table of our own, ``schema_migrations``.

Each store (links, accounts, publishing) owns a *component* and an ordered list of steps; step
``n`` of a component runs once, in a transaction, and is recorded with its checksum. A
transaction-level advisory lock per component makes hosts that start together wait for each
other instead of racing to create the same tables. Alembic was not used: the stores write plain
SQL (no SQLAlchemy models to autogenerate from) and each has a handful of tables, so a 60-line
table of versions says everything Alembic's script folder would.

A store may also hand over its whole ``CREATE TABLE IF NOT EXISTS`` schema (``apply_schema``): the
text is translated to PostgreSQL, and a changed text is recorded as the next version (the
statements are idempotent, so tables created earlier stay and new ones are added).
"""

from __future__ import annotations

import hashlib
import re
from contextlib import contextmanager
from datetime import datetime, timezone

TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (component, version)
)"""


def _lock_key(component: str) -> int:
    return int.from_bytes(hashlib.sha256(f"explorer-migrate:{component}".encode()).digest()[:8], "big", signed=True)


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextmanager
def _locked(db, component: str):
    """A transaction holding the component's advisory lock, the versions table made first."""
    with db.raw_transaction() as raw:
        raw.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key("schema_migrations"),))
        raw.execute(TABLE)
    with db.raw_transaction() as raw:
        raw.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(component),))
        yield raw


def apply_steps(db, component: str, steps: list[str]) -> int:
    """Run the steps of ``component`` not yet recorded; the component's version afterwards."""
    with _locked(db, component) as raw:
        done = raw.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = %s",
                           (component,)).fetchone()[0]
        for version, step in enumerate(steps, start=1):
            if version <= done:
                continue
            for statement in _statements(step):
                raw.execute(statement)
            raw.execute("INSERT INTO schema_migrations(component, version, checksum, applied_at) VALUES (%s, %s, %s, %s)",
                        (component, version, _checksum(step), _now()))
            done = version
    return done


def apply_schema(db, schema: str, component: str | None = None) -> int:
    """A store's SQLite ``CREATE … IF NOT EXISTS`` schema, applied on PostgreSQL as a version."""
    from explorer.db.postgres import translate_ddl

    component = component or _component_of(schema)
    ddl = translate_ddl(schema)
    checksum = _checksum(ddl)
    with _locked(db, component) as raw:
        rows = raw.execute("SELECT version, checksum FROM schema_migrations WHERE component = %s ORDER BY version",
                           (component,)).fetchall()
        if rows and rows[-1][1] == checksum:
            return rows[-1][0]
        for statement in _statements(ddl):
            raw.execute(statement)
        version = (rows[-1][0] if rows else 0) + 1
        raw.execute("INSERT INTO schema_migrations(component, version, checksum, applied_at) VALUES (%s, %s, %s, %s)",
                    (component, version, checksum, _now()))
        return version


def versions(db) -> dict[str, int]:
    """{component: version} as recorded in the database."""
    with db.raw_transaction() as raw:
        raw.execute(TABLE)
        rows = raw.execute("SELECT component, MAX(version) FROM schema_migrations GROUP BY component").fetchall()
    return {r[0]: r[1] for r in rows}


def _component_of(schema: str) -> str:
    match = re.search(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)", schema, re.IGNORECASE)
    if not match:
        raise ValueError("a schema without a CREATE TABLE needs an explicit component name")
    table = match.group(1).lower()
    return _COMPONENTS.get(table, table)


_COMPONENTS = {"users": "accounts", "pub_entries": "publishing"}   # first table → the store's name


def _statements(text: str) -> list[str]:
    return [s.strip() for s in text.split(";") if s.strip()]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
