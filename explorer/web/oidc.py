"""Sign-in through an OpenID Connect provider (EXPLORER_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET).

Authlib's Flask client does the protocol: it reads the provider's discovery document, sends the
person there with ``state``, ``nonce`` and a PKCE S256 challenge (kept in Flask's signed session
cookie, signed with EXPLORER_SECRET_KEY), exchanges the code, and checks the ID token's signature
against the provider's JWKS, its issuer, audience, expiry and nonce. We then find the account by
the token's subject (or link it by email the first time) and start a session as a password
sign-in does (a fresh session id). An account made this way has no publisher role until an
admin gives it one (`explorer users add EMAIL --publisher … --role …`).
"""

from __future__ import annotations

import logging
from flask import Flask, redirect, request, session, url_for
from markupsafe import Markup

from explorer.accounts.store import AccountError
from explorer.web.accounts import safe_next, sign_in
from explorer.web.publish_html import e, page

log = logging.getLogger(__name__)


def register_oidc(server: Flask, services) -> None:
    from authlib.integrations.flask_client import OAuth

    settings = services.settings
    accounts = services.accounts
    oauth = OAuth(server)
    issuer = settings.oidc_issuer.rstrip("/")
    oauth.register(
        "oidc",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret or None,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256",
                       "timeout": settings.http_timeout},
    )
    # Flask's signed session cookie carries only the sign-in's state, nonce and PKCE verifier
    server.config["SESSION_COOKIE_NAME"] = "explorer_oidc"
    server.config["SESSION_COOKIE_SECURE"] = settings.public_url.startswith("https://")

    @server.get("/account/oidc/start")
    def oidc_start():
        session["oidc_next"] = safe_next(request.args.get("next"))
        callback = (settings.public_url.rstrip("/") + "/account/oidc/callback") if settings.public_url \
            else url_for("oidc_callback", _external=True)
        return oauth.oidc.authorize_redirect(callback)

    @server.get("/account/oidc/callback")
    def oidc_callback():
        try:
            token = oauth.oidc.authorize_access_token()
        except Exception as exc:  # noqa: BLE001 - any protocol failure: say so, log the detail
            log.warning("OpenID Connect sign-in failed: %s", exc)
            return page("Sign-in did not work", Markup(
                "<p>The sign-in with your organisation's account could not be completed. "
                '<a href="/account/sign-in">Try again</a>.</p>'), status=401)
        claims = token.get("userinfo") or {}
        if not claims.get("email") and token.get("access_token"):
            try:
                claims = {**claims, **oauth.oidc.userinfo(token=token)}
            except Exception:  # noqa: BLE001
                pass
        subject = f"{issuer}|{claims.get('sub', '')}"
        email = claims.get("email") or ""
        if not claims.get("sub") or not email or claims.get("email_verified") is False:
            return page("Sign-in did not work", Markup(
                "<p>Your organisation's account did not give a verified email address, which this "
                "site needs to know who you are.</p>"), status=401)
        try:
            user = accounts.oidc_user(subject, email, str(claims.get("name") or ""))
        except AccountError as exc:
            return page("Sign-in did not work", Markup(f"<p>{e(exc.message)}</p>"), status=401)
        nxt = session.pop("oidc_next", "") or ""
        sign_in(user, accounts)
        return redirect(nxt or ("/publish" if user.memberships else "/account"), code=303)

