"""Sign-in through OpenID Connect, against a small provider this test starts on 127.0.0.1: discovery,
authorize, token (with PKCE), JWKS and userinfo, ID tokens signed RS256 with a key made here.
Every test runs on both backends: accounts in SQLite under EXPLORER_HOME, and in PostgreSQL
(EXPLORER_DATABASE_URL, a real server the tests start)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from authlib.jose import JsonWebKey, jwt
from flask import Flask, jsonify, redirect, request

from explorer.web.app import create_app
from explorer.settings import Settings

from ..local_http import LocalServer

CLIENT_ID = "london-data-explorer"
CLIENT_SECRET = "s3cret-for-tests-only"


class Provider:
    """A hand-built OpenID Connect provider: just enough of the protocol, checked strictly."""

    def __init__(self):
        self.key = JsonWebKey.generate_key("RSA", 2048, is_private=True, options={"kid": "test-key"})
        self.signing_key = self.key
        self.codes: dict[str, dict] = {}
        self.person = {"sub": "u-123", "email": "officer@borough.example.org", "email_verified": True,
                       "name": "A Borough Officer"}
        app = Flask("oidc-test-provider")
        self.app = app

        @app.get("/.well-known/openid-configuration")
        def discovery():
            base = self.issuer
            return jsonify({"issuer": base, "authorization_endpoint": f"{base}/authorize",
                            "token_endpoint": f"{base}/token", "jwks_uri": f"{base}/jwks",
                            "userinfo_endpoint": f"{base}/userinfo", "response_types_supported": ["code"],
                            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
                            "code_challenge_methods_supported": ["S256"],
                            "token_endpoint_auth_methods_supported": ["client_secret_basic"]})

        @app.get("/authorize")
        def authorize():
            args = request.args
            assert args["client_id"] == CLIENT_ID and args["response_type"] == "code"
            assert args["code_challenge_method"] == "S256" and "openid" in args["scope"].split()
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"nonce": args.get("nonce"), "redirect_uri": args["redirect_uri"],
                                "challenge": args["code_challenge"]}
            return redirect(f"{args['redirect_uri']}?{urlencode({'code': code, 'state': args['state']})}")

        @app.post("/token")
        def token():
            auth = request.authorization
            if auth is None or (auth.username, auth.password) != (CLIENT_ID, CLIENT_SECRET):
                return jsonify({"error": "invalid_client"}), 401
            grant = self.codes.pop(request.form.get("code", ""), None)
            if grant is None or request.form.get("redirect_uri") != grant["redirect_uri"]:
                return jsonify({"error": "invalid_grant"}), 400
            verifier = request.form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if challenge != grant["challenge"]:
                return jsonify({"error": "invalid_grant", "error_description": "PKCE"}), 400
            now = int(time.time())
            claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                      "nonce": grant["nonce"], **self.person}
            id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.signing_key).decode()
            return jsonify({"access_token": "at-" + secrets.token_urlsafe(8), "token_type": "Bearer",
                            "expires_in": 300, "id_token": id_token})

        @app.get("/jwks")
        def jwks():
            return jsonify({"keys": [self.key.as_dict(is_private=False)]})

        @app.get("/userinfo")
        def userinfo():
            return jsonify(self.person)

    def __enter__(self):
        self.server = LocalServer(self.app)
        self.issuer = self.server.url()
        return self

    def __exit__(self, *exc):
        self.server.close()


@pytest.fixture()
def provider():
    with Provider() as p:
        yield p


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("oidc-home")


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, provider, home, data_dir):
    from explorer.accounts.store import accounts_path

    for suffix in ("", "-wal", "-shm"):               # each test starts without accounts
        accounts_path(home).with_name(accounts_path(home).name + suffix).unlink(missing_ok=True)
    # on PostgreSQL a fresh database for each test, for the same reason
    database = request.getfixturevalue("postgres_server").new_database() if request.param == "postgresql" else ""
    settings = Settings(home=home, data_dir=data_dir, cache_url="simple", database_url=database,
                        oidc_issuer=provider.issuer, oidc_client_id=CLIENT_ID, oidc_client_secret=CLIENT_SECRET,
                        oidc_label="Example Borough")
    return create_app(settings)


def _round_trip(client, provider_state=None):
    start = client.get("/account/oidc/start?next=/account")
    assert start.status_code == 302
    to_provider = start.headers["Location"]
    assert to_provider.startswith(provider_state or "http://127.0.0.1:")
    back = requests.get(to_provider, allow_redirects=False, timeout=10)
    assert back.status_code == 302
    return urlsplit(back.headers["Location"])


def test_sign_in_with_the_provider_creates_an_account_and_a_fresh_session(app, provider):
    client = app.server.test_client()
    page = client.get("/account/sign-in").get_data(as_text=True)
    assert "Sign in with Example Borough" in page
    callback = _round_trip(client)
    assert callback.path == "/account/oidc/callback"
    client.set_cookie("explorer_session", "planted-before-sign-in-000000000000")
    done = client.get(f"{callback.path}?{callback.query}")
    assert done.status_code == 303 and done.headers["Location"].endswith("/account")
    session_id = client.get_cookie("explorer_session").value
    assert session_id != "planted-before-sign-in-000000000000"
    user, _ = app.explorer.accounts.session_user(session_id)
    assert user.email == "officer@borough.example.org" and user.memberships == ()
    assert "officer@borough.example.org" in client.get("/account").get_data(as_text=True)
    # signing in again finds the same account by its subject
    callback = _round_trip(client)
    client.get(f"{callback.path}?{callback.query}")
    assert len([u for u in app.explorer.accounts.list_users() if u.email == "officer@borough.example.org"]) == 1
    # the account is where the backend keeps accounts: the shared database, or this host's SQLite file
    from explorer.accounts.store import accounts_path, open_accounts
    settings = app.explorer.settings
    assert accounts_path(settings.home).exists() is not bool(settings.database_url)
    elsewhere = open_accounts(settings.with_(home=settings.home / "another-host") if settings.database_url else settings)
    assert elsewhere.find_user("officer@borough.example.org").id == user.id


def test_a_forged_state_or_a_token_signed_by_another_key_is_refused(app, provider):
    client = app.server.test_client()
    callback = _round_trip(client)
    query = parse_qs(callback.query)
    forged = client.get(f"{callback.path}?{urlencode({'code': query['code'][0], 'state': 'forged'})}")
    assert forged.status_code == 401
    assert client.get_cookie("explorer_session") is None
    # an ID token signed with a key the provider's JWKS does not hold
    provider.signing_key = JsonWebKey.generate_key("RSA", 2048, is_private=True, options={"kid": "test-key"})
    callback = _round_trip(client)
    bad = client.get(f"{callback.path}?{callback.query}")
    assert bad.status_code == 401
    assert client.get_cookie("explorer_session") is None
    assert app.explorer.accounts.find_user("officer@borough.example.org") is None


def test_an_unverified_email_is_refused(app, provider):
    provider.person = {**provider.person, "email_verified": False}
    client = app.server.test_client()
    callback = _round_trip(client)
    response = client.get(f"{callback.path}?{callback.query}")
    assert response.status_code == 401 and "verified email" in response.get_data(as_text=True)
