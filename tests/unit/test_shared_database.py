"""Accounts, publishing tables and short links on both backends (SQLite under EXPLORER_HOME and a
real PostgreSQL server the tests start), the versioned migrations, and the PostgreSQL wiring of
EXPLORER_DATABASE_URL through the app."""

from __future__ import annotations

import json
import multiprocessing
import time

import psycopg
import pytest

from explorer.maps import shortlinks
from explorer.accounts.store import accounts_database
from explorer.db import check_url
from explorer.db.migrations import apply_steps, versions
from explorer.settings import Settings


def _settings(tmp_path, database_url, **extra) -> Settings:
    return Settings(home=tmp_path / "home", database_url=database_url, cache_url="simple", **extra)


def test_accounts_and_tokens_on_both_backends(tmp_path, database_url):
    from explorer.accounts.store import open_accounts

    accounts = open_accounts(_settings(tmp_path, database_url))
    user = accounts.add_user("Editor@Example.org", "a long enough password 1", name="Ed",
                             publisher="Greater London Authority", role="editor")
    assert user.id and accounts.find_user("editor@example.org").id == user.id   # case-insensitive e-mail
    assert accounts.authenticate("editor@example.org", "a long enough password 1", "1.2.3.4").id == user.id
    assert accounts.authenticate("editor@example.org", "wrong password here", "1.2.3.4") is None
    session_id, csrf = accounts.create_session(user.id)
    assert accounts.session_user(session_id)[0].id == user.id
    token_id, token = accounts.create_token(user.id, "ci")
    assert accounts.token_user(token).id == user.id
    assert [t["id"] for t in accounts.list_tokens(user.id)] == [token_id]
    assert accounts.revoke_token(token_id) and accounts.token_user(token) is None
    db = accounts_database(_settings(tmp_path, database_url))
    assert token not in db.one("SELECT token_hash FROM tokens")[0]     # kept only as a hash
    second = accounts.add_user("other@example.org", "another long password 2")
    assert second.id != user.id and [u.email for u in accounts.list_users()] == ["Editor@example.org", "other@example.org"]


def test_publishing_versions_audit_and_requests_on_both_backends(tmp_path, database_url):
    from explorer.publishing.store import PublishingStore

    store = PublishingStore(accounts_database(_settings(tmp_path, database_url)))
    with store.transaction():
        store.save_state("e1", "Greater London Authority", "draft", "ed@example.org")
        assert store.add_version("e1", {"title": "Trees"}, "ed@example.org") == 1
        store.audit("e1", "ed@example.org", "created", note="first")
    with store.transaction():
        assert store.add_version("e1", {"title": "Trees in London"}, "ed@example.org", "renamed") == 2
        store.save_state("e1", "Greater London Authority", "published", "ed@example.org")
        store.audit("e1", "ed@example.org", "published")
    assert store.state("e1")["state"] == "published"
    assert [v["version"] for v in store.versions("e1")] == [2, 1]
    assert store.version("e1", 1)["data"] == {"title": "Trees"}
    assert [a["action"] for a in store.audit_log("e1")] == ["published", "created"]
    with pytest.raises(RuntimeError):            # nothing half-written when a transaction fails
        with store.transaction():
            store.add_version("e1", {"title": "half"}, "ed@example.org")
            store.audit("e1", "ed@example.org", "half")
            raise RuntimeError("boom")
    assert len(store.versions("e1")) == 2 and len(store.audit_log("e1")) == 2
    first = store.add_request("e1", 7, "reader@example.org", "research")
    second = store.add_request("e1", 8, "other@example.org", "curiosity")
    assert second > first
    store.decide(first, "approved", "ed@example.org", "", "2099-01-01")
    assert store.has_grant("e1", 7, "2030-01-01") and not store.has_grant("e1", 7, "2100-01-01")
    assert not store.has_grant("e1", 8, "2030-01-01")
    assert [r["id"] for r in store.requests(status="pending")] == [second]
    with store.transaction():
        store.add_upload(entry_id="e1", resource_id="upload-1", original_name="Trees 50%.csv",
                         stored_name="trees-50.csv", format="csv", sha256="ab" * 32, size=12,
                         uploaded_by="ed@example.org", at="2026-12-06T23:00:00+00:00")
    assert [(u["resource_id"], u["original_name"]) for u in store.uploads("e1")] == [("upload-1", "Trees 50%.csv")]


def test_the_dialect_translation():
    from explorer.db.postgres import translate

    assert translate("SELECT * FROM t WHERE a = ? AND b LIKE '50%?'") == "SELECT * FROM t WHERE a = %s AND b LIKE '50%%?'"
    assert translate("SELECT x::text FROM t WHERE a = :a", named=True) == "SELECT x::text FROM t WHERE a = %(a)s"
    assert translate("SELECT id FROM users WHERE email = ? COLLATE NOCASE") == \
        "SELECT id FROM users WHERE lower(email) = lower(%s)"
    assert translate("INSERT OR IGNORE INTO t(a) VALUES (?)") == "INSERT INTO t(a) VALUES (%s) ON CONFLICT DO NOTHING"
    with pytest.raises(ValueError, match="SQLite-only"):
        translate("PRAGMA table_info(t)")


def test_migrations_run_once_and_record_their_version(postgres_url):
    from explorer.db import pg_database

    db = pg_database(postgres_url)
    steps = ["CREATE TABLE demo (id INTEGER PRIMARY KEY)", "ALTER TABLE demo ADD COLUMN name TEXT"]
    assert apply_steps(db, "demo", steps[:1]) == 1
    assert apply_steps(db, "demo", steps) == 2
    assert apply_steps(db, "demo", steps) == 2      # nothing runs twice (a second ALTER would fail)
    assert versions(db)["demo"] == 2
    with psycopg.connect(postgres_url) as conn:
        assert [r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns"
                                            " WHERE table_name = 'demo' ORDER BY ordinal_position")] == ["id", "name"]


def test_a_database_url_that_is_not_postgresql_is_refused():
    assert check_url("") == ""
    assert check_url("postgresql://u@h:5432/d").startswith("postgresql://")
    for bad in ("mysql://u@h/d", "sqlite:///tmp/x", "http://example.org"):
        with pytest.raises(ValueError, match="EXPLORER_DATABASE_URL"):
            check_url(bad)


def _shorten_in_process(url, start, queue):
    store = shortlinks.PgLinkStore(url)
    start.wait()
    queue.put([store.shorten(f"/map?layer=view-{i}") for i in range(20)])


def test_processes_shortening_at_once_on_postgresql_leave_one_row_per_view(postgres_url):
    ctx = multiprocessing.get_context("spawn")
    start, queue = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_shorten_in_process, args=(postgres_url, start, queue)) for _ in range(3)]
    for p in procs:
        p.start()
    start.set()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert results[0] == results[1] == results[2]
    assert shortlinks.PgLinkStore(postgres_url).count() == 20


def test_expiry_on_postgresql(postgres_url):
    from datetime import datetime, timedelta, timezone

    store = shortlinks.PgLinkStore(postgres_url, unopened_days=30)
    kept = store.shorten("/map?layer=kept")
    opened = store.shorten("/map?layer=opened", keep=False)
    unopened = store.shorten("/map?layer=unopened", keep=False)
    assert store.resolve(opened) == "/map?layer=opened"
    now = datetime.now(timezone.utc)
    assert store.sweep(now + timedelta(days=29)) == 0
    assert store.sweep(now + timedelta(days=31)) == 1
    assert store.resolve(unopened) is None and store.resolve(kept) == "/map?layer=kept"


def test_a_link_made_through_one_settings_opens_through_another(tmp_path, postgres_url):
    """Two hosts with different EXPLORER_HOME folders and one database: the same links."""
    one = _settings(tmp_path / "a", postgres_url)
    two = _settings(tmp_path / "b", postgres_url)
    code = shortlinks.store_for(one).shorten("/map?layer=shared")
    assert shortlinks.store_for(two).resolve(code) == "/map?layer=shared"
    assert not (tmp_path / "a" / "home" / shortlinks.FILE_NAME).exists()   # nothing kept per host


def _hold_lock(url, home, name, ready, release, queue):
    from explorer.db.locks import run_once
    from explorer.settings import Settings

    with run_once(Settings(home=home, database_url=url), name) as got:
        queue.put(got)
        ready.set()
        release.wait(60)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_background_work_runs_once_across_processes(tmp_path, backend, request):
    """A second process (another host, with its own EXPLORER_HOME on PostgreSQL) does not get the
    lock while the first holds it, and gets it once it is released."""
    from explorer.db.locks import run_once

    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else ""
    first_home = tmp_path / "a"
    second = Settings(home=(tmp_path / "b") if url else first_home, database_url=url)
    ctx = multiprocessing.get_context("spawn")
    ready, release, queue = ctx.Event(), ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=_hold_lock, args=(url, str(first_home), "harvest", ready, release, queue))
    proc.start()
    try:
        assert ready.wait(60) and queue.get(timeout=10) is True
        with run_once(second, "harvest") as got:
            assert got is False                     # the other host is at it: skip
        with run_once(second, "index") as got:
            assert got is True                      # another job's lock is free
    finally:
        release.set()
        proc.join(30)
    with run_once(second, "harvest") as got:
        assert got is True


def test_a_harvest_scheduled_on_two_hosts_runs_once(tmp_path, postgres_url):
    from explorer.catalogue.sources import harvest_lock

    one = _settings(tmp_path / "a", postgres_url)
    two = _settings(tmp_path / "b", postgres_url)
    with harvest_lock(one, wait=False) as first:
        with harvest_lock(two, wait=False) as second:
            assert (first, second) == (True, False)
    with harvest_lock(two, wait=False) as again:
        assert again is True


def test_a_file_downloaded_by_one_host_is_read_by_another_with_its_checksum(tmp_path, local_server):
    """Two hosts with their own EXPLORER_HOME and one EXPLORER_STORE_DIR: host B, offline, uses
    host A's download after checking its sha256; a file changed behind the store's back is refused."""
    from explorer.catalogue.models import Entry
    from explorer.data.resolver import Resolver

    body = b"code,value\nE09000001,1\nE09000002,2\n"
    url = local_server.add("/values.csv", (200, {"Content-Type": "text/csv"}, body))
    shared = tmp_path / "shared-store"
    entry = Entry.from_dict({"id": "shared-test", "title": "Shared", "publisher": "GLA", "licence": "OGL v3",
                             "resources": [{"id": "csv", "url": url, "format": "csv"}]})
    host_a = Settings(home=tmp_path / "a", data_dir=tmp_path / "nodata", store_folder=str(shared),
                      allow_private_urls=True, harvest_bundled=False)
    host_b = Settings(home=tmp_path / "b", data_dir=tmp_path / "nodata", store_folder=str(shared),
                      offline=True, harvest_bundled=False)
    first = Resolver(host_a, progress=False).resolve(entry)
    assert first.origin == "download" and str(first.path).startswith(str(shared))
    second = Resolver(host_b, progress=False).resolve(entry)
    assert second.origin == "store" and second.path.read_bytes() == body
    assert second.provenance.sha256 == first.provenance.sha256
    assert not list((tmp_path / "b").rglob("values.csv"))     # nothing copied into host B's home
    assert not [p for p in shared.rglob("*") if p.name.startswith((".tmp", ".part")) or p.suffix == ".part"]
    first.path.write_bytes(body.replace(b"1\n", b"9\n"))      # changed behind the store's back
    from explorer.data.resolver import ResolveError
    with pytest.raises(ResolveError):
        Resolver(host_b.with_(), progress=False).resolve(entry)


# The registry on PostgreSQL -----------------------------------------------------------------------
def _entry(entry_id: str, title: str, description: str = "") -> "Entry":
    from explorer.catalogue.models import Entry

    return Entry.from_dict({"id": entry_id, "title": title, "description": description, "publisher": "GLA",
                            "licence": "OGL v3", "resources": [{"url": f"https://example.org/{entry_id}.csv"}]})


def _titles(registry, query: str) -> list[str]:
    return [h.entry.title for h in registry.search(query, limit=5).hits]


def test_an_entry_written_by_one_host_is_found_by_the_other_at_once(tmp_path, postgres_url):
    from explorer.catalogue.pg_registry import PgRegistry

    host_a = PgRegistry(postgres_url, tmp_path / "a" / "replica.sqlite3")
    host_b = PgRegistry(postgres_url, tmp_path / "b" / "replica.sqlite3")
    with host_a.transaction():
        host_a.upsert(_entry("trees", "Street trees in Camden", "Trees near parks."))
        host_a.upsert(_entry("no2", "Nitrogen dioxide by LSOA", "Annual mean concentrations."))
    assert _titles(host_b, "street trees") == ["Street trees in Camden"]
    assert host_b.count() == 2 and host_b.get("no2").title == "Nitrogen dioxide by LSOA"
    assert host_b.upsert(_entry("trees", "Street trees in Camden and Islington", "Trees near parks.")) == "updated"
    assert _titles(host_a, "islington") == ["Street trees in Camden and Islington"]
    assert host_a.delete("no2") and host_b.get("no2") is None and _titles(host_b, "nitrogen") == []
    assert host_a.record("trees")["source"] == host_b.record("trees")["source"]
    host_a.set_meta("source:example", '{"ok": true}')
    assert host_b.get_meta("source:example") == '{"ok": true}'      # bookkeeping is shared too
    with pytest.raises(RuntimeError):           # a failed write leaves both hosts as they were
        with host_a.transaction():
            host_a.upsert(_entry("half", "Half written"))
            raise RuntimeError("harvest crashed")
    assert host_a.get("half") is None and host_b.get("half") is None and host_b.count() == 1
    # a host starting later (an empty replica) gets everything
    host_c = PgRegistry(postgres_url, tmp_path / "c" / "replica.sqlite3")
    assert [e.id for e in host_c.all()] == ["trees"]


def test_semantic_vectors_are_computed_once_and_shared(tmp_path, postgres_url):
    from explorer.catalogue.pg_registry import PgRegistry

    host_a = PgRegistry(postgres_url, tmp_path / "a" / "replica.sqlite3")
    with host_a.transaction():
        for i, title in enumerate(["Rough sleeping counts", "House prices by ward", "Tree canopy cover"]):
            host_a.upsert(_entry(f"e{i}", title))
    assert host_a.index_vectors() == 3
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM registry_vectors").fetchone()[0] == 3
    host_b = PgRegistry(postgres_url, tmp_path / "b" / "replica.sqlite3")
    assert host_b.index_vectors() == 0          # pulled with the entries, not embedded again
    assert _titles(host_b, "homeless people on the streets")[0] == "Rough sleeping counts"


def test_search_on_postgresql_finds_and_weighs_terms_in_the_database(tmp_path, postgres_url):
    """The words of a request are found through the tsvector column and its GIN index, kept by the
    registry's writes: change an entry's tsvector in the database alone and the search follows."""
    from explorer.catalogue.pg_registry import PgRegistry

    host = PgRegistry(postgres_url, tmp_path / "a" / "replica.sqlite3")
    with host.transaction():
        host.upsert(_entry("trees", "Street trees in Camden", "Trees near parks, counted by the council."))
        host.upsert(_entry("no2", "Nitrogen dioxide by LSOA", "Annual mean concentrations."))
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'registry_entries_tsv'"
                            ).fetchone()[0].lower().find("using gin (tsv)") > 0
        tsv, lengths = conn.execute("SELECT tsv::text, field_lengths FROM registry_entries WHERE id = 'trees'").fetchone()
        # English stems with their positions; title A, tags B (here the publisher's other name), publisher C,
        # description D (PostgreSQL prints no label for D)
        assert tsv.endswith("'tree':2A,5") and "'count':8 " in tsv and "'london':13B" in tsv and "'gla':15C" in tsv
        assert lengths == [4, 7, 3, 1]                      # title, description, tags, publisher in tokens
        conn.execute("UPDATE registry_entries SET tsv = tsv || 'quillwort:40D'::tsvector WHERE id = 'no2'")
    assert _titles(host, "quillwort") == ["Nitrogen dioxide by LSOA"]   # nowhere in the replica's text
    assert _titles(host, "counting trees")[0] == "Street trees in Camden"  # stemmed: counting → count
    host.upsert(_entry("no2", "Nitrogen dioxide by LSOA", "Annual mean concentrations (updated)."))
    assert _titles(host, "quillwort") == []                 # the write rebuilt the entry's tsvector


def test_search_ranks_alike_on_both_backends(tmp_path, postgres_url):
    """The same 400 real entries (the London Datastore snapshot) in SQLite and in PostgreSQL: the
    same first ten results, in the same order, for whole questions, typing, typos and filters."""
    from explorer.catalogue.harvest import harvest
    from explorer.catalogue.pg_registry import PgRegistry
    from explorer.catalogue.registry import Registry

    from ..conftest import DATA_DIR

    source = Registry(tmp_path / "all.sqlite3")
    harvest(str(DATA_DIR / "catalogue" / "lds_export_snapshot.json"), source,
            Settings(home=tmp_path / "h", offline=True), kind="lds")
    entries = list(source.all())[::3][:400]
    sqlite = Registry(tmp_path / "sqlite.sqlite3")
    postgres = PgRegistry(postgres_url, tmp_path / "pg" / "replica.sqlite3")
    for registry in (sqlite, postgres):
        with registry.transaction():
            for entry in entries:
                registry.upsert(entry)
    requests = ["house prices", "air quality in london", "how many people sleep rough", "employment rate by borough",
                "trees", "fly-tipping", "children's centres", "nitrogen dioxide NO2", "popul", "schools ofsted",
                "crime statistics", "green space", "housing", "transport", "deprivation", "ward profiles", "cycl",
                # tsquery syntax in what a person types is text, never an operator
                "o'brien & | ! :* (trees", "schools\\' OR 1=1 --", "<-> <2> 'air':*A", "ümläut café"]
    seen = 0
    for request in requests:
        ours = [h.entry.id for h in sqlite.search(request, limit=10).hits]
        theirs = [h.entry.id for h in postgres.search(request, limit=10).hits]
        assert theirs == ours, request
        seen += bool(ours)
    assert seen >= len(requests) - 6                         # the requests find things at all
    filtered = {"theme": ["housing"]}
    assert ([h.entry.id for h in postgres.search("prices", filters=filtered).hits]
            == [h.entry.id for h in sqlite.search("prices", filters=filtered).hits])


# explorer db upgrade / copy ------------------------------------------------------------------------
def test_db_upgrade_prints_every_components_version(tmp_path, postgres_url):
    from click.testing import CliRunner

    from explorer.cli import main

    result = CliRunner().invoke(main, ["--home", str(tmp_path / "h"), "db", "upgrade", "--url", postgres_url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["versions"] == {"accounts": 1, "links": 1, "publishing": 1, "registry": 2}
    again = CliRunner().invoke(main, ["--home", str(tmp_path / "h"), "db", "upgrade", "--url", postgres_url, "--json"])
    assert json.loads(again.output)["versions"] == json.loads(result.output)["versions"]
    refused = CliRunner().invoke(main, ["--home", str(tmp_path / "h"), "db", "upgrade", "--url", "mysql://x/y"])
    assert refused.exit_code != 0 and "EXPLORER_DATABASE_URL" in refused.output


def test_db_copy_moves_registry_links_and_accounts_without_loss(tmp_path, postgres_url):
    from click.testing import CliRunner

    from explorer.accounts.store import open_accounts
    from explorer.cli import main
    from explorer.catalogue.pg_registry import PgRegistry
    from explorer.publishing.store import PublishingStore
    from explorer.catalogue.registry import Registry

    home = tmp_path / "one-machine"
    local = _settings(tmp_path, "")
    local = local.with_(home=home)
    registry = Registry(home / "registry.sqlite3")
    with registry.transaction():
        for i, title in enumerate(["Rough sleeping counts", "House prices by ward", "Tree canopy cover"]):
            registry.upsert(_entry(f"e{i}", title))
    registry.index_vectors()
    registry.set_meta("source:bundled", '{"ok": true}')
    registry.close()
    code = shortlinks.store_for(local).shorten("/map?layer=e1")
    accounts = open_accounts(local)
    editor = accounts.add_user("ed@example.org", "a long enough password 1", publisher="GLA", role="editor")
    token_id, token = accounts.create_token(editor.id, "ci")
    store = PublishingStore(accounts_database(local))
    with store.transaction():
        store.save_state("e1", "GLA", "published", "ed@example.org")
        store.add_version("e1", {"title": "House prices by ward"}, "ed@example.org")
        store.audit("e1", "ed@example.org", "published")
    store.add_request("e1", editor.id, "ed@example.org", "research")
    stored = {"e1/csv/values.csv": b"code,value\nE09000001,1\n", "e1/csv/provenance.json": b'{"sha256": "x"}',
              "e2/upload-1/trees 50%.csv": bytes(range(256)) * 40}
    for rel, body in stored.items():
        (home / "store" / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / "store" / rel).write_bytes(body)
    (home / "store" / "e1" / ".csv.staging-abc").mkdir()            # a download under way: not copied
    (home / "store" / "e1" / ".csv.staging-abc" / "half.csv").write_bytes(b"half")
    (home / "store" / "e2" / "link.csv").symlink_to("/etc/passwd")  # a link out of the store: not followed
    shared_store = tmp_path / "shared-store"

    result = CliRunner().invoke(main, ["db", "copy", "--from", f"sqlite:///{home}", "--to", postgres_url,
                                       "--store-to", str(shared_store), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["same"] is True
    files = report["files"]
    assert (files["source_files"], files["target_files"], files["newly_copied"]) == (3, 3, 3)
    assert files["source_checksum"] == files["target_checksum"]
    assert sorted(str(p.relative_to(shared_store)) for p in shared_store.rglob("*") if p.is_file()) == sorted(stored)
    assert all((shared_store / rel).read_bytes() == body for rel, body in stored.items())
    rows = {r["what"]: r for r in report["tables"]}
    assert rows["registry entries"]["target_rows"] == 3 and rows["registry vectors"]["target_rows"] == 3
    assert rows["short links"]["target_rows"] == 1 and rows["users"]["target_rows"] == 1
    assert rows["tokens"]["target_checksum"] == rows["tokens"]["source_checksum"]

    shared = _settings(tmp_path / "host", postgres_url)
    host = PgRegistry(postgres_url, tmp_path / "host" / "replica.sqlite3")
    assert host.count() == 3 and _titles(host, "house prices")[0] == "House prices by ward"
    assert host.index_vectors() == 0                         # the vectors came along
    assert host.get_meta("source:bundled") == '{"ok": true}'
    assert shortlinks.store_for(shared).resolve(code) == "/map?layer=e1"
    moved = open_accounts(shared)
    assert moved.token_user(token).email == "ed@example.org"
    assert moved.authenticate("ed@example.org", "a long enough password 1", "1.2.3.4") is not None
    newer = moved.add_user("new@example.org", "another long password 2")
    assert newer.id > editor.id                              # the id sequence continues after the copied rows
    assert [a["action"] for a in PublishingStore(accounts_database(shared)).audit_log("e1")] == ["published"]

    again = CliRunner().invoke(main, ["db", "copy", "--from", f"sqlite:///{home}", "--to", postgres_url,
                                      "--store-to", str(shared_store)])
    assert again.exit_code != 0 and "already holds" in again.output   # never mixed into a used database


def test_db_copy_says_when_the_store_stays_and_refuses_to_overwrite_a_stored_file(tmp_path, postgres_server):
    from click.testing import CliRunner

    from explorer.catalogue.registry import Registry
    from explorer.cli import main

    home = tmp_path / "one-machine"
    registry = Registry(home / "registry.sqlite3")
    registry.upsert(_entry("e1", "House prices by ward"))
    registry.close()
    (home / "store" / "e1" / "csv").mkdir(parents=True)
    (home / "store" / "e1" / "csv" / "values.csv").write_bytes(b"ours")
    # one store for every host already: nothing to move, and the command says so
    same = CliRunner().invoke(main, ["db", "copy", "--from", f"sqlite:///{home}", "--to", postgres_server.new_database(),
                                     "--store-to", str(home / "store")])
    assert same.exit_code == 0, same.output
    assert "stored files: not copied: the shared store is the machine's own store folder" in same.output
    # a file already in the shared store with other content: nothing copied, rows or files
    shared = tmp_path / "shared"
    (shared / "e1" / "csv").mkdir(parents=True)
    (shared / "e1" / "csv" / "values.csv").write_bytes(b"theirs")
    url = postgres_server.new_database()
    clash = CliRunner().invoke(main, ["db", "copy", "--from", f"sqlite:///{home}", "--to", url, "--store-to", str(shared)])
    assert clash.exit_code != 0 and "e1/csv/values.csv" in clash.output and "nothing was copied" in clash.output
    assert (shared / "e1" / "csv" / "values.csv").read_bytes() == b"theirs"
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regclass('registry_entries')").fetchone()[0] is None   # no rows, no tables


def _scheduled_refresh(url, home, sources, start, queue):
    """One host's scheduler round: refresh the sources that are due, without waiting for the lock."""
    from explorer.catalogue.sources import refresh
    from explorer.services import open_registry
    from explorer.settings import Settings

    settings = Settings(home=home, database_url=url, sources=sources, harvest_bundled=False, offline=True)
    registry = open_registry(settings, harvest_bundled=False)
    start.wait(60)
    done = refresh(registry, settings, due_only=True, wait=False, vectors=False)
    queue.put(sorted(done))


def test_a_refresh_scheduled_on_two_hosts_at_once_runs_once(tmp_path, postgres_url):
    """Both hosts' schedulers find the source due at the same moment: one harvests, the other
    skips (the lock is held) or finds it no longer due; the source is harvested once."""
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - name: bundled\n    title: Bundled\n    kind: bundled\n"
                       "    url: bundled\n    refresh_hours: 1\n", encoding="utf-8")
    ctx = multiprocessing.get_context("spawn")
    start, queue = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_scheduled_refresh, args=(postgres_url, str(tmp_path / name), str(sources), start, queue))
             for name in ("host-a", "host-b")]
    for p in procs:
        p.start()
    time.sleep(3)                           # both opened their registry and wait for the signal
    start.set()
    rounds = [queue.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(30)
    assert sorted(rounds) == [[], ["bundled"]]          # one host harvested, the other did nothing
    with psycopg.connect(postgres_url) as conn:
        state = json.loads(conn.execute("SELECT value FROM registry_meta WHERE key = 'source:bundled'").fetchone()[0])
        assert state["ok"] and state["counts"]["added"] > 0   # the one harvest: everything added once
        assert conn.execute("SELECT COUNT(*) FROM registry_entries").fetchone()[0] == state["counts"]["added"]


def _child_query(url, parent_id, queue):
    from explorer.db import pg_database

    db = pg_database(url)
    queue.put((id(db) != parent_id, db.one("SELECT 41 + 1")[0]))


def test_a_forked_worker_opens_its_own_pool(postgres_url):
    """gunicorn forks workers from a master that has used the database: a worker must not use the
    master's pool (its threads did not come along; its sockets are the master's)."""
    from explorer.db import pg_database

    parent = pg_database(postgres_url)
    assert parent.one("SELECT 1")[0] == 1
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_query, args=(postgres_url, id(parent), queue))
    child.start()
    assert queue.get(timeout=60) == (True, 42)      # a pool of its own, which works
    child.join(30)
    assert child.exitcode == 0
    assert parent.one("SELECT 2")[0] == 2          # the parent's sessions were left alone


def test_explorer_settings_never_prints_the_database_password(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from explorer.cli import main

    monkeypatch.setenv("EXPLORER_DATABASE_URL", "postgresql://explorer:s3cret-word@db.internal:5432/explorer")
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "settings", "--json"])
    assert result.exit_code == 0 and "s3cret-word" not in result.output
    shown = {row["env"]: row["value"] for row in json.loads(result.output)}
    assert shown["EXPLORER_DATABASE_URL"] == "postgresql://explorer:***@db.internal:5432/explorer"


def test_a_web_request_asks_the_database_once_and_the_next_request_sees_new_writes(tmp_path, postgres_url):
    from flask import Flask

    from explorer.catalogue.pg_registry import PgRegistry

    host_a = PgRegistry(postgres_url, tmp_path / "a" / "replica.sqlite3")
    host_b = PgRegistry(postgres_url, tmp_path / "b" / "replica.sqlite3")
    asked = []
    real = host_b.remote_version
    host_b.remote_version = lambda: asked.append(1) or real()
    web = Flask(__name__)
    with web.test_request_context("/themes/x"):
        for _ in range(50):                               # a page reading the registry many times
            host_b.get("anything")
        assert len(asked) == 1
        host_a.upsert(_entry("late", "Written while the page was being drawn"))
        assert host_b.get("late") is None                 # this request keeps the view it started with
    with web.test_request_context("/api/datasets"):
        assert host_b.get("late").title == "Written while the page was being drawn"   # the next one sees it
    assert len(asked) == 2
