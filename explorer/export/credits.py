"""Who to credit for an exported chart or map, and the footer drawn inside the image.

An exported image is often all a reader sees, so its footer carries the source (publisher and
dataset), the licence's attribution text, when the data was last updated and retrieved, and a link
back to the view. The footer is a second plotly legend anchored to the figure's container (not to
the plot area), so it sits at the bottom-left of the image whatever the axes' margins are, and it
pushes the plot up instead of overlapping it.
"""

from __future__ import annotations

import textwrap
import plotly.graph_objects as go

from explorer.labels.credits import Credit
from explorer.themes import design

FOOTER_LEGEND = "legend2"
FOOTER_FONT_SIZE = 11
_CHAR_PX = 6.1            # average width of a footer character at 11 px (Arial/Liberation)


def _date(text: str | None) -> str | None:
    return text[:10] if text else None


def footer_lines(credits: list[Credit], permalink: str | None, context: list[Credit] | None = None) -> list[str]:
    """The footer: two lines, then the link. The first says where the numbers come from (publisher
    and dataset, the map's context layers, when the data was last updated and retrieved); the
    second, under which licences ("Licences: …", each licence's attribution text once). Each line
    is wrapped later to the image's width."""
    if credits:
        source = "Source: " + "; ".join(f"{c.publisher}, {c.title}" for c in credits) + "."
    else:
        source = "Source: not recorded."
    if context:
        source += " Map context: " + "; ".join(f"{c.title} ({c.publisher})" for c in context) + "."
    updated = sorted({d for d in (_date(c.updated) for c in credits) if d})
    retrieved = sorted({d for d in (_date(c.retrieved_at) for c in credits) if d})
    source += " Data last updated " + (", ".join(updated) if updated else "not stated by the publisher")
    source += ("; retrieved " + ", ".join(retrieved) if retrieved else "") + "."
    attributions: list[str] = []
    for c in list(credits) + list(context or []):
        text = c.attribution or (f"{c.publisher}: {c.licence}" if c.licence else "")
        if text and not text.endswith((".", "]", ")")):
            text += "."
        if text and text not in attributions:
            attributions.append(text)
    lines = [source, "Licences: " + (" ".join(attributions) if attributions else "not stated by the publishers.")]
    if permalink:
        lines.append(f"View online: {permalink}")
    return lines


def wrap(text: str, chars: int) -> list[str]:
    """Lines of at most ``chars`` characters; a word longer than that (a URL) is cut, not pushed
    off the image."""
    return textwrap.wrap(text, chars, break_on_hyphens=False)


def _escape(text: str) -> str:
    # plotly reads a small HTML subset in text: keep catalogue text literal
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def footer_text(lines: list[str], width_px: int) -> str:
    chars = max(30, int((width_px - 24) / _CHAR_PX))
    wrapped: list[str] = []
    for line in lines:
        wrapped.extend(wrap(line, chars))
    return "<br>".join(_escape(w) for w in wrapped)


PAD_PX = 16               # white space between the image's edge and the title or footer


def pad_edges(fig: go.Figure, width_px: int) -> go.Figure:
    """Keep the title and the last tick label off the image's edges."""
    margin = fig.layout.margin
    fig.update_layout(margin=dict(l=max(margin.l or 0, PAD_PX), r=max(margin.r or 0, 2 * PAD_PX)))
    if fig.layout.title.text:
        fig.update_layout(title=dict(x=PAD_PX / width_px, xref="container", xanchor="left"))
    return fig


def add_footer(fig: go.Figure, lines: list[str], width_px: int) -> go.Figure:
    """Draw ``lines`` at the bottom-left of the image, inside it, below the plot."""
    pad_edges(fig, width_px)
    text = footer_text(lines, width_px - 2 * PAD_PX)
    # The main legend shows only when it did before (a second trace would switch it on).
    listed = [t for t in fig.data if t.showlegend is not False]
    if fig.layout.showlegend is not True and len(listed) < 2:
        for trace in listed:
            trace.showlegend = False
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="", legend=FOOTER_LEGEND,
                             showlegend=True, hoverinfo="skip",
                             marker=dict(color="rgba(0,0,0,0)", size=1)))
    fig.update_layout(showlegend=True, **{FOOTER_LEGEND: dict(
        title=dict(text=text, side="top", font=dict(size=FOOTER_FONT_SIZE, color=design.TEXT_MUTED,
                                                    family=design.FONT_FAMILY)),
        xref="container", yref="container", x=(PAD_PX - 4) / width_px, y=0.004, xanchor="left", yanchor="bottom",
        orientation="h", bgcolor="rgba(0,0,0,0)", borderwidth=0, itemwidth=30, indentation=-4,
        font=dict(size=2), traceorder="normal",
    )})
    return fig
