"""Accounts on the Flask server: who is asking (session cookie or Bearer token), CSRF, the secret
key, and the gate in front of every data route for shared and closed entries.

Cookies
    ``explorer_session``: a random id (the database keeps only its sha256), HttpOnly,
    SameSite=Lax, ``Secure`` whenever the request came over https (behind a proxy set
    EXPLORER_TRUSTED_PROXIES so the app sees the public scheme). A new id is issued at every
    sign-in and the old session is ended, so an id planted before sign-in is worthless after it.
    ``_csrf_token``: the double-submit token, readable by the page's script, SameSite=Lax.
    Dash's renderer sends it back as the ``X-CSRFToken`` header on every callback; the server's
    own HTML forms carry it as a ``csrf_token`` field. A signed-in session also keeps its own
    token, which the submitted one must match too.

CSRF rule
    Every POST, PUT, PATCH and DELETE that carries the session cookie must bring the token
    (header or form field) equal to the cookie's and the session's; the sign-in form always must
    (login CSRF). Requests with a Bearer token and no session cookie are not exposed to CSRF (a
    browser never adds that header by itself) and are not asked.

Data gate
    ``/geo/<id>…``, ``/download/layer.zip`` and ``/export/map.*`` name entries in their path or
    ``layer`` parameters, ``/export/chart/<theme>/…`` and ``/download/chart/<theme>/…`` through
    their theme; each named entry that is not open is checked before the route runs (401
    anonymous, 403 without access), and answers about such entries are ``Cache-Control: private,
    no-store``. The data service gets the same check for every load made during a request (Dash
    callbacks: dataset preview, map layers), so no other route can read the files either.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from pathlib import Path

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import Forbidden

from explorer.publishing.access import AccessDenied
from explorer.accounts.store import User

SESSION_COOKIE = "explorer_session"
CSRF_COOKIE = "_csrf_token"
CSRF_HEADER = "X-CSRFToken"
CSRF_FIELD = "csrf_token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ID = r"[A-Za-z0-9][A-Za-z0-9._~-]{0,199}"
_GEO_RE = re.compile(rf"^/geo/({_ID})(?:\.geojson|/{_ID}\.(?:pbf|geojson))$")
_LAYER_ROUTES = re.compile(r"^/(?:download/layer\.zip|export/map\.[a-z]+)$")
_THEME_ROUTES = re.compile(r"^/(?:export|download)/chart/([A-Za-z0-9_-]{1,100})/")
_ALWAYS_CSRF = ("/account/sign-in",)
_STATIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon.ico")
_PERSONAL_PREFIXES = ("/account", "/publish", "/access/", "/api/", "/_dash-update-component")


class CsrfRefused(Forbidden):
    """A form came back without the right CSRF token (403). The pages' own error page is
    registered for it by the module that draws pages (``explorer.web.publish_pages``)."""

    description = "The form's security token was missing or out of date. Go back, reload the page and send it again."


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site's address."""
    value = value or ""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value and len(value) < 500:
        return value
    return ""


def secret_key(settings) -> str:
    """EXPLORER_SECRET_KEY, else a random key generated once and kept in EXPLORER_HOME/secret_key
    (mode 0600), so every worker and every restart signs with the same key."""
    if getattr(settings, "secret_key", ""):
        return settings.secret_key
    path = Path(settings.home) / "secret_key"
    try:
        key = path.read_text(encoding="utf-8").strip()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:   # another worker wrote it first: use theirs
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key)
    return key


def current_user() -> User | None:
    return getattr(g, "user", None)


def csrf_token() -> str:
    """The token a form on this response must carry (set as the cookie too)."""
    token = (getattr(g, "csrf_new", None) or getattr(g, "session_csrf", None)
             or request.cookies.get(CSRF_COOKIE) or "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{32,100}", token):
        token = secrets.token_urlsafe(32)
        g.csrf_new = token
    return token


def sign_in(user: User, accounts) -> None:
    """Start a fresh session for ``user`` (the old one, if any, is ended): set on the response."""
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        accounts.end_session(old)
    session_id, csrf = accounts.create_session(user.id)
    g.user = user
    g.session_new = session_id
    g.csrf_new = csrf


def sign_out(accounts) -> None:
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        accounts.end_session(old)
    g.user = None
    g.session_new = ""
    g.csrf_new = secrets.token_urlsafe(32)


def _json_error(status: int, message: str):
    response = jsonify({"error": message, "status": status})
    response.status_code = status
    return response


def _layer_ids() -> list[str]:
    ids = []
    for value in request.args.getlist("layer"):
        ident = value.split(",")[0].split(":")[0].strip()
        if ident:
            ids.append(ident)
    return ids


def install_accounts(server: Flask, services) -> None:
    accounts = services.accounts
    policy = services.publishing.access
    server.secret_key = secret_key(services.settings)
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")

    def guard(entry):
        from explorer.geo.joins import DatasetError

        try:
            from flask import has_request_context
            if not has_request_context():
                return      # the CLI and background work are the operator's own
            policy.check_data(current_user(), entry)
        except AccessDenied as exc:
            g.private = True
            raise DatasetError(entry.id, "access", exc.reason) from None
        g.private = True

    services.data.access_guard = guard

    upload_paths = re.compile(rf"^/(?:api/datasets/{_ID}/resources|publish/{_ID}/upload|publish/new)$")

    @server.before_request
    def _who_is_asking():
        if request.method == "POST" and upload_paths.match(request.path):
            # uploads may be larger than the app's request limit, before anything reads the body
            request.max_content_length = services.settings.max_upload_bytes + 256 * 1024
        g.user = None
        g.session_csrf = None
        if request.method in ("GET", "HEAD") and request.path.startswith(_STATIC_PREFIXES):
            return None          # scripts and styles: nobody needs to be looked up
        session_id = request.cookies.get(SESSION_COOKIE)
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            # a token speaks for itself; the session cookie is then not used (nor CSRF-checked)
            session_id = None
            g.bearer = True
            g.user = accounts.token_user(auth[7:].strip())
        elif session_id:
            found = accounts.session_user(session_id)
            if found is not None:
                g.user, g.session_csrf = found
        # CSRF: unsafe methods with a session cookie, and the sign-in form always
        if request.method in _UNSAFE and (session_id or request.path in _ALWAYS_CSRF):
            cookie = request.cookies.get(CSRF_COOKIE, "")
            sent = request.headers.get(CSRF_HEADER) or ""
            if not sent and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                sent = request.form.get(CSRF_FIELD, "")
            ok = bool(cookie) and hmac.compare_digest(sent.encode(), cookie.encode())
            if ok and g.session_csrf is not None:
                ok = hmac.compare_digest(sent.encode(), g.session_csrf.encode())
            if not ok:
                if request.path.startswith(("/api/", "/_dash-")):
                    return _json_error(403, "the request's CSRF token is missing or wrong; reload the page")
                raise CsrfRefused()
        return _gate()

    def _gate():
        path = request.path
        ids: list[str] = []
        match = _GEO_RE.match(path)
        if match:
            ids = [match.group(1)]
        elif _LAYER_ROUTES.match(path):
            ids = _layer_ids()
        elif (theme := _THEME_ROUTES.match(path)) is not None:
            # a theme chart's image or data zip: the theme's datasets (a cached image or zip must
            # not reach someone who could not have drawn it)
            from explorer.web.export_routes import _theme_datasets
            ids = _theme_datasets(services, theme.group(1))
        for entry_id in dict.fromkeys(ids):
            entry = services.registry.get(entry_id)
            if entry is None or entry.access_level == "open":
                continue
            g.private = True
            try:
                policy.check_data(current_user(), entry)
            except AccessDenied as exc:
                return _json_error(exc.status, f"{entry_id}: {exc.reason}")
        return None

    @server.after_request
    def _cookies(response):
        secure = request.is_secure
        # answers about shared/closed entries, and every page that depends on who is signed in;
        # not static files (a signed-in person's scripts and styles stay cacheable)
        if getattr(g, "private", False) or (getattr(g, "user", None) is not None
                                            and request.path.startswith(_PERSONAL_PREFIXES)):
            response.headers["Cache-Control"] = "private, no-store"
            response.vary.add("Cookie")
        new_session = getattr(g, "session_new", None)
        if new_session is not None:
            if new_session:
                response.set_cookie(SESSION_COOKIE, new_session, httponly=True, secure=secure,
                                    samesite="Lax", path="/", max_age=14 * 24 * 3600)
            else:
                response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, secure=secure, samesite="Lax")
        token = getattr(g, "csrf_new", None)
        session_csrf = getattr(g, "session_csrf", None)
        if token is None and session_csrf and request.cookies.get(CSRF_COOKIE) != session_csrf \
                and new_session is None:
            token = session_csrf     # the cookie was lost (another tab signed out, a cleared cookie)
        if token is None and response.mimetype == "text/html" and not request.cookies.get(CSRF_COOKIE):
            token = secrets.token_urlsafe(32)
        if token:
            response.set_cookie(CSRF_COOKIE, token, httponly=False, secure=secure, samesite="Lax", path="/")
        return response
