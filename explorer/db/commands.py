"""`explorer db …`: the shared database from the command line.

    explorer db upgrade [--url postgresql://…] [--json]
        bring the schema up to date (also done on start); prints each component's version
    explorer db copy --from sqlite:///EXPLORER_HOME --to postgresql://… [--store-from DIR] [--store-to DIR] [--json]
        move a one-machine installation (registry, short links, accounts and publishing) into an
        empty PostgreSQL database; prints each table's rows and checksum on both sides. The stored
        files (downloads and uploads) are copied too when the shared store (``--store-to``, default
        EXPLORER_STORE_DIR) is another folder than the machine's (``--store-from``, default
        EXPLORER_HOME/store of ``--from``): every file, its sha256 checked after the copy, with the
        count and a checksum over (path, sha256) of both sides printed; a file already there with
        other content is never overwritten (the copy stops and says which)
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import click

from explorer.db import check_url, is_postgres, pg_database

# (table in SQLite file, table in PostgreSQL, columns) in an order foreign keys accept.
ACCOUNT_TABLES = (
    ("users", ("id", "email", "name", "password_hash", "oidc_subject", "created", "disabled")),
    ("publishers", ("slug", "name")),
    ("memberships", ("user_id", "publisher", "role")),
    ("sessions", ("id_hash", "user_id", "csrf", "created", "last_seen", "expires")),
    ("tokens", ("id", "user_id", "name", "token_hash", "created", "last_used", "revoked")),
    ("login_failures", ("key", "at")),
    ("pub_entries", ("id", "publisher", "state", "created_by", "created", "updated")),
    ("pub_versions", ("entry_id", "version", "data", "author", "at", "note")),
    ("pub_uploads", ("id", "entry_id", "resource_id", "original_name", "stored_name", "format", "sha256",
                     "size", "uploaded_by", "at")),
    ("pub_audit", ("id", "entry_id", "at", "actor", "action", "detail")),
    ("access_requests", ("id", "entry_id", "user_id", "email", "purpose", "status", "created", "decided_by",
                         "decided_at", "reason", "until")),
)
LINK_COLUMNS = ("code", "target", "created_at", "kept", "opened_at")
ENTRY_COLUMNS = ("id", "data", "content_hash", "source", "first_seen", "harvested_at")
VECTOR_COLUMNS = ("id", "content_hash", "model", "vec")
_IDENTITY_TABLES = {"users", "tokens", "pub_uploads", "pub_audit", "access_requests"}   # integer ids
_LOCAL_META = {"version", "schema_version", "synced", "replica_of"}


class CopyError(click.ClickException):
    pass


def _url(ctx: click.Context, url: str | None) -> str:
    url = url or ctx.obj["settings"].database_url
    try:
        url = check_url(url)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if not url:
        raise click.UsageError("no PostgreSQL database: set EXPLORER_DATABASE_URL or pass --url postgresql://…")
    return url


def upgrade(url: str) -> dict[str, int]:
    """Every store's schema on ``url`` brought up to date; {component: version}."""
    from explorer.accounts.store import SQLiteAccountStore
    from explorer.publishing.store import PublishingStore
    from explorer.maps.shortlinks import PG_MIGRATIONS as LINK_MIGRATIONS
    from explorer.db.migrations import apply_steps, versions
    from explorer.catalogue.pg_registry import MIGRATIONS as REGISTRY_MIGRATIONS, fill_search

    db = pg_database(url)
    apply_steps(db, "registry", REGISTRY_MIGRATIONS)
    fill_search(db)
    apply_steps(db, "links", LINK_MIGRATIONS)
    SQLiteAccountStore(db)
    PublishingStore(db)
    return versions(db)


@click.group("db")
def db_group() -> None:
    """The shared PostgreSQL database (EXPLORER_DATABASE_URL): schema and copying into it."""


@db_group.command("upgrade")
@click.option("--url", default=None, help="postgresql://… (default: EXPLORER_DATABASE_URL)")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def upgrade_command(ctx: click.Context, url: str | None, as_json: bool) -> None:
    """Bring the database's schema up to date (the app also does it on start)."""
    found = upgrade(_url(ctx, url))
    if as_json:
        click.echo(json.dumps({"versions": found}, indent=2))
        return
    for component, version in sorted(found.items()):
        click.echo(f"{component:<12} version {version}")


def _sqlite_home(source: str) -> Path:
    parts = urlsplit(source)
    if parts.scheme != "sqlite":
        raise click.UsageError(f"--from must be sqlite:///path/to/EXPLORER_HOME (or its registry.sqlite3), not {source!r}")
    path = Path("/" + unquote(parts.netloc + parts.path).lstrip("/")) if parts.path.startswith("/") or parts.netloc \
        else Path(unquote(parts.path))
    if path.is_file():
        path = path.parent
    if not path.is_dir() or not any((path / n).is_file() for n in ("registry.sqlite3", "links.sqlite3", "accounts.sqlite3")):
        raise click.UsageError(f"{path} holds none of registry.sqlite3, links.sqlite3, accounts.sqlite3")
    return path


def _checksum(rows) -> str:
    """Order-free sha256 of rows (each as canonical JSON; bytes as hex)."""
    lines = sorted(json.dumps([v.hex() if isinstance(v, (bytes, memoryview)) else v for v in
                               (bytes(x) if isinstance(x, memoryview) else x for x in row)],
                              ensure_ascii=False, separators=(",", ":")) for row in rows)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode() + b"\n")
    return digest.hexdigest()[:16]


def _sqlite_rows(path: Path, sql: str) -> list[tuple]:
    if not path.is_file():
        return []
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in conn.execute(sql)]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def copy(home: Path, url: str) -> list[dict]:
    """Copy registry, links, accounts and publishing from the SQLite files under ``home`` into the
    empty database at ``url`` in one transaction; one report row per table, checked after."""
    upgrade(url)
    db = pg_database(url)
    plan: list[tuple[str, list[tuple], str, tuple[str, ...], str]] = []   # (label, rows, pg table, columns, read-back SQL)
    registry, links, accounts = home / "registry.sqlite3", home / "links.sqlite3", home / "accounts.sqlite3"
    entries = _sqlite_rows(registry, f"SELECT {', '.join(ENTRY_COLUMNS)} FROM entries")
    plan.append(("registry entries", entries, "registry_entries", ENTRY_COLUMNS,
                 f"SELECT {', '.join(ENTRY_COLUMNS)} FROM registry_entries"))
    vectors = _sqlite_rows(registry, "SELECT e.id, v.content_hash, v.model, v.vec FROM vectors v"
                                     " JOIN entries e ON e.rowid = v.entry_rowid AND e.content_hash = v.content_hash")
    plan.append(("registry vectors", vectors, "registry_vectors", VECTOR_COLUMNS,
                 f"SELECT {', '.join(VECTOR_COLUMNS)} FROM registry_vectors"))
    meta = [r for r in _sqlite_rows(registry, "SELECT key, value FROM meta") if r[0] not in _LOCAL_META]
    plan.append(("registry bookkeeping", meta, "registry_meta", ("key", "value"),
                 "SELECT key, value FROM registry_meta WHERE key <> 'version'"))
    plan.append(("short links", _sqlite_rows(links, f"SELECT {', '.join(LINK_COLUMNS)} FROM links"), "links",
                 LINK_COLUMNS, f"SELECT {', '.join(LINK_COLUMNS)} FROM links"))
    for table, columns in ACCOUNT_TABLES:
        cols = ", ".join(columns)
        plan.append((table, _sqlite_rows(accounts, f"SELECT {cols} FROM {table}"), table, columns,
                     f"SELECT {cols} FROM {table}"))

    with db.raw_transaction() as raw:
        for label, _rows, table, _cols, readback in plan:
            held = raw.execute("SELECT COUNT(*) FROM " + readback.split(" FROM ", 1)[1]).fetchone()[0]
            if held:
                raise CopyError(f"the target already holds {held:,} rows in {table} ({label}): "
                                "copy only into an empty database, so nothing there is overwritten or mixed")
        version = 1 if entries else 0
        with raw.cursor() as cur:
            for label, rows, table, columns, _readback in plan:
                if not rows:
                    continue
                values = rows
                if table == "registry_entries":
                    columns = (*columns, "changed")
                    values = [(*r, version) for r in rows]
                placeholders = ", ".join(["%s"] * len(columns))
                cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", values)
            cur.execute("UPDATE registry_meta SET value = %s WHERE key = 'version'", (str(version),))
            for table, columns in ACCOUNT_TABLES:
                if columns[0] == "id" and table in _IDENTITY_TABLES:
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                                f" GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))")
    from explorer.catalogue.pg_registry import fill_search

    fill_search(db)                      # the copied entries' full-text columns
    report = []
    for label, rows, table, columns, readback in plan:
        copied = _pg_rows(db, readback)
        report.append({"what": label, "table": table, "source_rows": len(rows), "target_rows": len(copied),
                       "source_checksum": _checksum(rows), "target_checksum": _checksum(copied),
                       "same": len(rows) == len(copied) and _checksum(rows) == _checksum(copied)})
    return report


def _store_files(folder: Path) -> list[Path]:
    """The regular files of a store, relative to it, sorted: no symbolic links (a link could lead
    the copy to a file outside the store) and no dot-files (staging folders of writes under way)."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(root, d)))
        for name in files:
            path = Path(root) / name
            if not name.startswith(".") and path.is_file() and not path.is_symlink():
                found.append(path.relative_to(folder))
    return sorted(found)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_store(source: Path, target: Path) -> tuple[list[Path], dict[Path, str]]:
    """(files, their sha256) of the source store; CopyError when one of them is already in the
    target with other content (checked before anything is copied, rows or files)."""
    source, target = source.resolve(), target.expanduser().resolve()
    if source == target:
        return [], {}
    files = _store_files(source) if source.is_dir() else []
    sums = {rel: _sha256(source / rel) for rel in files}
    clashes = [str(rel) for rel in files if (target / rel).is_file() and _sha256(target / rel) != sums[rel]]
    if clashes:
        raise CopyError(f"{len(clashes)} stored file(s) are already in {target} with other content "
                        f"(first: {clashes[0]}): nothing was copied, so nothing there is overwritten")
    return files, sums


def copy_store(source: Path, target: Path) -> dict:
    """Copy the stored files of ``source`` into ``target`` (each written beside its place and
    renamed into it, so a host reading the shared store never sees half a file), each checked by
    sha256 after the copy. A file already in ``target`` with the same content is kept; one with
    other content stops the copy before anything is written. One report row."""
    source, target = source.resolve(), target.expanduser().resolve()
    row = {"what": "stored files", "from": str(source), "to": str(target)}
    if source == target:
        return {**row, "copied": False, "same": True,
                "reason": "the shared store is the machine's own store folder: the files stay where they are"}
    files, sums = check_store(source, target)
    copied = kept = 0
    for rel in files:
        dest = target / rel
        if dest.is_file():
            kept += 1
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.parent / f".{dest.name}.copy-{uuid.uuid4().hex[:10]}"
        try:
            with open(source / rel, "rb") as src, open(partial, "wb") as out:
                for block in iter(lambda: src.read(1 << 20), b""):
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            if _sha256(partial) != sums[rel]:
                raise CopyError(f"{rel} changed while it was copied: run the copy again")
            os.replace(partial, dest)
        finally:
            partial.unlink(missing_ok=True)
        copied += 1
    after = {rel: _sha256(target / rel) for rel in files}
    return {**row, "copied": True, "source_files": len(files), "target_files": len(after),
            "newly_copied": copied, "already_there": kept,
            "source_bytes": sum((source / rel).stat().st_size for rel in files),
            "source_checksum": _checksum([(str(rel), sums[rel]) for rel in files]),
            "target_checksum": _checksum([(str(rel), after[rel]) for rel in files]),
            "same": after == sums}


def _pg_rows(db, sql: str) -> list[tuple]:
    with db.raw_transaction() as raw:
        return [tuple(r) for r in raw.execute(sql).fetchall()]


@db_group.command("copy")
@click.option("--from", "source", required=True, help="sqlite:///path/to/EXPLORER_HOME")
@click.option("--to", "target", required=True, help="postgresql://user@host:port/name (an empty database)")
@click.option("--store-from", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="the machine's store folder (default: store/ under the --from EXPLORER_HOME)")
@click.option("--store-to", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="the store every host reaches (default: EXPLORER_STORE_DIR, else EXPLORER_HOME/store)")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def copy_command(ctx: click.Context, source: str, target: str, store_from: Path | None, store_to: Path | None,
                 as_json: bool) -> None:
    """Move a one-machine registry, short links, accounts and stored files into PostgreSQL and the
    shared store, checked row by row and file by file."""
    if not is_postgres(target):
        raise click.UsageError(f"--to must be a postgresql:// address, not {target!r}")
    home = _sqlite_home(source)
    store_from = store_from or home / "store"
    store_to = store_to or ctx.obj["settings"].store_dir
    check_store(store_from, store_to)            # a clash stops everything before any row is copied
    report = copy(home, target)
    files = copy_store(store_from, store_to)
    same = all(r["same"] for r in report) and files["same"]
    if as_json:
        click.echo(json.dumps({"tables": report, "files": files, "same": same}, indent=2))
    else:
        click.echo(f"{'what':<22} {'rows from':>9} {'rows to':>9}  {'checksum from':<16}  {'checksum to':<16}")
        for r in report:
            click.echo(f"{r['what']:<22} {r['source_rows']:>9,} {r['target_rows']:>9,}  {r['source_checksum']:<16}  "
                       f"{r['target_checksum']:<16}{'' if r['same'] else '  DIFFERENT'}")
        if files["copied"]:
            click.echo(f"{'stored files':<22} {files['source_files']:>9,} {files['target_files']:>9,}  "
                       f"{files['source_checksum']:<16}  {files['target_checksum']:<16}"
                       f"{'' if files['same'] else '  DIFFERENT'}")
            click.echo(f"  {files['newly_copied']:,} copied ({files['source_bytes']:,} bytes read), "
                       f"{files['already_there']:,} already there; from {files['from']} to {files['to']}")
        else:
            click.echo(f"stored files: not copied: {files['reason']} ({files['from']})")
    if not same:
        raise click.ClickException("the copy differs from its source (see above); the source files are untouched")
