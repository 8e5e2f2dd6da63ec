"""A single theme chart for embedding in other pages (``/themes/<slug>?chart=<id>&embed=1``):
the chart with its title and source inside the figure, and a link back; no header or footer."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from dash import dcc, html

from .components import notice


def embedded_chart(services, theme_slug: str, chart_id: str) -> html.Div:
    from explorer.themes.charts import build_chart
    from explorer.export.chart_image import ExportNotFound, find_chart

    try:
        theme, spec = find_chart(theme_slug, chart_id)
    except ExportNotFound as exc:
        return html.Div(notice(exc.reason, "error"), className="embed")
    result = build_chart(spec, services.data, titled=True)
    link = f"/themes/{quote(theme_slug)}?{urlencode({'chart': chart_id})}"
    return html.Div(className="embed", children=[
        html.Figure(role="img", **{"aria-label": result.summary}, className="embed__figure", children=[
            dcc.Graph(figure=result.figure, config={"displaylogo": False, "responsive": True},
                      className="embed__chart"),
        ]),
        html.P(className="embed__summary visually-hidden", children=result.summary),
        html.P(className="embed__link", children=[
            html.A(f"{theme.title} – London Data Explorer", href=link, target="_blank", rel="noopener"),
        ]),
    ])
