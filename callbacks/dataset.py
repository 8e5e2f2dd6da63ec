"""Dataset page: the page of an entry (kept for the next visitor), and its callbacks: load the
chosen file and fill the preview, source card and provenance."""

from __future__ import annotations

from dash import Input, Output, no_update
from dash.exceptions import PreventUpdate

from layouts import dataset as dataset_layout

from . import chart_builder
from ._dataset_answers import PAGES, PREVIEWS, dataset_version, entries_version, kept_answer
from ._preview import preview_answer


def served_dataset_page(services, entry):
    """The page of a registry entry (metadata, files and where each is available, the empty
    preview and chart builder the callbacks below fill), as every visitor of an open dataset is
    sent it: drawn once and kept as its JSON text (callbacks/_dataset_answers.py)."""
    def draw():
        drawn = services.registry.get(entry.id) or entry     # as the registry has it now
        availability = services.data.availability(entry.id)
        return (dataset_layout.dataset_page(drawn, services.registry.record(entry.id), availability),)

    return kept_answer(services, PAGES, entries_version(services, [entry.id]), ("page", entry.id), draw,
                       lambda _outputs: True)[0]


def preview_outputs(services, dataset_id: str, resource_id: str | None) -> tuple:
    """(preview, source card, provenance) of the file, as every visitor of an open dataset is sent
    it: worked out once and kept (callbacks/_dataset_answers.py); a file that could not be
    loaded is tried again next time."""
    failed = []

    def compute():
        (children, card, provenance), ok = preview_answer(services, dataset_id, resource_id, "dataset-map")
        if not ok:
            failed.append(True)
        return children, card if card is not None else no_update, provenance

    return kept_answer(services, PREVIEWS, dataset_version(services, dataset_id, resource_id),
                       ("preview", dataset_id, resource_id), compute, lambda _outputs: not failed)


def register(app, services) -> None:
    chart_builder.register(app, services)   # the chart builder panel of the dataset page

    @app.callback(
        Output("dataset-preview", "children"),
        Output("dataset-source-card", "children"),
        Output("dataset-provenance", "children"),
        Input("dataset-id", "data"),
        Input("dataset-resource", "value"),
    )
    def fill_preview(dataset_id, resource_id):
        if not dataset_id:
            raise PreventUpdate
        return preview_outputs(services, dataset_id, resource_id)
