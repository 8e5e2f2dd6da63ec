"""Small HTML builders for the server-rendered account and publishing pages.

Every piece of text goes through ``markupsafe.escape`` (``e``); the builders return plain ``str``
of HTML that is already safe, so pages are put together with ``+`` and f-strings (``Markup + str``
would escape the str: the builders' markup would show as text).
Pages link the site's stylesheet and ``assets/publish.css`` and run no script at all (the CSP
needs no hash for them), so they work with JavaScript off and every form is plain HTML with its
CSRF token field.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from explorer.web.accounts import CSRF_FIELD, csrf_token, current_user

NAV = (("Catalogue", "/catalogue"), ("Map", "/map"), ("Themes", "/themes"), ("Publish", "/publish"))


def e(value) -> Markup:
    return escape("" if value is None else value)


def csrf_field() -> str:
    return str(f'<input type="hidden" name="{CSRF_FIELD}" value="{e(csrf_token())}">')


def post_button(action: str, label: str, css: str = "pub-button", extra: str = "",
                name: str = "", value: str = "") -> str:
    named = f' name="{e(name)}" value="{e(value)}"' if name else ""
    return (f'<form method="post" action="{e(action)}" class="pub-inline-form">{csrf_field()}{extra}'
            f'<button type="submit" class="{e(css)}"{named}>{e(label)}</button></form>')


def page(title: str, body, status: int = 200, heading: str | None = None):
    from flask import Response

    user = current_user()
    nav = "".join(f'<a class="site-nav__link" href="{href}">{label}</a>' for label, href in NAV)
    if user is not None:
        who = (f'<span class="pub-who">Signed in as {e(user.email)}</span>'
               f'<a class="site-nav__link" href="/account">Your account</a>'
               + post_button("/account/sign-out", "Sign out", "pub-link-button"))
    else:
        who = '<a class="site-nav__link" href="/account/sign-in">Sign in</a>'
    html = f"""<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · London Data Explorer</title>
<link rel="stylesheet" href="/assets/explorer.css"><link rel="stylesheet" href="/assets/publish.css">
</head><body>
<header class="site-header"><a href="#main" class="skip-link">Skip to content</a>
<div class="site-header__inner"><a class="brand" href="/"><span class="brand__city">London</span><span class="brand__name"> Data Explorer</span></a>
<nav class="site-nav" aria-label="Main">{nav}</nav><div class="pub-account">{who}</div></div></header>
<main id="main" class="page pub-page" tabindex="-1"><h1>{e(heading or title)}</h1>
{body}
</main></body></html>"""
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "private, no-store"
    return response


def field(name: str, label: str, value="", errors: dict | None = None, *, kind: str = "text",
          hint: str = "", options=(), required: bool = False, attrs: str = "") -> str:
    errors = errors or {}
    fid = f"f-{name}"
    err = errors.get(name)
    described = " ".join(x for x in (f"{fid}-hint" if hint else "", f"{fid}-error" if err else "") if x)
    aria = (f' aria-describedby="{described}"' if described else "") + (' aria-invalid="true"' if err else "")
    req = " required" if required else ""
    if kind == "textarea":
        control = f'<textarea id="{fid}" name="{e(name)}" rows="8"{aria}{req} {attrs}>{e(value)}</textarea>'
    elif kind == "select":
        opts = "".join(f'<option value="{e(v)}"{" selected" if str(v) == str(value) else ""}>{e(lab)}</option>'
                       for v, lab in options)
        control = f'<select id="{fid}" name="{e(name)}"{aria}{req} {attrs}>{opts}</select>'
    elif kind == "radio":
        items = "".join(
            f'<label class="pub-radio"><input type="radio" name="{e(name)}" value="{e(v)}"'
            f'{" checked" if str(v) == str(value) else ""}> {e(lab)}</label>' for v, lab in options)
        return (f'<fieldset class="pub-field{" pub-field--error" if err else ""}"{aria}><legend>{e(label)}</legend>'
                      + (f'<p class="pub-hint" id="{fid}-hint">{e(hint)}</p>' if hint else "")
                      + (f'<p class="pub-error" id="{fid}-error">{e(err)}</p>' if err else "")
                      + items + "</fieldset>")
    else:
        control = f'<input id="{fid}" name="{e(name)}" type="{kind}" value="{e(value)}"{aria}{req} {attrs}>'
    return (f'<div class="pub-field{" pub-field--error" if err else ""}"><label for="{fid}">{e(label)}</label>'
                  + (f'<p class="pub-hint" id="{fid}-hint">{e(hint)}</p>' if hint else "")
                  + (f'<p class="pub-error" id="{fid}-error">{e(err)}</p>' if err else "")
                  + control + "</div>")


def error_summary(errors: dict) -> str:
    if not errors:
        return ""
    items = "".join(f'<li><a href="#f-{e(k)}">{e(v)}</a></li>' for k, v in errors.items())
    return (f'<div class="notice notice--error pub-errors" role="alert"><h2>There is a problem</h2><ul>{items}</ul></div>')


def table(headers, rows, caption: str = "") -> str:
    """Cells are text (escaped) unless they are ``Markup`` (a link or a form built here)."""
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c if isinstance(c, Markup) else e(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    cap = f"<caption>{e(caption)}</caption>" if caption else ""
    return (f'<div class="pub-table-wrap"><table class="pub-table">{cap}<thead><tr>{head}</tr></thead>'
                  f'<tbody>{body}</tbody></table></div>')
