"""Untrusted HTML descriptions become safe Markdown (no raw tags, only http/https/mailto links)."""

from __future__ import annotations

import re

import pytest

from explorer.guards.textsafe import html_to_markdown, looks_like_html, plain_text, safe_markdown

RAW_TAG = re.compile(r"<[A-Za-z/!?]")

NASTY = [
    '<p>Hi</p><script>alert("x")</script>',
    '<img src=x onerror="alert(1)">caption',
    '<a href="javascript:alert(1)">click me</a>',
    '<a href="jav&#x61;script:alert(1)">encoded</a>',
    '<a href=" JaVaScRiPt:alert(1)">spaced</a>',
    '<div onclick="steal()">div text</div>',
    '<iframe src="https://evil.example/"></iframe>after',
    '<svg onload=alert(1)><circle/></svg>svg',
    '<style>body{display:none}</style>styled',
    '&lt;script&gt;alert(1)&lt;/script&gt;',
    '<p>[md link](javascript:alert(1))</p>',
    'plain [md](javascript:alert(document.cookie)) text',
    'plain <javascript:alert(1)> autolink',
    '<a href="data:text/html;base64,PHNjcmlwdD4=">data</a>',
    '<form action="https://evil.example"><input value=x></form>form',
    '<!-- a comment --><p>text</p>',
]


@pytest.mark.parametrize("html", NASTY)
def test_nothing_dangerous_survives(html):
    out = html_to_markdown(html)
    assert not RAW_TAG.search(out), out
    lowered = out.lower()
    # No Markdown link or reference definition with an unsafe target.
    for target in re.findall(r"\]\(\s*<?([^)\s>]*)", out) + re.findall(r"^\s*\[[^\]]+\]:\s*(\S+)", out, re.M):
        assert target.lower().startswith(("http://", "https://", "mailto:", "#")), out
    assert "onerror" not in lowered and "onclick" not in lowered and "onload" not in lowered
    assert "secret" not in lowered and "display:none" not in lowered


def test_script_and_style_content_dropped_text_kept():
    out = html_to_markdown('<p>Before</p><script>var secret = 1;</script><style>p{color:red}</style><p>After</p>')
    assert "secret" not in out and "color" not in out
    assert out == "Before\n\nAfter"


def test_unsafe_links_keep_their_text_safe_links_are_kept():
    out = html_to_markdown('<p><a href="javascript:alert(1)">bad</a> and <a href="https://data.london.gov.uk/x">good</a>'
                           ' and <a href="mailto:data@london.gov.uk">mail</a></p>')
    assert out == "bad and [good](https://data.london.gov.uk/x) and [mail](mailto:data@london.gov.uk)"


def test_event_handler_attributes_removed():
    out = html_to_markdown('<p onmouseover="x()">Hello <b onclick="y()">bold</b></p><img src="x" onerror="alert(1)">')
    assert out == "Hello **bold**"


def test_entities_and_nbsp_decoded():
    assert html_to_markdown("<p>Fish&nbsp;&amp;&nbsp;chips &pound;5 &#8212; cheap</p>") == "Fish & chips £5 — cheap"


def test_lists_headings_and_blank_lines():
    html = "<h2>Contents</h2><ul><li>one</li><li>two</li></ul><p></p><p></p><p></p><p>end</p>"
    out = html_to_markdown(html)
    assert out == "## Contents\n\n- one\n- two\n\nend"
    assert "\n\n\n" not in out


def test_plain_text_passes_through_unescaped():
    text = "Counts of LSOA11CD_codes * 2 where age < 5 and x > 3.\nSecond line"
    assert html_to_markdown(text) == text
    assert looks_like_html(text) is False


def test_plain_text_blank_lines_collapsed_and_crlf_normalised():
    assert html_to_markdown("a\r\n\r\n\r\n\r\nb\r\n") == "a\n\nb"


def test_escaped_markup_in_text_is_not_turned_into_tags():
    out = html_to_markdown("<p>Use &lt;b&gt;bold&lt;/b&gt; here</p>")
    assert not RAW_TAG.search(out)
    # The text still reads as written once Markdown decodes the entity.
    assert plain_text(out) == "Use <b>bold</b> here"


def test_relative_links_dropped_or_resolved():
    html = '<a href="/dataset/x">rel</a>'
    assert html_to_markdown(html) == "rel"
    assert html_to_markdown(html, base_url="https://data.london.gov.uk/") == "[rel](https://data.london.gov.uk/dataset/x)"


def test_markdown_images_become_links():
    assert safe_markdown("![map](https://tracker.example/p.png)") == "[map](https://tracker.example/p.png)"


def test_none_and_empty():
    assert html_to_markdown(None) == ""
    assert html_to_markdown("   ") == ""
    assert plain_text(None) == ""


def test_plain_text_strips_markup_and_limits():
    md = "## Title\n\nSome **bold** and *it* with a [link](https://x.org) and `code`.\n\n- item one\n- item two"
    assert plain_text(md) == "Title Some bold and it with a link and code. item one item two"
    cut = plain_text(md, limit=25)
    assert len(cut) <= 25 and cut.endswith("…")
    assert cut == "Title Some bold and it…"


def test_plain_text_from_html():
    assert plain_text("<p>Hello&nbsp;<b>there</b></p><script>x()</script>") == "Hello there"
