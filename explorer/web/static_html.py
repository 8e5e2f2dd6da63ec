"""A Dash layout written out as static HTML: what the page looks like before Dash's scripts run.

Input is the layout as Dash serialises it (``dash._utils.to_json``, read back with ``json.loads``):
``{"type", "namespace", "props"}`` dicts, lists, strings and numbers. Output is HTML with the same
elements and classes the components render in the browser, so the page's own stylesheet lays it
out as it will be once Dash has drawn it (explorer/web/first_paint.py shows it until then).

What it leaves out, on purpose:

* ``id`` attributes: the live page has them, and two elements with one id would confuse the
  page's scripts, its tests and assistive technology while both are in the document;
* event-only and data-only components (stores, locations, intervals, map layers);
* anything not known to be safe: every text and attribute value is escaped, only plain
  attribute names are written, links keep only ``http(s)``, ``mailto``, relative and fragment
  addresses, and catalogue text is never read as HTML (a Markdown component's text is shown as
  text).

Form controls are drawn disabled: they start working when Dash has drawn the page.
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any, Callable

HTML_NAMESPACE = "dash_html_components"
CORE_NAMESPACE = "dash_core_components"
LEAFLET_NAMESPACE = "dash_leaflet"
SVG_NAMESPACE = "dash_svg"

VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                       "source", "track", "wbr"})
TAG_NAMES = {"MapEl": "map", "ObjectEl": "object"}
# elements that would run, load or embed something the layout never means to before Dash starts
SKIPPED_TAGS = frozenset({"script", "iframe", "object", "embed", "frame", "frameset", "base", "link",
                          "meta", "audio", "video", "source", "track"})
RENAMED_ATTRIBUTES = {"className": "class", "htmlFor": "for", "tabIndex": "tabindex",
                      "colSpan": "colspan", "rowSpan": "rowspan", "dateTime": "datetime",
                      "accessKey": "accesskey", "spellCheck": "spellcheck", "autoComplete": "autocomplete"}
PLAIN_ATTRIBUTES = frozenset({"title", "href", "target", "rel", "download", "role", "lang", "alt", "src",
                              "width", "height", "scope", "type", "name", "value", "placeholder", "dir",
                              "open", "hidden", "disabled", "start", "reversed", "label", "headers",
                              "cite", "loading", "draggable"})
BOOLEAN_ATTRIBUTES = frozenset({"open", "hidden", "disabled", "reversed", "checked", "selected"})
URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
# an address with no scheme (relative, a path, a query, a fragment) or one of these schemes
SAFE_URL = re.compile(r"^(?:https?:|mailto:|[^:/?#]*(?:[/?#]|$))", re.IGNORECASE)
DATA_OR_ARIA = re.compile(r"^(?:data|aria)-[a-z0-9\-_.]+$")
# CSS properties React writes without a unit when given a number
UNITLESS = frozenset({"opacity", "zIndex", "flex", "flexGrow", "flexShrink", "fontWeight", "lineHeight",
                      "order", "zoom", "fillOpacity", "strokeOpacity", "gridRow", "gridColumn",
                      "columnCount", "orphans", "widows", "tabSize"})


def render(layout: Any) -> str:
    """The HTML of a serialised Dash layout (a component, a list of them, text or None)."""
    out: list[str] = []
    _render(layout, out)
    return "".join(out)


def safe_url(value: Any) -> str | None:
    """``value`` if it is an address a static link may carry, else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if any(ord(c) < 0x20 for c in text):
        return None
    return text if SAFE_URL.match(text) else None


def css(style: Any) -> str:
    """A React style object as a CSS declaration list (numbers in px where React adds them)."""
    if not isinstance(style, dict):
        return ""
    parts = []
    for key, value in style.items():
        if not isinstance(key, str) or not re.fullmatch(r"-?[A-Za-z][A-Za-z0-9\-]*|--[A-Za-z0-9_\-]+", key):
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            continue
        name = key if key.startswith("--") else re.sub(r"([A-Z])", lambda m: "-" + m.group(1).lower(), key)
        if isinstance(value, (int, float)) and key not in UNITLESS and value != 0:
            value = f"{value}px"
        text = str(value)
        if any(c in text for c in ";{}<>") or "\\" in text:
            continue
        parts.append(f"{name}: {text}")
    return "; ".join(parts)


def attributes(props: dict) -> str:
    """The HTML attributes of an html component's props (no ``id``: see the module's header)."""
    out = []
    for key, value in props.items():
        if key in ("id", "children", "style") or value is None:
            continue
        name = RENAMED_ATTRIBUTES.get(key) or (key if key in PLAIN_ATTRIBUTES or DATA_OR_ARIA.match(key) else None)
        if name is None:
            continue
        if name in BOOLEAN_ATTRIBUTES or isinstance(value, bool):
            if value is True:
                out.append(f" {name}")
            elif value is False or name in BOOLEAN_ATTRIBUTES:
                continue
            else:
                out.append(f' {name}="{escape(str(value))}"')
            continue
        if not isinstance(value, (str, int, float)):
            continue
        if name in URL_ATTRIBUTES:
            value = safe_url(value)
            if value is None:
                continue
        out.append(f' {name}="{escape(str(value))}"')
    style = css(props.get("style"))
    if style:
        out.append(f' style="{escape(style)}"')
    return "".join(out)


def _render(node: Any, out: list[str]) -> None:
    if node is None or isinstance(node, bool):
        return
    if isinstance(node, (str, int, float)):
        out.append(escape(str(node)))
        return
    if isinstance(node, (list, tuple)):
        for child in node:
            _render(child, out)
        return
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        return
    props = node.get("props") if isinstance(node.get("props"), dict) else {}
    namespace = node.get("namespace")
    if namespace == HTML_NAMESPACE:
        _html_element(node["type"], props, out)
        return
    writer = COMPONENTS.get((namespace, node["type"]))
    if writer is not None:
        writer(props, out)
    elif namespace not in (CORE_NAMESPACE, LEAFLET_NAMESPACE):
        _render(props.get("children"), out)   # another library's container: its content at least


def _html_element(kind: str, props: dict, out: list[str]) -> None:
    tag = TAG_NAMES.get(kind, kind.lower())
    if not re.fullmatch(r"[a-z][a-z0-9]*", tag) or tag in SKIPPED_TAGS:
        return
    extra = " disabled" if tag in ("button", "input", "select", "textarea") and not props.get("disabled") else ""
    out.append(f"<{tag}{attributes(props)}{extra}>")
    if tag in VOID_TAGS:
        return
    _render(props.get("children"), out)
    out.append(f"</{tag}>")


# dash_core_components ---------------------------------------------------------------------------
def _classes(*names: Any) -> str:
    return " ".join(n for n in names if isinstance(n, str) and n)


def _class_attr(*names: Any) -> str:
    joined = _classes(*names)
    return f' class="{escape(joined)}"' if joined else ""


def _style_attr(style: Any) -> str:
    text = css(style)
    return f' style="{escape(text)}"' if text else ""


def _options(options: Any) -> list[tuple[Any, Any]]:
    """(label, value) of a Dropdown, RadioItems or Checklist ``options`` prop, in order."""
    if isinstance(options, dict):
        return [(label, value) for value, label in options.items()]
    pairs = []
    for option in options or []:
        if isinstance(option, dict):
            pairs.append((option.get("label", option.get("value")), option.get("value")))
        else:
            pairs.append((option, option))
    return pairs


def _link(props: dict, out: list[str]) -> None:
    href = safe_url(props.get("href"))
    title = props.get("title")
    out.append("<a" + _class_attr(props.get("className")) + _style_attr(props.get("style"))
               + (f' href="{escape(href)}"' if href else "")
               + (f' title="{escape(str(title))}"' if isinstance(title, str) else "") + ">")
    _render(props.get("children"), out)
    out.append("</a>")


CHEVRON = ('<svg class="dash-dropdown-trigger-icon" width="15" height="15" viewBox="0 0 15 15" aria-hidden="true">'
           '<path d="M4.5 6.5 7.5 9.5 10.5 6.5" fill="none" stroke="currentColor" stroke-linecap="round"/></svg>')


def _dropdown(props: dict, out: list[str]) -> None:
    value = props.get("value")
    chosen = value if isinstance(value, list) else [] if value is None else [value]
    labels = [label for label, v in _options(props.get("options")) if v in chosen]
    out.append('<div class="dash-dropdown-wrapper"' + _style_attr(props.get("style")) + ">"
               f'<button type="button" disabled{_class_attr("dash-dropdown", props.get("className"))}>'
               '<span class="dash-dropdown-grid-container dash-dropdown-trigger">')
    if labels:
        out.append('<span class="dash-dropdown-value">')
        for label in labels:
            out.append('<span class="dash-dropdown-value-item"><span>')
            _render(label, out)
            out.append("</span></span>")
    else:   # as dcc writes it: the placeholder is the value's own text
        placeholder = props.get("placeholder")
        out.append('<span class="dash-dropdown-value dash-dropdown-placeholder">'
                   + (escape(placeholder) if isinstance(placeholder, str) else ""))
    out.append("</span>" + CHEVRON + "</span></button></div>")


def _input(props: dict, out: list[str]) -> None:
    kind = props.get("type") if isinstance(props.get("type"), str) else "text"
    if kind == "hidden":
        return
    attrs = "".join(f' {name}="{escape(str(props[key]))}"'
                    for key, name in (("placeholder", "placeholder"), ("value", "value"))
                    if isinstance(props.get(key), (str, int, float)) and not isinstance(props.get(key), bool))
    out.append(f'<div{_class_attr("dash-input-container dash-input", props.get("className"))}'
               f'{_style_attr(props.get("style"))}><input class="dash-input-element" type="{escape(kind)}"'
               f"{attrs} disabled></div>")


def _slider(props: dict, out: list[str]) -> None:
    low, high, value = props.get("min"), props.get("max"), props.get("value")
    share = 0.0
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high, value)) and high > low:
        share = max(0.0, min(1.0, (value - low) / (high - low)))
    marks = props.get("marks") if isinstance(props.get("marks"), dict) else {}
    out.append(f'<div{_class_attr("dash-slider-container", props.get("className"))}>'
               f'<div class="dash-slider-wrapper"><span{_class_attr("dash-slider-root", "has-marks" if marks else "")}>'
               '<span class="dash-slider-track"><span class="dash-slider-range" '
               f'style="left: 0%; right: {100 - 100 * share:.4g}%"></span></span>')
    for key, label in marks.items():
        try:
            at = (float(key) - low) / (high - low)
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        text = label.get("label") if isinstance(label, dict) else label
        out.append(f'<span class="dash-slider-mark" style="left: {100 * at:.4g}%">')
        _render(text, out)
        out.append("</span>")
    out.append(f'<span class="dash-slider-thumb" style="left: {100 * share:.4g}%"></span></span></div></div>')


def _options_list(kind: str) -> Callable[[dict, list[str]], None]:
    def write(props: dict, out: list[str]) -> None:
        value = props.get("value")
        chosen = value if isinstance(value, list) else [value]
        out.append(f'<div{_class_attr("dash-options-list", "dash-" + kind, props.get("className"))}'
                   f'{_style_attr(props.get("style"))}>')
        box = "checkbox" if kind == "checklist" else "radio"
        for label, v in _options(props.get("options")):
            selected = v in chosen
            out.append(f'<label{_class_attr("dash-options-list-option", "selected" if selected else "", props.get("labelClassName"))}'
                       f'{_style_attr(props.get("labelStyle"))}><span class="dash-options-list-option-wrapper">'
                       f'<input type="{box}"{_class_attr("dash-options-list-option-checkbox", props.get("inputClassName"))}'
                       f'{_style_attr(props.get("inputStyle"))}{" checked" if selected else ""} disabled></span>'
                       '<span class="dash-options-list-option-text"><span>')
            _render(label, out)
            out.append("</span></span></label>")
        out.append("</div>")
    return write


def _markdown(props: dict, out: list[str]) -> None:
    text = props.get("children")
    if isinstance(text, list):
        text = "\n".join(t for t in text if isinstance(t, str))
    out.append(f'<div{_class_attr(props.get("className"))}{_style_attr(props.get("style"))}>')
    for paragraph in re.split(r"\n\s*\n", text if isinstance(text, str) else ""):
        if paragraph.strip():
            out.append(f"<p>{escape(paragraph.strip())}</p>")
    out.append("</div>")


def _graph(props: dict, out: list[str]) -> None:
    figure = props.get("figure") if isinstance(props.get("figure"), dict) else {}
    layout = figure.get("layout") if isinstance(figure.get("layout"), dict) else {}
    style = dict(props.get("style") or {}) if isinstance(props.get("style"), dict) else {}
    height = layout.get("height")
    if "height" not in style:
        style["height"] = height if isinstance(height, (int, float)) and not isinstance(height, bool) else 450
    out.append(f'<div{_class_attr("dash-graph", props.get("className"))}{_style_attr(style)}></div>')


def _children_only(props: dict, out: list[str]) -> None:
    _render(props.get("children"), out)


def _placeholder(props: dict, out: list[str]) -> None:
    out.append(f'<div{_class_attr(props.get("className"))}{_style_attr(props.get("style"))}></div>')


def _map(props: dict, out: list[str]) -> None:
    """The map's box, where explorer/web/first_paint.py's script draws its big layers at once."""
    ident = props.get("id")
    mark = f' data-first-view-map="{escape(json.dumps(ident, sort_keys=True))}"' if ident is not None else ""
    out.append(f'<div{_class_attr("first-view__map", props.get("className"))}{_style_attr(props.get("style"))}'
               f"{mark}></div>")


# dash_svg -----------------------------------------------------------------------------------------
# the few SVG elements and attributes our own drawings use (layouts/map_thumbnail.py), each value
# checked for its shape: path data is numbers and path commands, a fill a colour
SVG_ATTRIBUTES: dict[str, re.Pattern] = {
    "viewBox": re.compile(r"^-?[\d.]+( -?[\d.]+){3}$"),
    "preserveAspectRatio": re.compile(r"^[A-Za-z ]+$"),
    "role": re.compile(r"^img$"),
    "d": re.compile(r"^[MmLlHhVvZz\d .,\-]*$"),
    "fill": re.compile(r"^(#[0-9a-fA-F]{3,8}|none)$"),
}


def _svg_element(tag: str) -> Callable[[dict, list[str]], None]:
    def write(props: dict, out: list[str]) -> None:
        attrs = []
        for key, value in props.items():
            if not isinstance(value, str):
                continue
            if key == "className":
                attrs.append(f' class="{escape(value)}"')
            elif DATA_OR_ARIA.match(key) or (key in SVG_ATTRIBUTES and SVG_ATTRIBUTES[key].match(value)):
                attrs.append(f' {key}="{escape(value)}"')
        out.append(f"<{tag}{''.join(attrs)}>")
        _render(props.get("children"), out)
        out.append(f"</{tag}>")
    return write


COMPONENTS: dict[tuple[str, str], Callable[[dict, list[str]], None]] = {
    (CORE_NAMESPACE, "Link"): _link,
    (CORE_NAMESPACE, "Dropdown"): _dropdown,
    (CORE_NAMESPACE, "Input"): _input,
    (CORE_NAMESPACE, "Slider"): _slider,
    (CORE_NAMESPACE, "RadioItems"): _options_list("radioitems"),
    (CORE_NAMESPACE, "Checklist"): _options_list("checklist"),
    (CORE_NAMESPACE, "Markdown"): _markdown,
    (CORE_NAMESPACE, "Graph"): _graph,
    (CORE_NAMESPACE, "Loading"): _children_only,
    (CORE_NAMESPACE, "Clipboard"): _placeholder,
    (LEAFLET_NAMESPACE, "MapContainer"): _map,
    (LEAFLET_NAMESPACE, "Map"): _map,
    (SVG_NAMESPACE, "Svg"): _svg_element("svg"),
    (SVG_NAMESPACE, "G"): _svg_element("g"),
    (SVG_NAMESPACE, "Path"): _svg_element("path"),
}
