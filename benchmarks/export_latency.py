"""Export latency: our warm renderer against plotly's plain ``fig.to_image()`` per call.

Four images, each timed the same ways in the same run:

* a bar chart (``air-quality/no2-borough-2019`` at the slide preset) as PNG and SVG;
* the LSOA map (4,994 polygons, NO₂ 2019 in classes, with the London outline and the Thames) as
  PNG and SVG.

The figures are built once before timing (building the map figure is reported apart), so every
contender renders the same figure dict:

* **cold**: a new :class:`explorer.export.renderer.Renderer` and its first image (browser start
  included) – what the first export after a server start costs;
* **warm**: the same renderer's next images (median of ``--repeats``) – every later export;
* **plain**: ``fig.to_image(format=…)`` per call (median of ``--plain-repeats``), which starts and
  stops a browser for each image (kaleido's default without a running server; MathJax off, as
  the offline machine cannot fetch it).

    .venv/bin/python -m benchmarks.export_latency [--repeats 5] [--plain-repeats 3]

Writes benchmarks/results/export_latency.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DATA_DIR = (ROOT / ".." / "shared" / "data").resolve()
LSOA = "?layer=laei-lsoa-2021:no2-2019,v:NO2-2019-mean,m:thresholds"


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--plain-repeats", type=int, default=3)
    args = parser.parse_args()

    from explorer.datasets import DataService
    from explorer.export import resolve_size
    from explorer.export.chart_image import chart_figure, find_chart
    from explorer.export.map_figure import build_map
    from explorer.export.renderer import Renderer
    from explorer.services import open_registry
    from explorer.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="export-bench-"))
    settings = Settings(home=home, data_dir=DATA_DIR, cache_url="null", offline=True)
    service = DataService(settings, open_registry(settings), memory_items=64)

    size = resolve_size("slide", scale=1)
    _, spec = find_chart("air-quality", "no2-borough-2019")
    bar_build, (bar_fig, _, bar_h) = _timed(lambda: chart_figure(spec, service, size, permalink="https://x/y"))
    map_build_cold, map_result = _timed(lambda: build_map(service, LSOA, size.width, size.height))
    map_build_warm, map_result = _timed(lambda: build_map(service, LSOA, size.width, size.height))
    figures = {"bar chart": (bar_fig, bar_h), "LSOA map": (map_result.figure, size.height)}
    # Without this the plain call fails here: kaleido's page loads MathJax from a CDN, and this
    # machine has no internet. Our renderer passes mathjax=False for the same reason.
    import plotly.io as pio

    pio.defaults.mathjax = None

    rows = []
    for name, (fig, height) in figures.items():
        for fmt in ("png", "svg"):
            renderer = Renderer(timeout=120)
            cold, first = _timed(lambda: renderer.render(fig, fmt, size.width, height, 1))
            warm_times = []
            for _ in range(args.repeats):
                t, _img = _timed(lambda: renderer.render(fig, fmt, size.width, height, 1))
                warm_times.append(t)
            renderer.close()
            plain_times = []
            for _ in range(args.plain_repeats):
                t, _img = _timed(lambda: fig.to_image(format=fmt, width=size.width, height=height, scale=1))
                plain_times.append(t)
            warm = statistics.median(warm_times)
            plain = statistics.median(plain_times)
            rows.append({"image": name, "format": fmt, "bytes": len(first), "cold_s": round(cold, 3),
                         "warm_median_s": round(warm, 3), "warm_all_s": [round(t, 3) for t in warm_times],
                         "plain_to_image_median_s": round(plain, 3),
                         "plain_all_s": [round(t, 3) for t in plain_times],
                         "plain_over_warm": round(plain / warm, 1)})
            print(f"{name:10} {fmt}: cold {cold:.2f} s, warm {warm:.2f} s, plain to_image {plain:.2f} s "
                  f"(×{plain / warm:.1f})", flush=True)

    import kaleido
    import plotly

    meta = {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "plotly": plotly.__version__, "kaleido": getattr(kaleido, "__version__", "1.x"),
            "size": f"{size.width}×{size.height} CSS px, scale 1", "repeats": args.repeats,
            "plain_repeats": args.plain_repeats,
            "figure_build_s": {"bar chart": round(bar_build, 3), "LSOA map (first)": round(map_build_cold, 3),
                               "LSOA map (again)": round(map_build_warm, 3)}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "export_latency.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    lines = ["# Export latency", "",
             f"{meta['cpus']} CPUs, Python {meta['python']}, plotly {meta['plotly']}, kaleido {meta['kaleido']}; "
             f"{meta['size']}. Warm: median of {args.repeats}; plain `fig.to_image()`: median of "
             f"{args.plain_repeats}. Figures built before timing.", "",
             "| image | format | cold (first export, browser start) | warm (every later export) | plain `fig.to_image()` per call | plain ÷ warm |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['image']} | {r['format'].upper()} | {r['cold_s']:.2f} s | {r['warm_median_s']:.2f} s | "
                     f"{r['plain_to_image_median_s']:.2f} s | ×{r['plain_over_warm']} |")
    fb = meta["figure_build_s"]
    lines += ["", f"Building the figures (not in the table): bar chart {fb['bar chart']:.2f} s; LSOA map "
                  f"{fb['LSOA map (first)']:.2f} s the first time (loading, simplifying and projecting the "
                  f"geometry), {fb['LSOA map (again)']:.2f} s after.", ""]
    (RESULTS / "export_latency.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
