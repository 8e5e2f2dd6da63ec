"""A chart-builder chart (any table of the registry) as an image or a data zip, with its sources.

The choices come as a dataset page's query (``chart=line&y=…&area=…``, see
``explorer.themes.chart_builder``), checked as hostile input: an unknown dataset is
:class:`~explorer.export.chart_image.ExportNotFound`, a choice that cannot be drawn a
:class:`~explorer.themes.chart_builder.BuilderError` naming it, data that cannot be loaded
:class:`~explorer.export.chart_image.ExportUnavailable`. The image is drawn as a theme chart's is
(``chart_image.finish_figure``: title inside, footer with source, licence, dates and the short
link back to the chart's page); the zip holds the chart's numbers, ``provenance.json`` and
``README.txt`` (``data_package``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Mapping

from explorer.themes import chart_builder as cb
from explorer.export.chart_image import (ExportedImage, ExportNotFound, ExportUnavailable, check_format, finish_figure,
                          short_permalink, DEFAULT_BASE_URL, NAME_RE)
from explorer.export.sizes import ExportSize


def _spec(dataset_id: str, params: Mapping | cb.BuilderSpec) -> cb.BuilderSpec:
    if not NAME_RE.match(dataset_id or ""):
        raise ExportNotFound(f"not a dataset name: {str(dataset_id)[:60]!r}")
    if isinstance(params, cb.BuilderSpec):
        return params
    return cb.parse_query(dataset_id, params)


def build_for_export(dataset_id: str, params, service, titled: bool = True) -> cb.Built:
    """The chart of these choices, or the error that says why not (see the module's docstring)."""
    from explorer.geo.joins import DatasetError

    spec = _spec(dataset_id, params)
    try:
        info = cb.describe(service, dataset_id, spec.resource)
    except DatasetError as exc:
        if exc.stage == "registry":
            raise ExportNotFound(exc.reason) from None
        raise ExportUnavailable(f"{dataset_id} cannot be loaded: {exc.reason}") from None
    why = cb.chartable(info)
    if why:
        raise ExportUnavailable(f"{dataset_id} cannot be charted: {why}")
    cb.resolve(spec, info)            # a bad choice raises BuilderError, naming it
    built = cb.build(service, spec, titled=titled, footer=False)
    if built.error:
        raise ExportUnavailable(f"{dataset_id} cannot be drawn: {built.error}")
    return built


def permalink_target(built: cb.Built, spec: cb.BuilderSpec) -> str:
    """The chart's page with every choice spelled out, so the link draws the same chart later."""
    return replace(built.spec, resource=spec.resource or built.resolved.info.resource_id).path()


def export_dataset_chart(dataset_id: str, params, fmt: str, size: ExportSize, service, renderer,
                         base_url: str | None = None) -> ExportedImage:
    fmt = check_format(fmt)
    spec = _spec(dataset_id, params)
    built = build_for_export(dataset_id, spec, service)
    link = short_permalink(service, base_url, permalink_target(built, spec))
    height = finish_figure(built.result, service, size, link)
    content = renderer.render(built.result.figure, fmt, size.width, height, size.render_scale(fmt))
    return ExportedImage(content, fmt, f"{dataset_id}-{built.spec.type}-chart.{fmt}", size.width, height,
                         size.scale, link)


def dataset_chart_package(dataset_id: str, params, service, base_url: str | None = None):
    """The chart's data as a zip: data.csv (readable headers), provenance.json, README.txt."""
    from explorer.data.provenance import utc_now_iso
    from explorer.labels.credits import collect_credits
    from explorer.export.data_package import APP, DataPackage, _csv, _digests, _readme, _source_record, _zip

    spec = _spec(dataset_id, params)
    built = build_for_export(dataset_id, spec, service, titled=False)
    result = built.result
    link = (base_url or DEFAULT_BASE_URL).rstrip("/") + permalink_target(built, spec)
    table = result.data
    readable = table.rename(columns={k: v for k, v in result.labels.items() if k in table.columns})
    members: dict[str, bytes] = {"data.csv": _csv(readable)}
    described = {"data.csv": "the numbers drawn in the chart, one row per bar, point or line value"}
    credits = collect_credits(result.sources, service)
    by_id = {c.dataset_id: c for c in credits}
    provenance = {
        "export": {"kind": "dataset-chart", "dataset": dataset_id, "title": result.title, "subtitle": result.subtitle,
                   "chart": dict(built.spec.query()), "permalink": link, "created_at": utc_now_iso(), "app": APP,
                   "columns": result.labels},
        "sources": [_source_record(by_id[s["dataset_id"]], s) for s in result.sources if s.get("dataset_id") in by_id],
        "transformations": [f"chart builder: {built.spec.type} of {built.resolved.measure.label}"] + list(result.notes),
        "files": _digests(members),
    }
    members["provenance.json"] = json.dumps(provenance, indent=2, ensure_ascii=False, default=str).encode("utf-8")
    members["README.txt"] = _readme(result.title, f"The data of the chart “{result.title}”.", link, credits,
                                    described, list(result.notes)).encode("utf-8")
    return DataPackage(_zip(members), f"{dataset_id}-{built.spec.type}-chart.zip", list(members))
