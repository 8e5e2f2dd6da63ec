"""Load-and-join time for the LSOA 2021 air-quality table: ours against the notebook way.

Ours: ``DataService(settings, registry).load("laei-lsoa-2021")`` on a registry harvested from the
bundled catalogue, with the local data folder ``../shared/data`` and no cache backend. It resolves
the file (local folder, size and SHA-256 checked, provenance), reads the CSV, detects the GSS code
column, picks the boundary set (LSOA 2021), loads and reprojects the boundaries, joins, and counts
matched and unmatched codes.

* cold: a fresh ``DataService`` for every run (nothing in its memory, no cache backend);
* warm: the second call on the same service (what every later page view gets).

Peer: ``pd.read_csv`` of the table + ``geopandas.read_file`` of the boundary shapefile + ``merge``
on LSOA21CD + ``to_crs(4326)``.

Both run once untimed first (imports, the operating system's file cache), then 5 timed runs each;
the medians are compared.

    .venv/bin/python -m benchmarks.load_join [--runs 5]

Writes benchmarks/results/load_join.json and .md.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .registry_search import (
    DATA_DIR, ROOT, machine_info, machine_line, markdown_table, wait_for_imports, write_results,
)

DATASET_ID = "laei-lsoa-2021"
TABLE = "air_quality/laei_zonal/lsoa21-2019-NO2.csv"
BOUNDARIES = "boundaries/london-2021-lsoa-gen20/london-2021-lsoa-gen20.shp"
CODE = "LSOA21CD"
MODULES = ["explorer.geo.joins", "explorer.data.resolver", "explorer.data.loaders", "explorer.geo.geography",
           "explorer.catalogue.harvest"]


def peer_load(data_dir: Path):
    """The notebook way."""
    import geopandas as gpd
    import pandas as pd

    table = pd.read_csv(data_dir / TABLE)
    shapes = gpd.read_file(data_dir / BOUNDARIES)
    joined = shapes.merge(table, on=CODE)
    return joined.to_crs(4326)


def median_ms(seconds: list[float]) -> float:
    return round(statistics.median(seconds) * 1000.0, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_join",
                                     description="Load-and-join time, ours against the notebook way.")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per contender (default 5)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--wait", type=float, default=900.0,
                        help="seconds to wait for the loader modules to become importable")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write results")
    args = parser.parse_args(argv)

    wait_for_imports(MODULES, args.wait, "load_join")
    catalogue = ROOT / "geodata" / "catalogue.yaml"
    deadline = time.monotonic() + args.wait
    while not catalogue.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"load_join: {catalogue} still missing after {args.wait:.0f} s")
        print(f"waiting for {catalogue.relative_to(ROOT)} …", flush=True)
        time.sleep(10)

    logging.basicConfig(level=logging.WARNING)
    from explorer.geo.joins import DataService
    from explorer.catalogue.harvest import harvest
    from explorer.catalogue.registry import Registry
    from explorer.settings import Settings

    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        settings = Settings(home=tmp, data_dir=args.data_dir, cache_url="null")
        settings.ensure_dirs()
        registry = Registry(settings.registry_path)
        report = harvest("bundled", registry, settings)
        if report.rejected:
            print(f"note: {len(report.rejected)} bundled entries rejected", flush=True)

        def ours_cold():
            service = DataService(settings, registry)
            return service, service.load(DATASET_ID)

        # Untimed first runs: imports and the operating system's file cache, for both.
        _, first = ours_cold()
        peer_first = peer_load(args.data_dir)

        cold, warm, peer = [], [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            service, loaded = ours_cold()
            cold.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            again = service.load(DATASET_ID)
            warm.append(time.perf_counter() - t0)
            assert again.rows == loaded.rows
        for _ in range(args.runs):
            t0 = time.perf_counter()
            frame = peer_load(args.data_dir)
            peer.append(time.perf_counter() - t0)

        summary = first.summary()
        geo = summary.get("geography") or {}
        checks = {
            "ours_rows": summary["rows"], "peer_rows": int(len(peer_first)),
            "ours_crs": summary["crs"], "peer_crs": f"EPSG:{frame.crs.to_epsg()}",
            "ours_kind": summary["kind"], "ours_boundary_set": geo.get("boundary_set"),
            "ours_matched": geo.get("matched"), "ours_unmatched": geo.get("unmatched"),
            "ours_join_error": summary["join_error"],
            "ours_transformations": summary["provenance"].get("transformations", []),
        }
        registry.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    result = {
        "benchmark": "load_join",
        "machine": machine_info(),
        "dataset": DATASET_ID,
        "files": {"table": TABLE, "boundaries": BOUNDARIES},
        "runs": args.runs,
        "ours_cold_s": [round(t, 4) for t in cold],
        "ours_warm_s": [round(t, 6) for t in warm],
        "peer_s": [round(t, 4) for t in peer],
        "median_ms": {"ours_cold": median_ms(cold), "ours_warm": median_ms(warm), "peer": median_ms(peer)},
        "ratio_peer_over_ours": {
            "cold": round(statistics.median(peer) / statistics.median(cold), 2),
            "warm": round(statistics.median(peer) / statistics.median(warm), 1),
        },
        "checks": checks,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    m, r = result["median_ms"], result["ratio_peer_over_ours"]
    table = markdown_table(
        ["contender", f"median of {args.runs} (ms)", "peer ÷ ours", "rows", "CRS"],
        [["ours, cold (fresh `DataService`, no cache)", f"{m['ours_cold']:,.1f}", f"{r['cold']:.2f}×",
          f"{checks['ours_rows']:,}", checks["ours_crs"]],
         ["ours, warm (second call, same service)", f"{m['ours_warm']:,.3f}", f"{r['warm']:,.0f}×",
          f"{checks['ours_rows']:,}", checks["ours_crs"]],
         ["peer: `read_csv` + `read_file` + `merge` + `to_crs(4326)`", f"{m['peer']:,.1f}", "1×",
          f"{checks['peer_rows']:,}", checks["peer_crs"]]])
    lines = [
        "### Load and join: LAEI 2019 NO₂ by LSOA 2021", "", table, "",
        f"Ours joined to `{checks['ours_boundary_set']}`: {checks['ours_matched']:,} matched,"
        f" {checks['ours_unmatched']:,} unmatched" if checks["ours_matched"] is not None
        else f"Ours did not join: {checks['ours_join_error']}",
        "",
        "Ours also checks the file's size and SHA-256 against the catalogue, detects the code column"
        " and the boundary year, counts matches and records provenance; the peer does none of that."
        " Both ran once untimed first (imports, file cache).",
        "", f"Machine: {machine_line(result['machine'])}.",
    ]
    markdown = "\n".join(lines)
    print(markdown)
    print(f"\n(benchmark took {result['elapsed_s']:.0f} s)")
    if not args.no_write:
        paths = write_results("load_join", result, markdown)
        print(f"wrote {paths[0].relative_to(ROOT)} and {paths[1].relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
