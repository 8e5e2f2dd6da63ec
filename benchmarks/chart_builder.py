"""Chart builder: server time to redraw a dataset page's chart after a change of choice.

Tables: the largest bundled table that can be charted (by cells: the IMD 2019 domains file,
32,844 LSOAs × 20 columns) and the column-per-month crime table (18,669 ward × category rows,
25 months), loaded from the real data folder. For each, a person's sequence of changes (another
chart type, another measure, bars per borough, a filter, places picked, top N …).

* Ours: what the builder's callback does on the server for one change
  (``callbacks.chart_builder.compute`` + ``response``: check the choices against the table,
  prepare the frame, draw the figure with the theme charts' machinery, the source card and the
  data table) and the JSON of the response, as Dash sends it (plotly's encoder). Warm: the table
  was loaded and described once before (the data service's cache, as in a running server).
* Peer, in the same run: plain pandas + plotly express on the same frame already in memory (what
  a notebook does): the same filter / group / melt by hand, ``px.bar`` / ``px.line`` /
  ``px.histogram`` / ``px.scatter``, and ``fig.to_json()``. No source card, no validation.

Each change is timed ``--rounds`` times (default 7) after one untimed round; medians are reported.
The target is ≤ 100 ms warm for the largest table.

    .venv/bin/python -m benchmarks.chart_builder [--rounds 7] [--no-write]

Writes benchmarks/results/chart_builder.json and .md.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from .registry_search import DATA_DIR, machine_info, machine_line, markdown_table, write_results

TARGET_MS = 100.0


def imd_changes(frame):
    """(what, the builder's control values, the peer's function) for the IMD domains table."""
    import plotly.express as px

    cols = list(frame.columns)
    code, name, lad = cols[0], cols[1], cols[3]
    score = next(c for c in cols if c.startswith("Income Rank"))
    other = next(c for c in cols if c.startswith("Employment Rank"))
    boroughs = ["Lewisham", "Southwark", "Greenwich"]
    base = {"cb-type": "bar", "cb-y": score, "cb-x": "~area", "cb-group": None, "cb-areas": [], "cb-from": None,
            "cb-to": None, "cb-filter-col": None, "cb-filter-values": [], "cb-sort": "desc", "cb-rank": "top",
            "cb-n": 20, "cb-agg": "mean"}

    def top(col):
        return lambda df: px.bar(df.nlargest(20, col), x=col, y=name, orientation="h")

    return [
        ("ranked bar, top 20 of 32,844 LSOAs", dict(base), "cb-rank", top(score)),
        ("another measure", dict(base, **{"cb-y": other}), "cb-y", top(other)),
        ("bars per local authority (mean)", dict(base, **{"cb-x": lad, "cb-rank": "all", "cb-n": None}), "cb-x",
         lambda df: px.bar(df.groupby(lad, as_index=False)[score].mean().sort_values(score), x=score, y=lad,
                           orientation="h")),
        ("filter: three boroughs' LSOAs", dict(base, **{"cb-filter-col": lad, "cb-filter-values": boroughs,
                                                         "cb-rank": "all", "cb-n": None}), "cb-filter-values",
         lambda df: px.bar(df[df[lad].isin(boroughs)].sort_values(score), x=score, y=name, orientation="h")),
        ("distribution", dict(base, **{"cb-type": "distribution", "cb-rank": "all", "cb-n": None}), "cb-type",
         lambda df: px.histogram(df, x=score, nbins=25)),
        ("scatter of two measures (32,844 points)", dict(base, **{"cb-type": "scatter", "cb-x": other,
                                                                   "cb-rank": "all", "cb-n": None}), "cb-type",
         lambda df: px.scatter(df, x=other, y=score, hover_name=name, render_mode="webgl")),
    ]


def crime_changes(frame):
    import pandas as pd
    import plotly.express as px

    months = [c for c in frame.columns if str(c).isdigit()]
    base = {"cb-type": "line", "cb-y": "~periods", "cb-x": None, "cb-group": None, "cb-areas": [], "cb-from": None,
            "cb-to": None, "cb-filter-col": None, "cb-filter-values": [], "cb-sort": "desc", "cb-rank": "all",
            "cb-n": None, "cb-agg": "sum"}

    def total(df):
        s = df[months].sum()
        return px.line(x=pd.to_datetime(s.index, format="%Y%m"), y=s.to_numpy())

    def by_minor(df):
        part = df[df["MajorText"] == "BURGLARY"].groupby("MinorText")[months].sum().reset_index()
        long = part.melt(id_vars="MinorText", var_name="month", value_name="crimes")
        long["month"] = pd.to_datetime(long["month"], format="%Y%m")
        return px.line(long, x="month", y="crimes", color="MinorText")

    def wards(df):
        keys = ["WardCode", "WardName"]
        s = df.groupby(keys)[months[-1]].sum().reset_index().nlargest(20, months[-1])
        return px.bar(s, x=months[-1], y="WardName", orientation="h")

    def boroughs(df):
        s = df.groupby("LookUp_BoroughName")[months[-1]].sum().reset_index().sort_values(months[-1])
        return px.bar(s, x=months[-1], y="LookUp_BoroughName", orientation="h")

    def three(df):
        part = df[df["WardName"].isin(["Peckham", "Brixton Acre Lane", "Deptford"])]
        long = part.groupby("WardName")[months].sum().reset_index().melt(id_vars="WardName", var_name="month",
                                                                          value_name="crimes")
        long["month"] = pd.to_datetime(long["month"], format="%Y%m")
        return px.line(long, x="month", y="crimes", color="WardName")

    return [
        ("line: all crime, every month", dict(base), "cb-type", total),
        ("filter burglary, a line per kind", dict(base, **{"cb-filter-col": "MajorText", "cb-filter-values": ["BURGLARY"],
                                                           "cb-group": "MinorText"}), "cb-group", by_minor),
        ("ranked bar: top 20 of 679 wards", dict(base, **{"cb-type": "bar", "cb-x": "~area", "cb-rank": "top",
                                                          "cb-n": 20}), "cb-rank", wards),
        ("bars per borough", dict(base, **{"cb-type": "bar", "cb-x": "LookUp_BoroughName"}), "cb-x", boroughs),
        ("three wards picked", dict(base, **{"cb-areas": ["Peckham", "Brixton Acre Lane", "Deptford"]}), "cb-areas",
         three),
    ]


TABLES = [("imd-2019", "file-2", imd_changes), ("crime-ward", "csv", crime_changes)]


def ours(services, dataset_id, resource_id, values, trigger):
    from plotly.io.json import to_json_plotly

    from callbacks import chart_builder as ccb

    from dash import no_update

    out = ccb.compute(services, dataset_id, resource_id, "", values, [], trigger)
    if "built" not in out:
        raise SystemExit(f"{dataset_id}: {values} did not draw: {out}")
    sent = [v for v in ccb.response(services, out) if v is not no_update]   # as Dash leaves them out
    body = to_json_plotly(sent)
    return len(body), out["built"].result.title


def peer(frame, fn):
    fig = fn(frame)
    return len(fig.to_json())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from explorer.themes import chart_builder as cb
    from explorer.geo.joins import DataService
    from explorer.services import open_registry
    from explorer.settings import Settings

    info = machine_info()
    home = tempfile.mkdtemp(prefix="bench-chart-builder-")
    settings = Settings(home=home, data_dir=DATA_DIR, cache_url="null", offline=True)
    services = SimpleNamespace(data=DataService(settings, open_registry(settings)), settings=settings)
    results = []
    for dataset_id, resource_id, changes in TABLES:
        t0 = time.perf_counter()
        table = cb.describe(services.data, dataset_id, resource_id)
        cold_ms = (time.perf_counter() - t0) * 1000
        frame = table.frame
        plan = changes(frame)
        for what, values, trigger, fn in plan:         # untimed: imports, first figures
            ours(services, dataset_id, resource_id, values, trigger)
            peer(frame, fn)
        for what, values, trigger, fn in plan:
            ours_s, peer_s, ours_cpu, peer_cpu = [], [], [], []
            for _ in range(args.rounds):
                t, c = time.perf_counter(), time.process_time()
                size, title = ours(services, dataset_id, resource_id, values, trigger)
                ours_s.append(time.perf_counter() - t)
                ours_cpu.append(time.process_time() - c)
                t, c = time.perf_counter(), time.process_time()
                peer_size = peer(frame, fn)
                peer_s.append(time.perf_counter() - t)
                peer_cpu.append(time.process_time() - c)
            row = {"dataset": dataset_id, "resource": resource_id, "rows": int(len(frame)),
                   "columns": int(len(frame.columns)), "change": what, "title": title,
                   "ours_ms": round(statistics.median(ours_s) * 1000, 1),
                   "peer_ms": round(statistics.median(peer_s) * 1000, 1),
                   "ours_cpu_ms": round(statistics.median(ours_cpu) * 1000, 1),
                   "peer_cpu_ms": round(statistics.median(peer_cpu) * 1000, 1),
                   "ours_bytes": size, "peer_bytes": peer_size, "load_and_describe_ms": round(cold_ms, 1)}
            results.append(row)
            print(f"{dataset_id:12s} {what:42s} ours {row['ours_ms']:7.1f} ms (CPU {row['ours_cpu_ms']:.0f}; "
                  f"{size:,} B)   peer {row['peer_ms']:7.1f} ms (CPU {row['peer_cpu_ms']:.0f}; {peer_size:,} B)",
                  flush=True)
    largest = [r for r in results if r["dataset"] == TABLES[0][0]]
    worst = max(r["ours_ms"] for r in largest)
    med = statistics.median(r["ours_ms"] for r in largest)
    med_cpu = statistics.median(r["ours_cpu_ms"] for r in largest)
    summary = {"largest_table": f"{TABLES[0][0]}/{TABLES[0][1]}", "median_ms": med, "worst_ms": worst,
               "median_cpu_ms": med_cpu, "worst_cpu_ms": max(r["ours_cpu_ms"] for r in largest),
               "target_ms": TARGET_MS, "met": worst <= TARGET_MS}
    rows = [[r["dataset"], r["change"], f"{r['ours_ms']:.0f}", f"{r['ours_cpu_ms']:.0f}", f"{r['peer_ms']:.0f}",
             f"{r['peer_cpu_ms']:.0f}", f"{r['peer_ms'] / r['ours_ms']:.2f}×", f"{r['ours_bytes'] / 1024:,.0f} KB",
             f"{r['peer_bytes'] / 1024:,.0f} KB"]
            for r in results]
    markdown = "\n".join([
        "# Chart builder: server time to redraw after a change (median ms, warm)", "",
        machine_line(info), "",
        markdown_table(["table", "change", "ours", "ours, CPU", "pandas + plotly peer", "peer, CPU", "peer ÷ ours",
                        "our response", "peer figure"], rows), "",
        f"Largest table ({summary['largest_table']}, {largest[0]['rows']:,} rows × {largest[0]['columns']} columns): "
        f"median {med:.0f} ms, slowest change {worst:.0f} ms; target ≤ {TARGET_MS:.0f} ms for every change: "
        f"{'met' if summary['met'] else 'not met'}. CPU time of this process (what a change costs when the "
        f"machine is not shared): median {med_cpu:.0f} ms, slowest {summary['worst_cpu_ms']:.0f} ms.",
        "Ours includes validation, the source card, the data table and the JSON Dash sends; the peer only "
        "the figure's JSON.",
    ])
    print(markdown)
    if not args.no_write:
        paths = write_results("chart_builder", {"machine": info, "summary": summary, "results": results}, markdown)
        print("written:", *paths)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
