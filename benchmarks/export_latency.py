"""Export latency: our warm renderer against plotly's plain ``fig.to_image()`` per call.

Five images, each timed the same ways in the same run:

* a bar chart (``air-quality/no2-borough-2019`` at the slide preset) as PNG and SVG;
* the LSOA map (4,994 polygons, NO₂ 2019 in classes, with the London outline and the Thames) as
  PNG (the polygons drawn by Pillow into one image, as ``export_map`` does for PNG) and SVG
  (vector paths);
* for comparison, the LSOA map PNG drawn from the vector paths, as PNG exports were before.

The figures are built before timing (building them is reported apart), so every contender
renders the same figure dict:

* **cold**: a new :class:`explorer.export.renderer.Renderer` and its first image (browser start
  included) – what the first export after a server start costs;
* **warm**: the same renderer's next images (median of ``--repeats``) – every later export;
* **warm export**: building the figure again (data and geometry cached, as in a running server)
  and rendering it with the warm renderer (median of ``--repeats``) – what an export request
  costs once the renderer is running and the image is not in the export cache;
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

    from explorer.geo.joins import DataService
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

    def bar():
        return chart_figure(spec, service, size, permalink="https://x/y")[0]

    def lsoa(raster: bool):
        return lambda: build_map(service, LSOA, size.width, size.height, scale=1, raster=raster).figure

    bar_build, bar_fig = _timed(bar)
    bar_again, _ = _timed(bar)
    map_build_cold, vector_fig = _timed(lsoa(False))
    map_build_warm, vector_fig = _timed(lsoa(False))
    raster_build_first, raster_fig = _timed(lsoa(True))       # the rings for the raster, once
    raster_build_warm, raster_fig = _timed(lsoa(True))
    height = size.height
    bar_h = int(bar_fig.layout.height)
    # (image, format): (figure, its height, how an export builds it)
    figures = {("bar chart", "png"): (bar_fig, bar_h, bar), ("bar chart", "svg"): (bar_fig, bar_h, bar),
               ("LSOA map", "png"): (raster_fig, height, lsoa(True)),
               ("LSOA map", "svg"): (vector_fig, height, lsoa(False)),
               ("LSOA map, vector paths (before)", "png"): (vector_fig, height, lsoa(False))}
    # Without this the plain call fails here: kaleido's page loads MathJax from a CDN, and this
    # machine has no internet. Our renderer passes mathjax=False for the same reason.
    import plotly.io as pio

    pio.defaults.mathjax = None

    rows = []
    for (name, fmt), (fig, height, build) in figures.items():
        renderer = Renderer(timeout=120)
        cold, first = _timed(lambda: renderer.render(fig, fmt, size.width, height, 1))
        warm_times = []
        for _ in range(args.repeats):
            t, _img = _timed(lambda: renderer.render(fig, fmt, size.width, height, 1))
            warm_times.append(t)
        export_times = []
        for _ in range(args.repeats):
            t, _img = _timed(lambda: renderer.render(build(), fmt, size.width, height, 1))
            export_times.append(t)
        renderer.close()
        plain_times = []
        for _ in range(args.plain_repeats):
            t, _img = _timed(lambda: fig.to_image(format=fmt, width=size.width, height=height, scale=1))
            plain_times.append(t)
        warm = statistics.median(warm_times)
        export = statistics.median(export_times)
        plain = statistics.median(plain_times)
        rows.append({"image": name, "format": fmt, "bytes": len(first), "cold_s": round(cold, 3),
                     "warm_median_s": round(warm, 3), "warm_all_s": [round(t, 3) for t in warm_times],
                     "warm_export_median_s": round(export, 3), "warm_export_all_s": [round(t, 3) for t in export_times],
                     "plain_to_image_median_s": round(plain, 3),
                     "plain_all_s": [round(t, 3) for t in plain_times],
                     "plain_over_warm": round(plain / warm, 1)})
        print(f"{name:10} {fmt}: cold {cold:.2f} s, warm {warm:.2f} s, warm export {export:.2f} s, "
              f"plain to_image {plain:.2f} s (×{plain / warm:.1f})", flush=True)

    import kaleido
    import plotly

    meta = {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "plotly": plotly.__version__, "kaleido": getattr(kaleido, "__version__", "1.x"),
            "size": f"{size.width}×{size.height} CSS px, scale 1", "repeats": args.repeats,
            "plain_repeats": args.plain_repeats,
            "figure_build_s": {"bar chart (first)": round(bar_build, 3), "bar chart (again)": round(bar_again, 3),
                               "LSOA map (first)": round(map_build_cold, 3),
                               "LSOA map (again)": round(map_build_warm, 3),
                               "LSOA map raster (first)": round(raster_build_first, 3),
                               "LSOA map raster (again)": round(raster_build_warm, 3)}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "export_latency.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    lines = ["# Export latency", "",
             f"{meta['cpus']} CPUs, Python {meta['python']}, plotly {meta['plotly']}, kaleido {meta['kaleido']}; "
             f"{meta['size']}. Warm: median of {args.repeats}; plain `fig.to_image()`: median of "
             f"{args.plain_repeats}. Figures built before timing, except in \"warm export\" (build + "
             "render, data and geometry cached).", "",
             "| image | format | cold (first export, browser start) | warm (every later export) | warm export (build + render) | plain `fig.to_image()` per call | plain ÷ warm |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['image']} | {r['format'].upper()} | {r['cold_s']:.2f} s | {r['warm_median_s']:.2f} s | "
                     f"{r['warm_export_median_s']:.2f} s | {r['plain_to_image_median_s']:.2f} s | ×{r['plain_over_warm']} |")
    fb = meta["figure_build_s"]
    lines += ["", f"Building the figures (once each, before the table's renders): bar chart "
                  f"{fb['bar chart (first)']:.2f} s, then {fb['bar chart (again)']:.2f} s; LSOA map "
                  f"{fb['LSOA map (first)']:.2f} s the first time (loading, simplifying and projecting the "
                  f"geometry), {fb['LSOA map (again)']:.2f} s after with vector paths (SVG, PDF); with the "
                  f"polygons drawn into a raster (PNG) {fb['LSOA map raster (first)']:.2f} s the first time "
                  f"(the rings in painting order), {fb['LSOA map raster (again)']:.2f} s after.", ""]
    (RESULTS / "export_latency.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
