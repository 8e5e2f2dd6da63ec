"""Theme pages meet WCAG 2.1 AA on paper: every text colour the pages' CSS sets has 4.5:1 against
the background it sits on; chart colours (explorer.themes.design) have 3:1 for graphics and 4.5:1 for
text; the map's selection outline has 3:1 against the faded areas around it in every palette the
theme maps use; focus stays visible; the layout folds to one column at phone width."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from explorer.themes import design
from explorer.themes.design import contrast_ratio
from explorer.maps.palettes import NO_DATA_COLOUR, palette_colours
from explorer.themes.theme_files import load_themes

ASSETS = Path(__file__).resolve().parents[2] / "assets"
AA_TEXT, AA_GRAPHICS = 4.5, 3.0


def _css(name: str) -> str:
    return re.sub(r"/\*.*?\*/", "", (ASSETS / name).read_text(encoding="utf-8"), flags=re.S)


def _rules(css: str) -> list[tuple[str, dict[str, str]]]:
    """(selector, {property: value}) for every innermost rule (rules inside @media included)."""
    out = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        props = {}
        for decl in body.split(";"):
            if ":" in decl:
                key, _, value = decl.partition(":")
                props[key.strip().lower()] = value.strip()
        out.append((" ".join(selector.split()), props))
    return out


def _variables() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in ("explorer.css", "themes.css"):
        for selector, props in _rules(_css(name)):
            if selector == ":root":
                out.update({k: v for k, v in props.items() if k.startswith("--")})
    return out


VARS = _variables()


def colour(value: str | None) -> str | None:
    """A hex colour from a CSS value (resolving var()), or None for what is not a plain colour."""
    if not value:
        return None
    for _ in range(5):
        match = re.search(r"var\((--[\w-]+)\)", value)
        if not match:
            break
        value = value.replace(match.group(0), VARS.get(match.group(1), ""))
    value = value.replace("!important", "").strip()
    if value in ("#fff", "white"):
        return "#ffffff"
    found = re.search(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b", value)
    return found.group(0) if found else None


def blend(fg: str, alpha: float, bg: str = "#ffffff") -> str:
    f, b = design.parse_hex(fg), design.parse_hex(bg)
    return "#" + "".join(f"{round(alpha * x + (1 - alpha) * y):02x}" for x, y in zip(f, b))


PAPER, PAPER_SOFT = colour("var(--paper)"), colour("var(--paper-soft)")


def test_css_variables_resolve():
    assert PAPER == "#ffffff" and PAPER_SOFT == "#f3f5f7"
    assert colour("var(--theme-figure)") == design.BRAND["dark"]
    assert colour("var(--theme-highlight)") == design.HIGHLIGHT


def test_every_text_colour_on_the_theme_pages_meets_aa():
    """Each rule of themes.css that sets a text colour, against its own background when it sets
    one and else against both backgrounds the pages use (white, and the grey of the cards)."""
    checked = 0
    for selector, props in _rules(_css("themes.css")):
        fg = colour(props.get("color"))
        if fg is None:
            continue
        own = colour(props.get("background") or props.get("background-color"))
        for bg in [own] if own else [PAPER, PAPER_SOFT]:
            ratio = contrast_ratio(fg, bg)
            assert ratio >= AA_TEXT, f"{selector}: {fg} on {bg} is {ratio:.2f}:1"
            checked += 1
    assert checked >= 20


@pytest.mark.parametrize("selector, fg, bg", [
    # what the theme pages borrow from explorer.css
    ("body text", "var(--ink)", "var(--paper)"),
    ("secondary text and the source card's labels", "var(--ink-soft)", "var(--paper-soft)"),
    ("links in source cards", "var(--blue-dark)", "var(--paper-soft)"),
    ("buttons", "var(--blue-dark)", "#ffffff"),
    ("stale badge", "var(--warn-ink)", "var(--warn-bg)"),
    ("a chart that cannot be drawn", "var(--error-ink)", "var(--error-bg)"),
    ("an error in a source card", "var(--error-ink)", "var(--paper-soft)"),
    ("warning notice", "var(--warn-ink)", "var(--warn-bg)"),
    ("'Hide data' button, pressed", "#ffffff", "var(--blue-dark)"),
    ("site header", "#ffffff", "var(--blue-dark)"),
])
def test_borrowed_text_colours_meet_aa(selector, fg, bg):
    assert contrast_ratio(colour(fg), colour(bg)) >= AA_TEXT, selector


def test_chart_colours_meet_aa():
    # charts are drawn on white (the plotly template's paper), wherever they sit on the page
    assert design.template().layout.paper_bgcolor == design.BACKGROUND == PAPER
    for name, fg in design.TEXT_COLOURS.items():
        assert contrast_ratio(fg, design.BACKGROUND) >= AA_TEXT, name
    for fg in (design.DATA, design.HIGHLIGHT, design.MUTED, design.CONTEXT_LINE, *design.DATA_COLOURS):
        assert contrast_ratio(fg, design.BACKGROUND) >= AA_GRAPHICS, fg
    # a highlighted bar against the muted bars beside it is told apart by its outline too
    assert contrast_ratio(design.HIGHLIGHT_OUTLINE, design.HIGHLIGHT) >= 2 or design.HIGHLIGHT_OUTLINE == design.TEXT


def _theme_map_js() -> str:
    return (ASSETS / "theme_map.js").read_text(encoding="utf-8")


def test_the_map_selection_outline_stands_out_in_every_theme_palette():
    """Selected areas are outlined in the charts' outline colour; the other areas of that layer keep
    their colours, faded only to FADED_FILL opacity, and the outline has 3:1 against its neighbours
    in every class colour of every palette the theme maps use (and against the map's background)."""
    js = _theme_map_js()
    outline = re.search(r'OUTLINE:\s*"(#[0-9a-fA-F]{6})"', js).group(1)
    faded = float(re.search(r"FADED_FILL:\s*([0-9.]+)", js).group(1))
    assert outline == design.HIGHLIGHT_OUTLINE           # the outline selected points carry in charts
    assert faded >= 0.5, "the other areas keep their colours"
    palettes = {"blues"}
    for theme in load_themes():
        for layer in theme.layer_params():
            palettes.add(layer.get("palette", "blues"))
    for name in sorted(palettes):
        for k in (3, 5, 7):
            for fill in palette_colours(name, k) + [NO_DATA_COLOUR]:
                neighbour = blend(fill, faded)
                ratio = contrast_ratio(outline, neighbour)
                assert ratio >= AA_GRAPHICS, f"{name}/{k}: outline on faded {fill} is {ratio:.2f}:1"
    assert contrast_ratio(outline, "#ffffff") >= AA_GRAPHICS
    # not colour alone: the outline is thicker than the areas' own borders
    assert re.search(r"weight:\s*h\.mode === \"outline\" \? 4 : 3", js)


def test_focus_stays_visible():
    base = _css("explorer.css")
    assert re.search(r":focus-visible\s*\{[^}]*outline:\s*3px solid var\(--focus\)", base)
    assert re.search(r":focus-visible\s*\{[^}]*box-shadow:[^}]*var\(--ink\)", base)   # a dark ring too
    themes = _css("themes.css")
    assert not re.search(r"outline:\s*(none|0)\b", themes)
    # the focus ring (dark ring around the yellow) shows on white and on the grey cards
    for bg in (PAPER, PAPER_SOFT):
        assert contrast_ratio(colour("var(--ink)"), bg) >= AA_GRAPHICS
    # map areas leave the Tab order (keyboard users pick places with the borough picker)
    assert 'setAttribute("tabindex", "-1")' in _theme_map_js()


def test_the_layout_folds_to_one_column_on_a_phone():
    css = _css("themes.css")
    narrow = re.search(r"@media \(max-width: 1100px\)\s*\{(.*?)\n\}", css, re.S).group(1)
    # a chart's body is one column at every width: the source card folds under the chart
    assert re.search(r"\.theme-chart__body\s*\{\s*display:\s*block;", css)
    assert re.search(r"\.theme-map__grid\s*\{\s*grid-template-columns:\s*minmax\(0, 1fr\);", narrow)
    phone = re.search(r"@media \(max-width: 600px\)\s*\{(.*?)\n\}", css, re.S).group(1)
    assert ".headlines" in phone and ".theme-map__frame" in phone
    # the picker bar stays in view only where there is room for it
    assert re.search(r"@media \(min-width: 861px\)\s*\{[^@]*position:\s*sticky", css)
