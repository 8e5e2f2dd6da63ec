"""Themed pages draw open data only (explorer/themes/page_data.py ``not_open``).

A theme page is public and cached without knowing who drew it (memos, the app's cache, the static
first paint, the chart tables behind the place panel), so once a dataset a theme reads is shared,
no visitor — anonymous or allowed to read the files — is shown its figures on the page: a chart,
headline figure or map layer reading it becomes a notice pointing to the dataset's page. The page
drawn while the data was open (and cached) must not be served after the change.
"""

from __future__ import annotations

import html
import json
import re

import pytest

from callbacks import theme_page_cache
from explorer.themes import page_data
from explorer.web.app import create_app
from explorer.settings import Settings

from ..publishing_fixtures import people

THEME, DATASET = "air-quality", "laei-lsoa-2021"


@pytest.fixture(scope="module")
def world(tmp_path_factory, data_dir):
    app = create_app(Settings(home=tmp_path_factory.mktemp("home"), data_dir=data_dir, cache_url="simple"))
    services = app.explorer
    return {"app": app, "services": services, "client": app.server.test_client(),
            "who": people(services.accounts)}


def _secrets(services) -> list[str]:
    """Text that only the dataset's figures produce: pieces of its charts' summaries (with
    numbers) and a run of its map layer's values, as the page's JSON writes them."""
    theme = services.themes[THEME]
    written = theme.path.read_text(encoding="utf-8")     # titles and labels are the theme file's
    found = []
    for spec in theme.charts:
        if DATASET in [ds for ds, _ in spec.inputs()]:
            summary = page_data.chart_table(services, theme, spec).summary
            found += [run.strip() for run in re.findall(r"[ -~]{25,}", summary)
                      if re.search(r"\d", run) and run.strip() not in written]
    for item in page_data.map_layers(services, theme):
        if item["dataset"] == DATASET:
            values = item["hideout"]["values"]
            found.append(",".join(json.dumps(v) for v in values[:6]))
    assert len(found) >= 4, found
    return found


def _leaked(text: str, secrets: list[str]) -> list[str]:
    plain = html.unescape(text)
    return [s for s in secrets if s in plain]


def _page_text(services) -> str:
    page, _ = theme_page_cache.served_theme_page(services, THEME)
    return json.dumps(page, ensure_ascii=False, separators=(",", ":"))


def test_a_theme_dataset_that_is_shared_is_never_drawn_on_its_page(world):
    services, client = world["services"], world["client"]
    theme = services.themes[THEME]
    secrets = _secrets(services)
    # while the data is open, the page carries its figures (so the checks below can fail)
    open_page = client.get(f"/themes/{THEME}").get_data(as_text=True)
    assert _leaked(open_page, secrets) and _leaked(_page_text(services), secrets)
    key_open = theme_page_cache.page_key(services, theme, None)

    original = services.registry.get(DATASET)
    shared = type(original).from_dict({**original.to_dict(), "access_level": "shared",
                                       "access_note": "For partners."})
    services.registry.upsert(shared)
    try:
        assert theme_page_cache.page_key(services, theme, None) != key_open
        admin = world["who"]["admin"]          # may read the files, and still sees the public page
        for headers in ({}, admin.headers()):
            response = client.get(f"/themes/{THEME}", headers=headers)
            assert response.status_code == 200
            text = response.get_data(as_text=True)
            assert not _leaked(text, secrets)
            assert "not open" in text and f"/dataset/{DATASET}" in text
        layout = _page_text(services)              # the layout the router sends
        assert not _leaked(layout, secrets) and "Themed pages show open data only" in layout
        # the other readers of a chart: its table (place panel, "show data"), a highlighted redraw,
        # the chart embedded in another site
        for spec in theme.charts:
            reads = DATASET in [ds for ds, _ in spec.inputs()]
            table = page_data.chart_table(services, theme, spec)
            if reads:
                assert table.error and table.data.empty and not _leaked(table.summary, secrets)
                lit = page_data.chart_result(services, theme, spec, ["E09000001"])
                assert lit.error and not lit.figure.data and not _leaked(lit.summary, secrets)
                embedded = page_data.embedded_chart(services, theme, spec)
                assert embedded.error and not embedded.figure.data
                page = client.get(f"/themes/{THEME}?chart={spec.id}&embed=1").get_data(as_text=True)
                assert not _leaked(page, secrets)
            else:
                assert table.error is None and not table.data.empty     # open charts still drawn
        for h in page_data.headlines_of(services, theme):
            if h.get("not_open"):
                assert h["value"] is None and h["sources"] == []
        assert any(h.get("not_open") for h in page_data.headlines_of(services, theme))
        layers = [i for i in page_data.map_layers(services, theme) if i["dataset"] == DATASET]
        assert layers and all(i["hideout"] is None and i["info"] is None and i["not_open"] for i in layers)
    finally:
        services.registry.upsert(original)
    # open again: drawn again
    assert _leaked(client.get(f"/themes/{THEME}").get_data(as_text=True), secrets)
