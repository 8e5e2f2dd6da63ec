"""Turn untrusted descriptions (HTML or plain text from catalogue sources) into safe Markdown.

Descriptions are shown with ``dcc.Markdown`` (no raw HTML), so whatever a source sends, the
result here is Markdown that contains no HTML tags and no links other than http, https and
mailto. HTML goes through ``nh3`` (an allow-list sanitiser: scripts and styles are dropped with
their content, event-handler attributes and ``javascript:`` links are removed) and then through
``markdownify``. Plain text is left as it is, apart from the same link and tag checks.
"""

from __future__ import annotations

import html
import re

import markdownify
import nh3

# Tags kept by the sanitiser; everything else is unwrapped (its text kept) or, for script/style
# and friends, removed with its content.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
DROPPED_WITH_CONTENT = {"script", "style", "noscript", "template", "iframe", "object", "embed",
                        "svg", "math", "textarea", "select", "title", "head"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
ALLOWED_SCHEMES = {"http", "https", "mailto"}

_TAG_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>|<!--|<!\[CDATA\[|<!DOCTYPE", re.I)
_ENTITY_RE = re.compile(r"&(#\d{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,31});", re.I)
# "<" that would open a tag, comment, declaration or autolink in Markdown.
_OPENING_LT_RE = re.compile(r"<(?=[A-Za-z/!?])")
# Markdown inline links and images: [text](target "title") / ![alt](target)
_MD_LINK_RE = re.compile(
    r"(!?)\[((?:[^\[\]\\]|\\.)*)\]\(\s*<?((?:[^()\s<>\\]|\\.|\((?:[^()\s\\]|\\.)*\))*)>?"
    r"(\s+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?\s*\)"
)
# Reference definitions: [label]: target
_MD_REFDEF_RE = re.compile(r"^( {0,3}\[[^\]]+\]:\s*)(\S+)(.*)$", re.M)
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u2028\u2029\ufeff]")


def looks_like_html(text: str) -> bool:
    """True when the text holds HTML tags or character entities."""
    return bool(_TAG_RE.search(text) or _ENTITY_RE.search(text))


def _safe_target(target: str) -> bool:
    # Undo entity and percent tricks such as "jav&#x61;script:" before looking at the scheme.
    probe = html.unescape(target).strip()
    probe = re.sub(r"[\s\x00-\x1f]+", "", probe)
    match = _SCHEME_RE.match(probe)
    if match is None:
        # Relative links would point into this app; only fragment-free plain text survives.
        return False
    return match.group(1).lower() in ALLOWED_SCHEMES


def _neutralise_markdown(text: str) -> str:
    """Make Markdown safe: unsafe links lose their target, images become links, no raw tags."""

    def fix_link(match: re.Match) -> str:
        bang, label, target = match.group(1), match.group(2), match.group(3)
        if not _safe_target(target):
            return label if not bang else (label or "")
        if bang:
            # Images would be fetched by the reader's browser from anywhere: show a link instead.
            return f"[{label or 'image'}]({target})"
        return match.group(0)

    text = _MD_LINK_RE.sub(fix_link, text)

    def fix_refdef(match: re.Match) -> str:
        target = match.group(2).strip("<>")
        if _safe_target(target):
            return match.group(0)
        return match.group(1) + "#" + match.group(3)

    text = _MD_REFDEF_RE.sub(fix_refdef, text)
    # Any "<" that could open HTML (or an autolink such as <javascript:…>) is written as an entity:
    # Markdown shows it as a literal "<".
    return _OPENING_LT_RE.sub("&lt;", text)


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_RE.sub("", text)
    text = text.replace("\u00a0", " ")
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n").strip()


def safe_markdown(text: str | None) -> str:
    """Keep Markdown as written, but without raw HTML tags or links other than http/https/mailto."""
    if not text:
        return ""
    return _neutralise_markdown(_tidy(str(text)))


def html_to_markdown(text: str | None, base_url: str | None = None) -> str:
    """Return safe Markdown for an HTML (or plain-text) description.

    ``base_url``, when given, resolves relative links in HTML (e.g. a publisher's own site);
    without it relative links are dropped (their text is kept).
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    if not text.strip():
        return ""
    if not looks_like_html(text):
        return safe_markdown(text)

    url_relative: object = "deny"
    if base_url and re.match(r"^https?://", base_url, re.I):
        url_relative = ("rewrite_with_base", base_url)
    cleaned = nh3.clean(
        text,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel=None,
        strip_comments=True,
        url_relative=url_relative,
    )
    markdown = markdownify.markdownify(
        cleaned,
        heading_style=markdownify.ATX,
        bullets="-",
        newline_style=markdownify.BACKSLASH,
        escape_misc=False,
        strip=["u", "abbr", "sub", "sup"],
    )
    return _neutralise_markdown(_tidy(markdown))


_MD_STRIP_RES = (
    (re.compile(r"!?\[((?:[^\[\]\\]|\\.)*)\]\([^)]*\)"), r"\1"),      # links / images → text
    (re.compile(r"^\s{0,3}#{1,6}\s+", re.M), ""),                     # headings
    (re.compile(r"^\s{0,3}>\s?", re.M), ""),                          # block quotes
    (re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+", re.M), ""),              # list markers
    (re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,}|\|?[\s:|-]+\|[\s:|-]*)\s*$", re.M), ""),  # rules, table rules
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),            # strong
    (re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])"), r"\2"),  # emphasis
    (re.compile(r"`+([^`]*)`+"), r"\1"),                              # code
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])"), r"\1"),            # backslash escapes
    (re.compile(r"\\\n"), "\n"),                                      # hard breaks
)


def plain_text(markdown_or_html: str | None, limit: int | None = None) -> str:
    """Return one line of plain text (for search snippets and tooltips), cut to ``limit`` chars."""
    if not markdown_or_html:
        return ""
    text = str(markdown_or_html)
    if _TAG_RE.search(text):
        text = html_to_markdown(text)
    for pattern, repl in _MD_STRIP_RES:
        text = pattern.sub(repl, text)
    text = html.unescape(text)
    text = text.replace("|", " ")
    text = _CONTROL_RE.sub("", text)
    text = re.sub(r"\s+", " ", text).strip()
    if limit is not None and limit >= 0 and len(text) > limit:
        if limit <= 1:
            return text[:limit]
        cut = text[: limit - 1]
        space = cut.rfind(" ")
        if space > limit * 0.6:
            cut = cut[:space]
        text = cut.rstrip(" ,;:.-") + "…"
    return text
