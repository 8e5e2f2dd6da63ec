"""Shared database: the registry, search and short links on PostgreSQL beside SQLite, same run.

A PostgreSQL server is started for the run (Debian's package, as the tests do: initdb in a
temporary folder, a free port on 127.0.0.1) and stopped after. The real London Datastore snapshot
(``../shared/data/catalogue/lds_export_snapshot.json``, 1,249 datasets) is harvested into

* **SQLite** — ``Registry`` on a file (the embedded default), and
* **PostgreSQL** — ``PgRegistry`` (``EXPLORER_DATABASE_URL``): host A harvests and embeds into the
  database; host B, a second registry object with its own replica, starts empty and pulls it.

Measured, on both:

1. **search quality** — the requests of ``benchmarks/search_quality_set.json`` scored as
   ``benchmarks/search_quality.py`` scores them (P@5, R@10, nDCG@5), and how many requests get
   the very same first 10;
2. **search latency** — every request of the set, ``--repeats`` rounds, p50/p95/max per search on
   host B (PostgreSQL: the request's terms found and weighed in the database, ``pg_search``) and
   on the SQLite file (the in-memory index);
3. **seeing another host's write** — host A upserts one entry, host B searches for it at once:
   p50/p95 of that search (it pulls the change first) over ``--writes`` rounds, beside a search
   with nothing to pull;
4. **start of a second host** — seconds for host B to build its replica from the database;
5. **short links** — shorten a new view and resolve a code: p50/p95 on the SQLite file and on
   PostgreSQL.

    .venv/bin/python -m benchmarks.shared_database [--repeats 5] [--writes 30] [--no-write]
    .venv/bin/python -m benchmarks.shared_database --scale 10000

Writes benchmarks/results/shared_database.json and .md. ``--scale N`` measures only search at a
larger registry: N entries made from the snapshot's (each copied under new ids), written into a
SQLite registry and into PostgreSQL in the same run, then every request of the set on both (p50,
p95, max, and how many get the same first 10); written to ``shared_database_scale_N.json``/``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _summary(ms: list[float]) -> dict:
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 2), "p95_ms": round(_pct(ms, 0.95), 2),
            "max_ms": round(max(ms), 2)}


def _quality(registry, requests: list[dict], score) -> tuple[dict, list[list[str]]]:
    totals: Counter = Counter()
    rankings = []
    for item in requests:
        ranked = [h.entry.title for h in registry.search(item["request"], limit=10).hits]
        rankings.append(ranked)
        totals.update(score(ranked, item["relevant"]))
    return {k: round(v / len(requests), 3) for k, v in totals.items()}, rankings


def _latency(registry, queries: list[str], repeats: int) -> dict:
    times = []
    for _ in range(repeats):
        for q in queries:
            started = time.perf_counter()
            registry.search(q, limit=10)
            times.append((time.perf_counter() - started) * 1000)
    return _summary(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shared_database", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds of the request set")
    parser.add_argument("--writes", type=int, default=30, help="rounds of 'write on A, search on B'")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write results")
    parser.add_argument("--scale", type=int, default=0, help="measure search only, at a registry of this many entries")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.scale:
        return _scale(args)
    from benchmarks.search_quality import SET_FILE, SNAPSHOT, machine, score
    from explorer.catalogue.pg_registry import PgRegistry
    from explorer.catalogue.harvest import harvest
    from explorer.catalogue.models import Entry
    from explorer.catalogue.registry import Registry
    from explorer.settings import Settings
    from explorer.maps.shortlinks import LinkStore, PgLinkStore
    from tests.postgres_server import PostgresServer, find_bin_dir

    requests = json.loads(SET_FILE.read_text(encoding="utf-8"))["requests"]
    queries = [r["request"] for r in requests]
    bin_dir = find_bin_dir()
    if bin_dir is None:
        print("PostgreSQL is not installed (apt-get install postgresql)", file=sys.stderr)
        return 1
    server = PostgresServer(bin_dir)
    server.start()
    out: dict = {"catalogue": "London Datastore snapshot, 1,249 datasets", "requests": len(requests),
                 "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        url = server.new_database()
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            settings = Settings(home=tmp / "home", offline=True, harvest_bundled=False)
            # SQLite ---------------------------------------------------------------------------
            lite = Registry(tmp / "registry.sqlite3")
            started = time.perf_counter()
            harvest(str(SNAPSHOT), lite, settings, kind="lds")
            lite.index_vectors()
            lite_build = time.perf_counter() - started
            # PostgreSQL: host A harvests and embeds, host B starts from the database -------------
            host_a = PgRegistry(url, tmp / "a" / "replica.sqlite3")
            started = time.perf_counter()
            harvest(str(SNAPSHOT), host_a, settings.with_(database_url=url), kind="lds")
            host_a.index_vectors()
            pg_build = time.perf_counter() - started
            started = time.perf_counter()
            host_b = PgRegistry(url, tmp / "b" / "replica.sqlite3")
            host_b.index_vectors()          # pulled with the entries: nothing to embed
            second_host = time.perf_counter() - started
            out["build_seconds"] = {"sqlite": round(lite_build, 2), "postgresql_host_a": round(pg_build, 2),
                                    "postgresql_second_host_start": round(second_host, 2)}
            out["entries"] = {"sqlite": lite.count(), "postgresql": host_b.count()}

            q_lite, r_lite = _quality(lite, requests, score)
            q_pg, r_pg = _quality(host_b, requests, score)
            out["quality"] = {"sqlite": q_lite, "postgresql": q_pg,
                              "largest_difference": round(max(abs(q_lite[k] - q_pg[k]) for k in q_lite), 3),
                              "same_first_10": sum(a == b for a, b in zip(r_lite, r_pg))}

            lite.search("warm up", limit=10)
            host_b.search("warm up", limit=10)
            out["search_latency"] = {"sqlite": _latency(lite, queries, args.repeats),
                                     "postgresql": _latency(host_b, queries, args.repeats)}

            seen, idle = [], []
            for i in range(args.writes):
                host_a.upsert(Entry.from_dict({"id": f"bench-{i}", "title": f"Benchmark entry zqx{i} of riverside kiosks",
                                               "publisher": "GLA", "licence": "OGL v3", "resources": []}))
                started = time.perf_counter()
                hits = host_b.search(f"zqx{i} riverside kiosks", limit=5).hits
                seen.append((time.perf_counter() - started) * 1000)
                if not hits or hits[0].entry.id != f"bench-{i}":
                    raise SystemExit(f"host B did not find bench-{i} at once")
                started = time.perf_counter()
                host_b.search(f"zqx{i} riverside kiosks", limit=5)
                idle.append((time.perf_counter() - started) * 1000)
            local_seen = []
            for i in range(args.writes):   # the peer: SQLite searched right after its own write
                lite.upsert(Entry.from_dict({"id": f"bench-{i}", "title": f"Benchmark entry zqx{i} of riverside kiosks",
                                             "publisher": "GLA", "licence": "OGL v3", "resources": []}))
                started = time.perf_counter()
                lite.search(f"zqx{i} riverside kiosks", limit=5)
                local_seen.append((time.perf_counter() - started) * 1000)
            out["another_hosts_write"] = {"search_after_a_write_elsewhere": _summary(seen),
                                          "same_search_nothing_to_pull": _summary(idle),
                                          "sqlite_search_after_its_own_write": _summary(local_seen)}

            link_times = {}
            for name, store in (("sqlite", LinkStore(tmp / "links.sqlite3")), ("postgresql", PgLinkStore(url))):
                shorten, resolve = [], []
                for i in range(200):
                    started = time.perf_counter()
                    code = store.shorten(f"/map?layer=bench-{i}")
                    shorten.append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    store.resolve(code)
                    resolve.append((time.perf_counter() - started) * 1000)
                link_times[name] = {"shorten": _summary(shorten), "resolve": _summary(resolve)}
            out["short_links"] = link_times
            lite.close()
    finally:
        server.stop()
    out["machine"] = machine()
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    table = _table(out)
    print(table)
    if not args.no_write:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / "shared_database.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
        (RESULTS_DIR / "shared_database.md").write_text(
            f"# Shared database ({out['machine']['date']}, commit {out['machine']['commit']})\n\n{table}\n",
            encoding="utf-8")
    return 0


def _scale(args) -> int:
    """Search latency on both backends at a registry of ``args.scale`` entries (see the docstring)."""
    from benchmarks.search_quality import SET_FILE, SNAPSHOT, machine
    from explorer.catalogue.harvest import harvest
    from explorer.catalogue.models import Entry
    from explorer.catalogue.pg_registry import PgRegistry
    from explorer.catalogue.registry import Registry
    from explorer.settings import Settings
    from tests.postgres_server import PostgresServer, find_bin_dir

    queries = [r["request"] for r in json.loads(SET_FILE.read_text(encoding="utf-8"))["requests"]]
    server = PostgresServer(find_bin_dir())
    server.start()
    out: dict = {"entries": args.scale, "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            base = Registry(tmp / "base.sqlite3")
            harvest(str(SNAPSHOT), base, Settings(home=tmp / "home", offline=True), kind="lds")
            records = [e.to_dict() for e in base.all()]
            entries = [Entry.from_dict({**records[i % len(records)], "id": f"{records[i % len(records)]['id']}-{i}"})
                       for i in range(args.scale)]
            registries = {"sqlite": Registry(tmp / "scale.sqlite3"),
                          "postgresql": PgRegistry(server.new_database(), tmp / "pg" / "replica.sqlite3")}
            out["write_seconds"] = {}
            for name, registry in registries.items():
                started = time.perf_counter()
                with registry.transaction():
                    for entry in entries:
                        registry.upsert(entry)
                out["write_seconds"][name] = round(time.perf_counter() - started, 1)
                registry.search("warm up", limit=10)
            out["search_latency"] = {name: _latency(r, queries, args.repeats) for name, r in registries.items()}
            out["same_first_10"] = sum(
                [h.entry.id for h in registries["sqlite"].search(q, limit=10).hits]
                == [h.entry.id for h in registries["postgresql"].search(q, limit=10).hits] for q in queries)
            out["requests"] = len(queries)
            registries["sqlite"].close()
            registries["postgresql"].close()
    finally:
        server.stop()
    out["machine"] = machine()
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    lat = out["search_latency"]
    table = "\n".join([
        f"| {args.scale:,} entries | SQLite | PostgreSQL |", "|---|---:|---:|",
        f"| search p50 / p95 / max (ms) | {lat['sqlite']['p50_ms']} / {lat['sqlite']['p95_ms']} / {lat['sqlite']['max_ms']} | "
        f"{lat['postgresql']['p50_ms']} / {lat['postgresql']['p95_ms']} / {lat['postgresql']['max_ms']} |",
        f"| requests with the same first 10 | {out['requests']} of {out['requests']} | {out['same_first_10']} of {out['requests']} |",
        f"| writing the entries (s) | {out['write_seconds']['sqlite']} | {out['write_seconds']['postgresql']} |",
        f"\nLoad average (1, 5, 15 min) at start {out['load_average_at_start']}, at end {out['load_average_at_end']}."])
    print(table)
    if not args.no_write:
        name = f"shared_database_scale_{args.scale}"
        (RESULTS_DIR / f"{name}.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
        (RESULTS_DIR / f"{name}.md").write_text(
            f"# Shared database, search at {args.scale:,} entries ({out['machine']['date']}, commit "
            f"{out['machine']['commit']})\n\n{table}\n", encoding="utf-8")
    return 0


def _table(out: dict) -> str:
    q, lat, links = out["quality"], out["search_latency"], out["short_links"]
    lines = ["| | SQLite | PostgreSQL |", "|---|---:|---:|"]
    for k in ("P@5", "R@10", "nDCG@5"):
        lines.append(f"| search quality {k} | {q['sqlite'][k]:.3f} | {q['postgresql'][k]:.3f} |")
    lines.append(f"| requests with the same first 10 | {out['requests']} of {out['requests']} | "
                 f"{q['same_first_10']} of {out['requests']} |")
    lines.append(f"| search p50 / p95 (ms) | {lat['sqlite']['p50_ms']} / {lat['sqlite']['p95_ms']} | "
                 f"{lat['postgresql']['p50_ms']} / {lat['postgresql']['p95_ms']} |")
    w = out["another_hosts_write"]["search_after_a_write_elsewhere"]
    own = out["another_hosts_write"]["sqlite_search_after_its_own_write"]
    lines.append(f"| search right after a write (SQLite: its own; PostgreSQL: another host's), p50 / p95 (ms) | "
                 f"{own['p50_ms']} / {own['p95_ms']} | {w['p50_ms']} / {w['p95_ms']} |")
    for op in ("shorten", "resolve"):
        lines.append(f"| short link {op} p50 / p95 (ms) | {links['sqlite'][op]['p50_ms']} / "
                     f"{links['sqlite'][op]['p95_ms']} | {links['postgresql'][op]['p50_ms']} / "
                     f"{links['postgresql'][op]['p95_ms']} |")
    b = out["build_seconds"]
    lines.append(f"| harvest + embed 1,249 datasets (s) | {b['sqlite']} | {b['postgresql_host_a']} |")
    lines.append(f"| a second host's start (replica from the database, s) | – | {b['postgresql_second_host_start']} |")
    lines.append(f"\nLoad average (1, 5, 15 min) at start {out['load_average_at_start']}, "
                 f"at end {out.get('load_average_at_end')}.")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
