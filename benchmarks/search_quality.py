"""Search quality: do people's requests find the datasets that answer them?

The requests and their graded answers are in ``benchmarks/search_quality_set.json`` (66 requests
as people write them — whole questions, vague ones, typos — each with the titles of the London
Datastore snapshot that answer it, grade 2, or are related and useful, grade 1). They were written
and graded before the hybrid ranking was built, by reading the snapshot's titles, tags and
descriptions, and were not changed to suit it.

The catalogue is the real London Datastore snapshot (``../shared/data/catalogue/
lds_export_snapshot.json``, 1,249 datasets) harvested into a fresh registry. Three searches are
scored in the same run on the same registry, by their first 10 results:

* **ours** — ``Registry.search`` now (request words, spelling, synonyms, BM25 fused with semantic
  similarity);
* **previous** — the registry's search before this work (all words, else any word; BM25 with
  field weights), run from its source at commit ``PREVIOUS_COMMIT`` against the same database;
* **plain BM25** — Okapi BM25 (k1 = 1.2, b = 0.75) over title + description + tags with English
  stop words removed, written out here.

Scores: P@5 (share of the first 5 that are relevant, grade ≥ 1), R@10 (share of the relevant
titles found in the first 10), nDCG@5 (graded gain 2/1, the ideal order from the graded set).

    .venv/bin/python -m benchmarks.search_quality [--no-write] [--backend postgresql]

Writes benchmarks/results/search_quality.json and .md. ``--backend postgresql`` starts the tests'
PostgreSQL server (Debian's ``postgresql`` package, a temporary folder, a free port), harvests the
same snapshot into it (``PgRegistry``: full-text search in PostgreSQL) and scores it beside ours on
SQLite in the same run ("ours on PostgreSQL"); the results go to ``<set>-postgresql.json`` and
``.md``, with the largest difference between the backends.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = (ROOT / ".." / "shared" / "data").resolve()
SNAPSHOT = DATA_DIR / "catalogue" / "lds_export_snapshot.json"
SET_FILE = ROOT / "benchmarks" / "search_quality_set.json"
RESULTS_DIR = ROOT / "benchmarks" / "results"
PREVIOUS_COMMIT = "8befe0c"  # the last commit with the previous search
TARGETS = {"P@5": 0.50, "R@10": 0.75, "nDCG@5": 0.65}

ENGLISH_STOP = set("""a about above after again against all am an and any are as at be because been
before being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it its
itself just me more most my myself no nor not now of off on once only or other our ours ourselves
out over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which while
who whom why will with would you your yours yourself yourselves""".split())


def previous_registry_class():
    """The Registry class as it was at PREVIOUS_COMMIT, loaded as a module of the package."""
    # at that commit the registry was the flat module explorer/registry.py, importing its
    # neighbours relatively; they now live in explorer.catalogue
    source = subprocess.run(["git", "show", f"{PREVIOUS_COMMIT}:explorer/registry.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    source = (source.replace("from .models import", "from explorer.catalogue.models import")
              .replace("from .synonyms import", "from explorer.catalogue.synonyms import"))
    spec = importlib.util.spec_from_loader("explorer._registry_previous", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "explorer"
    sys.modules[spec.name] = module
    exec(compile(source, "registry@" + PREVIOUS_COMMIT, "exec"), module.__dict__)
    return module.Registry


class PlainBM25:
    def __init__(self, docs: list[tuple[str, str]], k1: float = 1.2, b: float = 0.75):
        self.titles = [t for t, _ in docs]
        self.k1, self.b = k1, b
        self.tfs = [Counter(self.tokens(text)) for _, text in docs]
        self.lengths = np.array([sum(tf.values()) for tf in self.tfs], dtype=float)
        self.avg = float(self.lengths.mean()) if len(docs) else 0.0
        df = Counter(w for tf in self.tfs for w in tf)
        n = len(docs)
        self.idf = {w: math.log(1 + (n - d + 0.5) / (d + 0.5)) for w, d in df.items()}

    @staticmethod
    def tokens(text: str) -> list[str]:
        return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in ENGLISH_STOP]

    def search(self, query: str, k: int = 10) -> list[str]:
        words = self.tokens(query)
        scores = np.zeros(len(self.tfs))
        for i, tf in enumerate(self.tfs):
            s = 0.0
            for w in words:
                f = tf.get(w)
                if f:
                    s += self.idf[w] * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * self.lengths[i] / self.avg))
            scores[i] = s
        order = np.argsort(-scores, kind="stable")[:k]
        return [self.titles[i] for i in order if scores[i] > 0]


def score(ranked: list[str], relevant: dict[str, int]) -> dict[str, float]:
    top5 = ranked[:5]
    p5 = sum(1 for t in top5 if relevant.get(t, 0) > 0) / 5
    r10 = len({t for t in ranked[:10] if relevant.get(t, 0) > 0}) / len(relevant)
    dcg = sum(relevant.get(t, 0) / math.log2(i + 2) for i, t in enumerate(top5))
    ideal = sorted(relevant.values(), reverse=True)[:5]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return {"P@5": p5, "R@10": r10, "nDCG@5": dcg / idcg if idcg else 0.0}


def machine() -> dict:
    import sqlite3

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    return {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "cpus": __import__("os").cpu_count(), "commit": commit,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worst", type=int, default=0, help="print the N requests ours scores worst on")
    parser.add_argument("--set", type=Path, default=SET_FILE,
                        help="the graded requests (default: the 66-request set; "
                             "benchmarks/search_quality_heldout.json holds 20 held-out requests)")
    parser.add_argument("--no-previous", action="store_true", help="score ours and plain BM25 only")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite",
                        help="postgresql: also score ours on a PostgreSQL registry started for the run")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    requests = json.loads(args.set.read_text(encoding="utf-8"))["requests"]
    name = "search_quality" if args.set.resolve() == SET_FILE.resolve() else args.set.stem
    server = postgres = None
    if args.backend == "postgresql":
        from tests.postgres_server import PostgresServer, find_bin_dir

        if find_bin_dir() is None:
            parser.error("--backend postgresql needs Debian's postgresql package (apt-get install postgresql)")
        server = PostgresServer(find_bin_dir())
        server.start()
        name += "-postgresql"
    try:
        return _run(args, requests, name, server)
    finally:
        if server is not None:
            from explorer import db

            db.close_all()
            server.stop()


def _run(args, requests, name, server) -> int:
    from explorer.catalogue.harvest import harvest
    from explorer.catalogue.registry import Registry
    from explorer.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), offline=True)
        registry = Registry(Path(tmp) / "registry.sqlite3")
        harvest(str(SNAPSHOT), registry, settings, kind="lds")
        started = time.perf_counter()
        registry.index_vectors()
        embed_s = time.perf_counter() - started
        registry.close()
        ours = Registry(Path(tmp) / "registry.sqlite3")
        previous = None if args.no_previous else previous_registry_class()(Path(tmp) / "registry.sqlite3")
        entries = list(ours.all())
        bm25 = PlainBM25([(e.title, " ".join([e.title, e.description, *e.tags])) for e in entries])

        contenders = {
            "ours": lambda q: [h.entry.title for h in ours.search(q, limit=10).hits],
            "previous": lambda q: [h.entry.title for h in previous.search(q, limit=10).hits],
            "plain BM25": lambda q: bm25.search(q, 10),
        }
        if args.no_previous:
            del contenders["previous"]
        if server is not None:
            from explorer.catalogue.pg_registry import PgRegistry

            postgres = PgRegistry(server.new_database(), Path(tmp) / "pg" / "replica.sqlite3")
            harvest(str(SNAPSHOT), postgres, settings, kind="lds")
            postgres.index_vectors()
            contenders["ours on PostgreSQL"] = lambda q: [h.entry.title for h in postgres.search(q, limit=10).hits]
        per_request = []
        totals = {who: Counter() for who in contenders}
        for item in requests:
            row = {"request": item["request"], "scores": {}, "top5": {}}
            for who, run in contenders.items():
                ranked = run(item["request"])
                s = score(ranked, item["relevant"])
                row["scores"][who] = {k: round(v, 3) for k, v in s.items()}
                row["top5"][who] = ranked[:5]
                totals[who].update(s)
            per_request.append(row)
        ours.close()
        if previous is not None:
            previous.close()
        if server is not None:
            postgres.close()

    n = len(requests)
    means = {who: {k: round(v / n, 3) for k, v in t.items()} for who, t in totals.items()}
    result = {"requests": n, "catalogue": "London Datastore snapshot, 1,249 datasets",
              "means": means, "targets": TARGETS, "semantic_index_seconds": round(embed_s, 2),
              "machine": machine(), "per_request": per_request}
    lines = ["| search | P@5 | R@10 | nDCG@5 |", "|---|---:|---:|---:|"]
    for who in ("previous", "plain BM25", "ours", "ours on PostgreSQL"):
        if who not in means:
            continue
        m = means[who]
        lines.append(f"| {who} | {m['P@5']:.3f} | {m['R@10']:.3f} | {m['nDCG@5']:.3f} |")
    lines.append(f"| target | ≥ {TARGETS['P@5']:.2f} | ≥ {TARGETS['R@10']:.2f} | ≥ {TARGETS['nDCG@5']:.2f} |")
    if "ours on PostgreSQL" in means:
        gap = max(abs(means["ours"][k] - means["ours on PostgreSQL"][k]) for k in means["ours"])
        result["largest_difference_between_backends"] = round(gap, 3)
        lines.append(f"\nLargest difference between SQLite and PostgreSQL: {gap:.3f} (target ≤ 0.02).")
    table = "\n".join(lines)
    print(table)
    for row in sorted(per_request, key=lambda r: r["scores"]["ours"]["nDCG@5"])[:args.worst]:
        print(f"\n{row['scores']['ours']}  {row['request']}")
        for title in row["top5"]["ours"]:
            print("   ", title)
    if not args.no_write:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / f"{name}.json").write_text(json.dumps(result, indent=1, ensure_ascii=False),
                                                        encoding="utf-8")
        (RESULTS_DIR / f"{name}.md").write_text(
            f"# Search quality: {args.set.name} ({n} requests, {result['machine']['date']}, commit "
            f"{result['machine']['commit']})\n\n{table}\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
