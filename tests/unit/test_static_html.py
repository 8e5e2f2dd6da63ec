"""A Dash layout written out as static HTML (explorer/web/static_html.py): the same elements and
classes the components render, no ids, nothing a catalogue's text could turn into markup."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import dash_leaflet as dl
import dash_svg as svg
from dash import dcc, html
from dash._utils import to_json

from explorer.web.static_html import css, render, safe_url


def static(component) -> str:
    return render(json.loads(to_json(component)))


class Elements(HTMLParser):
    """(tag, attributes) of every element, and the text, as a browser's parser reads them."""

    def __init__(self, markup: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_html_components_keep_their_elements_classes_and_attributes_but_not_their_ids():
    out = Elements(static(html.Div(id="page", className="page", style={"marginTop": 4, "opacity": 0.5}, children=[
        html.H1("Map", className="title"),
        html.A("Source", href="https://data.london.gov.uk/x", target="_blank", id="src"),
        html.Details(open=True, children=[html.Summary("Layers"), html.Ul([html.Li("one"), html.Li("two")])]),
        html.Button("Go", id="go", n_clicks=0, **{"aria-label": "Go now"}),
    ])))
    tags = [t for t, _ in out.elements]
    assert tags == ["div", "h1", "a", "details", "summary", "ul", "li", "li", "button"]
    assert not any("id" in attrs for _, attrs in out.elements)
    div, _h1, link, details, *_rest, button = [a for _, a in out.elements]
    assert div == {"class": "page", "style": "margin-top: 4px; opacity: 0.5"}
    assert link == {"href": "https://data.london.gov.uk/x", "target": "_blank"}
    assert "open" in details
    assert button["aria-label"] == "Go now" and "disabled" in button     # works once Dash has drawn it
    assert "".join(out.text) == "MapSourceLayersonetwoGo"


def test_catalogue_text_is_text_however_it_is_written():
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    markup = static(html.Div([
        html.P(hostile, title=hostile),
        dcc.Markdown(f"**Bold** {hostile}\n\n[a link](javascript:alert(3))"),
        html.A("x", href="javascript:alert(4)"),
        html.A("y", href=" JaVaScRiPt:alert(5)"),
        dcc.Link("z", href="data:text/html,<script>alert(6)</script>"),
        html.Iframe(src="https://elsewhere.example/"),
        html.Div(style={"background": "url(x);} body{display:none"}),
    ]))
    out = Elements(markup)
    assert not [t for t, _ in out.elements if t in ("script", "img", "iframe")]
    assert all("href" not in attrs for t, attrs in out.elements if t == "a")
    assert "javascript" not in markup.lower().replace("javascript:alert(3)", "")   # shown as Markdown text only
    assert hostile in "".join(out.text)                           # shown as typed
    assert "display:none" not in markup


def test_only_plain_addresses_make_links():
    for ok in ("/dataset/x", "https://a.example/b?c=1#d", "http://a.example", "mailto:x@y.example", "#main",
               "?q=1", "dataset/x", "../x"):
        assert safe_url(ok) == ok
    for bad in ("javascript:alert(1)", "data:text/html,x", "vbscript:x", "\njavascript:x", "java\tscript:x",
                None, 3):
        assert safe_url(bad) is None
    assert safe_url(" /x\n") == "/x"            # the spaces around an address a browser drops too


def test_style_objects_are_written_as_react_writes_them():
    assert css({"height": 420, "minHeight": "60vh", "zIndex": 3, "flexGrow": 1, "--accent": "#fff"}) == \
        "height: 420px; min-height: 60vh; z-index: 3; flex-grow: 1; --accent: #fff"
    assert css({"width": 0, "bad key": "x", "color": None, "margin": True}) == "width: 0"


def test_controls_look_as_dash_core_components_draw_them():
    out = Elements(static(html.Div([
        dcc.Dropdown(id={"type": "v", "index": "1"}, options=[{"label": "NO₂ mean", "value": "a"}, "b"],
                     value="a", className="dropdown"),
        dcc.Input(id="q", type="search", placeholder="e.g. parks", className="search"),
        dcc.Input(id="hidden", type="hidden", value="x"),
        dcc.Slider(id="o", min=0, max=100, value=80, marks={0: "0", 100: "100%"}),
        dcc.RadioItems(id="b", options={"none": "None", "light": "Street map"}, value="none", className="radio-list"),
        dcc.Checklist(id="c", options=[{"label": "", "value": "on"}], value=["on"]),
        dcc.Store(id="s", data={"secret": "not shown"}),
        dcc.Location(id="url"),
        dcc.Graph(id="g", figure={"layout": {"height": 320}}),
    ])))
    classes = [a.get("class", "") for _, a in out.elements]
    assert "dash-dropdown dropdown" in classes
    assert "dash-input-container dash-input search" in classes
    assert "dash-slider-container" in classes and "dash-slider-root has-marks" in classes
    assert "dash-options-list dash-radioitems radio-list" in classes
    assert "dash-options-list dash-checklist" in classes
    assert "dash-graph" in classes
    text = "".join(out.text)
    assert "NO₂ mean" in text and "Street map" in text and "100%" in text
    assert "not shown" not in text
    inputs = [a for t, a in out.elements if t == "input"]
    assert all("disabled" in a for a in inputs)
    assert [a.get("type") for a in inputs] == ["search", "radio", "radio", "checkbox"]   # no hidden input
    radios = [a for a in inputs if a.get("type") == "radio"]
    assert ["checked" in a for a in radios] == [True, False]
    graph = next(a for _, a in out.elements if a.get("class") == "dash-graph")
    assert graph["style"] == "height: 320px"


def test_a_map_is_its_box_named_for_the_first_view():
    out = Elements(static(dl.MapContainer(id="explorer-map", className="map", center=[51.5, -0.1], zoom=10,
                                          style={"height": "100%"},
                                          children=[dl.GeoJSON(id="g", url="/geo/x.pbf")])))
    assert out.elements == [("div", {"class": "first-view__map map", "style": "height: 100%",
                                     "data-first-view-map": '"explorer-map"'})]


def test_our_svg_drawings_are_drawn_with_only_checked_attributes():
    # the home page's small maps (layouts/map_thumbnail.py) are in the first view, as drawn
    out = Elements(static(svg.Svg(viewBox="0 0 300 231", role="img", className="map-thumbnail",
                                  **{"aria-label": "Map: <b>NO₂</b>"}, children=svg.G(children=[
                                      svg.Path(d="M1 2l3 4 -5 6z", fill="#fed976"),
                                      svg.Path(d="M1 2 url(javascript:x)", fill="red; x: expression(1)"),
                                      svg.Path(id="p", d="M0 0l1 1 1 0z", fill="#abc", stroke="x")]))))
    assert out.elements == [
        ("svg", {"viewbox": "0 0 300 231", "role": "img", "class": "map-thumbnail", "aria-label": "Map: <b>NO₂</b>"}),
        ("g", {}), ("path", {"d": "M1 2l3 4 -5 6z", "fill": "#fed976"}), ("path", {}),
        ("path", {"d": "M0 0l1 1 1 0z", "fill": "#abc"})]
