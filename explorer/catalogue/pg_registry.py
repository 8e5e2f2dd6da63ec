"""The registry in PostgreSQL: full-text search there, a local replica for facets and pages.

PostgreSQL holds the registry's truth: every entry (its JSON record, content hash, source, first
seen, last harvested), its full-text ``tsvector`` (``explorer.catalogue.pg_search``: English
stemming, one weight per field, a GIN index, written by the same statement that stores the entry),
the version counter, the registry's bookkeeping (source statuses …) and the semantic vectors, so
one host's harvest or publication is every host's.

A search on PostgreSQL finds the request's terms in the database (``explorer.catalogue.pg_search``:
the postings of each term through the GIN index) and scores them with the registry's one BM25F
function and fuses them with semantic similarity through its one fusion function
(``explorer.catalogue.lexical``), as on SQLite. What a search needs besides the words is read from
a local SQLite replica (``EXPLORER_HOME/cache/registry-replica.sqlite3``) kept by the same
:class:`explorer.catalogue.registry.Registry` code: the facet arrays and counts, the page's rows,
the vocabulary of "Did you mean", snippets and the semantic index — the vectors stored in
PostgreSQL (``registry_vectors``; Debian's server has no pgvector), held in memory and rebuilt
when the registry's version changes. Entry reads (``get``, ``all``) come from the replica too.

Before each read the replica compares its version with the database's; when another host has
written, it pulls only the entries changed (and deleted) since, in one local transaction, plus
their vectors, so "published on host A" is "searchable on host B" at B's next request. Vectors
computed by one host are written back, so the 100,000-entry semantic index is built once per
registry version across all hosts, not once per host.

Writes take a transaction-level advisory lock and bump the version once per transaction (a whole
harvest is one version), so hosts writing at once are ordered, not interleaved.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from explorer.catalogue.models import Entry
from explorer.catalogue.pg_search import FTS_MIGRATION, PgLexical, PgSearch
from explorer.catalogue.registry import Registry, _digest, _now, _record

MIGRATIONS = [
    """
    CREATE TABLE IF NOT EXISTS registry_meta (key TEXT PRIMARY KEY, value TEXT);
    CREATE TABLE IF NOT EXISTS registry_entries (
        id TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        first_seen TEXT NOT NULL,
        harvested_at TEXT NOT NULL,
        changed BIGINT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS registry_entries_changed ON registry_entries(changed);
    CREATE TABLE IF NOT EXISTS registry_deleted (id TEXT PRIMARY KEY, changed BIGINT NOT NULL);
    CREATE INDEX IF NOT EXISTS registry_deleted_changed ON registry_deleted(changed);
    CREATE TABLE IF NOT EXISTS registry_vectors (
        id TEXT PRIMARY KEY,
        content_hash TEXT NOT NULL,
        model TEXT NOT NULL,
        vec BYTEA NOT NULL
    );
    INSERT INTO registry_meta(key, value) VALUES ('version', '0') ON CONFLICT DO NOTHING
    """,
    FTS_MIGRATION,     # 2: full-text search in PostgreSQL (tsv, field_lengths, GIN index); rows filled by fill_search
]
_WRITE_LOCK = 0x4C44585245474953   # advisory-lock key of registry writes ("LDXREGIS")
_LOCAL_KEYS = {"version", "schema_version", "replica_of"}   # the replica's own bookkeeping


def fill_search(db, search: PgSearch | None = None, batch: int = 2000) -> int:
    """Give every entry stored without its full-text columns (rows written before migration 2, or
    copied in by ``explorer db copy``) its ``tsv`` and ``field_lengths``; how many were filled."""
    search = search or PgSearch(db)
    filled = 0
    while True:
        with db.raw_transaction() as raw:
            raw.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
            rows = raw.execute("SELECT id, data FROM registry_entries WHERE tsv IS NULL LIMIT %s", (batch,)).fetchall()
            if not rows:
                return filled
            with raw.cursor() as cur:
                cur.executemany("UPDATE registry_entries SET tsv = %s::tsvector, field_lengths = %s WHERE id = %s",
                                [(*search.tsvector(Entry.from_dict(json.loads(data))), entry_id)
                                 for entry_id, data in rows])
            filled += len(rows)


class _Replica(Registry):
    """The host's SQLite replica, whose searches find and weigh the request's terms in PostgreSQL.

    Everything else of ``Registry.search`` (request understanding, spelling, facets, BM25F scoring,
    the fusion with semantic similarity, snippets) runs unchanged over the replica; the lexical
    index it asks for is :class:`PgLexical`, whose postings come from PostgreSQL's GIN index."""

    def __init__(self, path, search: PgSearch):
        self._pg = search
        self._rowids: tuple[int, dict[str, int]] | None = None
        super().__init__(path)

    def _lexical_index(self, conn, version: int) -> PgLexical:
        cached = self._rowids
        if cached is None or cached[0] != version:
            cached = (version, dict(conn.execute("SELECT id, rowid FROM entries").fetchall()))
            if not getattr(self._local, "depth", 0):
                self._rowids = cached
        rowid_of = cached[1]
        return PgLexical(self._pg, version, max(rowid_of.values(), default=0) + 1, rowid_of)

    def lexical_ready(self, timeout: float | None = None) -> bool:
        """Always: the database's GIN index is kept by every write, there is nothing to build."""
        return True


def _asked_in_this_request() -> bool:
    """True when this web request has already compared versions (and marks that it has)."""
    try:
        from flask import g, has_request_context
    except ImportError:  # pragma: no cover - flask is a dependency of the app
        return False
    if not has_request_context():
        return False
    if g.get("_explorer_registry_checked"):
        return True
    g._explorer_registry_checked = True
    return False


class PgRegistry:
    """The :class:`Registry` interface over PostgreSQL with a local replica for reads."""

    def __init__(self, url: str, replica_path: Path | str):
        from explorer.db import pg_database
        from explorer.db.migrations import apply_steps

        self.url = url
        self.db = pg_database(url)
        apply_steps(self.db, "registry", MIGRATIONS)
        self.search_index = PgSearch(self.db)
        fill_search(self.db, self.search_index)
        self.path = str(replica_path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.local = _Replica(self.path, self.search_index)
        self._pull_lock = threading.Lock()
        self._tx = threading.local()
        self._held: set[tuple[str, str]] | None = None   # (id, content hash) of vectors the database holds
        if self.local.get_meta("replica_of") != url:     # a replica of another database: start again
            self._reset_replica()
        self._pull()

    # Keeping the replica in step ------------------------------------------------------------
    def _reset_replica(self) -> None:
        with self.local.transaction():
            for entry_id in self.local.ids():
                self.local.delete(entry_id)
            self.local.set_meta("synced", "0")
            self.local.set_meta("replica_of", self.url)

    def remote_version(self) -> int:
        """The database's registry version: one prepared primary-key read on this thread's own
        connection (a page may read the registry a hundred times; the pool's checkout per read
        cost more than the read)."""
        import os

        import psycopg

        held = getattr(self._tx, "version_conn", None)
        if held is None or held[0] != os.getpid() or held[1].closed:
            held = self._tx.version_conn = (os.getpid(), psycopg.connect(self.url, autocommit=True))
        try:
            row = held[1].execute("SELECT value FROM registry_meta WHERE key = 'version'", prepare=True).fetchone()
        except psycopg.OperationalError:          # the connection went away: once more on a new one
            self._tx.version_conn = None
            held = self._tx.version_conn = (os.getpid(), psycopg.connect(self.url, autocommit=True))
            row = held[1].execute("SELECT value FROM registry_meta WHERE key = 'version'", prepare=True).fetchone()
        return int(row[0]) if row else 0

    def _pull(self, force: bool = False) -> None:
        """Apply the entries changed on PostgreSQL since the replica's last pull. Within one web
        request the database is asked once (its first read of the registry): a page reads the
        registry a hundred times, and a write that commits after the request began is seen by the
        next one. Outside requests (commands, background threads) every read asks."""
        if getattr(self._tx, "conn", None) is not None:
            return                         # inside our own write: the replica follows at commit
        if not force and _asked_in_this_request():
            return
        remote = self.remote_version()
        synced = int(self.local.get_meta("synced") or 0)
        if remote == synced:
            return
        with self._pull_lock:
            synced = int(self.local.get_meta("synced") or 0)
            if remote == synced:
                return
            with self.db.raw_transaction() as raw:
                raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                remote = int(raw.execute("SELECT value FROM registry_meta WHERE key = 'version'").fetchone()[0])
                if remote < synced:                      # the database was replaced: rebuild
                    synced = 0
                    self._reset_replica()
                changed = raw.execute("SELECT data, id FROM registry_entries WHERE changed > %s AND changed <= %s",
                                      (synced, remote)).fetchall()
                deleted = raw.execute("SELECT id FROM registry_deleted WHERE changed > %s AND changed <= %s",
                                      (synced, remote)).fetchall()
                vectors_sql = ("SELECT v.id, v.content_hash, v.model, v.vec FROM registry_vectors v JOIN registry_entries e"
                               " ON e.id = v.id AND e.content_hash = v.content_hash")
                if not synced:                                   # a new replica: every vector
                    vectors = raw.execute(vectors_sql).fetchall()
                elif changed:                                    # only those of the changed entries
                    vectors = raw.execute(vectors_sql + " WHERE v.id = ANY(%s)", ([r[1] for r in changed],)).fetchall()
                else:
                    vectors = []
            with self.local.transaction():
                for (entry_id,) in deleted:
                    self.local.delete(entry_id)
                for data, _entry_id in changed:
                    self.local.upsert(Entry.from_dict(json.loads(data)))
                if vectors:
                    self._store_vectors_locally(vectors)
                    if not synced or self._held is None:
                        self._held = {(v[0], v[1]) for v in vectors} if not synced else None
                    else:
                        self._held.update((v[0], v[1]) for v in vectors)
                self.local.set_meta("synced", str(remote))

    def _store_vectors_locally(self, vectors) -> None:
        conn = self.local._conn()
        if len(vectors) < 500:
            rowids = {}
            for v in vectors:
                row = conn.execute("SELECT rowid FROM entries WHERE id = ?", (v[0],)).fetchone()
                if row:
                    rowids[v[0]] = row[0]
        else:
            rowids = dict(conn.execute("SELECT id, rowid FROM entries").fetchall())
        have = {(r[0], r[1]) for r in conn.execute(
            f"SELECT entry_rowid, content_hash FROM vectors WHERE entry_rowid IN ({','.join('?' * len(rowids))})",
            list(rowids.values()))} if len(rowids) < 500 else \
            {(r[0], r[1]) for r in conn.execute("SELECT entry_rowid, content_hash FROM vectors")}
        rows = [(rowids[i], digest, model, bytes(vec)) for i, digest, model, vec in vectors
                if i in rowids and (rowids[i], digest) not in have]
        conn.executemany("INSERT INTO vectors(entry_rowid, content_hash, model, vec) VALUES (?, ?, ?, ?)"
                         " ON CONFLICT(entry_rowid) DO UPDATE SET content_hash = excluded.content_hash,"
                         " model = excluded.model, vec = excluded.vec", rows)

    def _push_vectors(self) -> None:
        """Vectors this host computed that the database does not hold yet."""
        conn = self.local._conn()
        rows = conn.execute("SELECT e.id, v.content_hash FROM vectors v JOIN entries e"
                            " ON e.rowid = v.entry_rowid AND e.content_hash = v.content_hash").fetchall()
        if self._held is None:
            self._held = {(r[0], r[1]) for r in self.db.query("SELECT id, content_hash FROM registry_vectors")}
        wanted = [(i, d) for i, d in rows if (i, d) not in self._held]
        if not wanted:
            return
        new = []
        for entry_id, digest in wanted:
            row = conn.execute("SELECT v.model, v.vec FROM vectors v JOIN entries e ON e.rowid = v.entry_rowid"
                               " WHERE e.id = ?", (entry_id,)).fetchone()
            if row is not None:
                new.append((entry_id, digest, row[0], row[1]))
        if not new:
            return
        with self.db.raw_transaction() as raw, raw.cursor() as cur:
            cur.executemany("INSERT INTO registry_vectors(id, content_hash, model, vec) VALUES (%s, %s, %s, %s)"
                            " ON CONFLICT (id) DO UPDATE SET content_hash = excluded.content_hash,"
                            " model = excluded.model, vec = excluded.vec", new)
        self._held.update((i, d) for i, d, _m, _v in new)

    # Writes -----------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One PostgreSQL transaction (one version) for many writes; nested calls join it."""
        if getattr(self._tx, "conn", None) is not None:
            yield
            return
        with self.db.raw_transaction() as raw:
            raw.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
            self._tx.conn, self._tx.version, self._tx.wrote = raw, None, False
            try:
                yield
                if self._tx.wrote:
                    raw.execute("UPDATE registry_meta SET value = %s WHERE key = 'version'", (str(self._tx.version),))
            finally:
                self._tx.conn = None
        self._pull(force=True)

    def _version_for_write(self, raw) -> int:
        if self._tx.version is None:
            current = int(raw.execute("SELECT value FROM registry_meta WHERE key = 'version'").fetchone()[0])
            self._tx.version = current + 1
        self._tx.wrote = True
        return self._tx.version

    def upsert(self, entry: Entry) -> str:
        record = _record(entry)
        digest = _digest(record)
        now = _now()
        with self.transaction():
            raw = self._tx.conn
            row = raw.execute("SELECT content_hash FROM registry_entries WHERE id = %s", (entry.id,)).fetchone()
            if row is not None and row[0] == digest:
                raw.execute("UPDATE registry_entries SET harvested_at = %s, source = %s WHERE id = %s",
                            (now, entry.source, entry.id))
                return "unchanged"
            version = self._version_for_write(raw)
            data = json.dumps(record, ensure_ascii=False, default=str)
            tsv, lengths = self.search_index.tsvector(entry)
            raw.execute("INSERT INTO registry_entries(id, data, content_hash, source, first_seen, harvested_at, changed,"
                        " tsv, field_lengths) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::tsvector, %s)"
                        " ON CONFLICT (id) DO UPDATE SET data = excluded.data,"
                        " content_hash = excluded.content_hash, source = excluded.source,"
                        " harvested_at = excluded.harvested_at, changed = excluded.changed,"
                        " tsv = excluded.tsv, field_lengths = excluded.field_lengths",
                        (entry.id, data, digest, entry.source, now, now, version, tsv, lengths))
            raw.execute("DELETE FROM registry_deleted WHERE id = %s", (entry.id,))
            return "added" if row is None else "updated"

    def delete(self, entry_id: str) -> bool:
        with self.transaction():
            raw = self._tx.conn
            gone = raw.execute("DELETE FROM registry_entries WHERE id = %s", (entry_id,)).rowcount
            if not gone:
                return False
            version = self._version_for_write(raw)
            raw.execute("DELETE FROM registry_vectors WHERE id = %s", (entry_id,))
            raw.execute("INSERT INTO registry_deleted(id, changed) VALUES (%s, %s)"
                        " ON CONFLICT (id) DO UPDATE SET changed = excluded.changed", (entry_id, version))
            return True

    def set_meta(self, key: str, value: str) -> None:
        if key in _LOCAL_KEYS:
            self.local.set_meta(key, value)
            return
        sql = ("INSERT INTO registry_meta(key, value) VALUES (%s, %s)"
               " ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        if getattr(self._tx, "conn", None) is not None:
            self._tx.conn.execute(sql, (key, value))
        else:
            with self.db.raw_transaction() as raw:
                raw.execute(sql, (key, value))

    def get_meta(self, key: str) -> str | None:
        if key in _LOCAL_KEYS:
            return self.local.get_meta(key)
        raw = getattr(self._tx, "conn", None)
        if raw is not None:
            row = raw.execute("SELECT value FROM registry_meta WHERE key = %s", (key,)).fetchone()
        else:
            row = self.db.one("SELECT value FROM registry_meta WHERE key = ?", (key,))
        return row[0] if row else None

    def record(self, entry_id: str) -> dict | None:
        row = self.db.one("SELECT source, first_seen, harvested_at FROM registry_entries WHERE id = ?", (entry_id,))
        if row is None:
            return None
        return {"source": row[0], "first_seen": row[1], "harvested_at": row[2]}

    # Semantic vectors: computed by whichever host gets there first, then shared --------------
    def index_vectors(self, batch: int = 4096) -> int:
        self._pull()
        done = self.local.index_vectors(batch)
        if done:
            self._push_vectors()
        return done

    def _semantic_index(self):
        self._pull()
        before = self.local._vectors
        out = self.local._semantic_index()
        if out is not None and out is not before:
            self._push_vectors()
        return out

    # Reads: from the replica, once it is in step -------------------------------------------------
    def get(self, entry_id: str) -> Entry | None:
        raw = getattr(self._tx, "conn", None)
        if raw is not None:   # inside a write (a harvest merging records): what this transaction sees
            row = raw.execute("SELECT data FROM registry_entries WHERE id = %s", (entry_id,)).fetchone()
            return Entry.from_dict(json.loads(row[0])) if row else None
        self._pull()
        return self.local.get(entry_id)

    def from_source(self, source: str) -> Iterator[Entry]:
        raw = getattr(self._tx, "conn", None)
        if raw is None:
            self._pull()
            yield from self.local.from_source(source)
            return
        rows = raw.execute("SELECT data FROM registry_entries WHERE source = %s", (source,)).fetchall()
        entries = [Entry.from_dict(json.loads(r[0])) for r in rows]
        yield from sorted(entries, key=lambda e: e.title.casefold())

    @property
    def version(self) -> int:
        self._pull()
        return self.local.version

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("local", "db", "_tx", "_pull_lock", "_held", "search_index"):
            raise AttributeError(name)
        self._pull()
        return getattr(self.local, name)

    def close(self) -> None:
        """Close the replica and this process's pool (a gunicorn master before it forks workers)."""
        from explorer.db import close

        self.local.close()
        held = getattr(self._tx, "version_conn", None)
        if held is not None and not held[1].closed:
            held[1].close()
        self._tx.version_conn = None
        close(self.url)
