"""A single theme chart for embedding in other pages (``/themes/<slug>?chart=<id>&embed=1``):
the chart with its title and source inside the figure, and a link back; no header or footer.

Pure functions of a drawn chart (``explorer.themes.page_data.embedded_chart``); the page function
is ``callbacks.themes.embedded_page``.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from dash import dcc, html

from .components import notice


def embed_error(reason: str) -> html.Div:
    """An unknown theme or chart, said in its place."""
    return html.Div(notice(reason, "error"), className="embed")


def embedded_chart(theme, spec, result) -> html.Div:
    """The chart ``result`` (a ``ChartResult`` drawn with its title inside) of ``spec`` in ``theme``;
    a chart that could not be drawn says why."""
    link = f"/themes/{quote(theme.slug)}?{urlencode({'chart': spec.id})}"
    back = html.P(className="embed__link", children=[
        html.A(f"{theme.title} – London Data Explorer", href=link, target="_blank", rel="noopener"),
    ])
    if result.error:
        return html.Div(className="embed", children=[
            notice(f"“{spec.title}” could not be drawn: {result.error}", "error"), back])
    return html.Div(className="embed", children=[
        html.Figure(role="img", **{"aria-label": result.summary}, className="embed__figure", children=[
            dcc.Graph(figure=result.figure, config={"displaylogo": False, "responsive": True},
                      className="embed__chart"),
        ]),
        html.P(className="embed__summary visually-hidden", children=result.summary),
        back,
    ])
