"""Accounts: argon2 password hashes, the sign-in limit with a message that tells nothing, session
ids rotated at sign-in (fixation), CSRF on forms and Dash callbacks, tokens kept as hashes, and
the `explorer users` / `explorer tokens` commands — each on both backends: accounts in SQLite
under EXPLORER_HOME, and in PostgreSQL (EXPLORER_DATABASE_URL, a real server the tests start)."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from click.testing import CliRunner

from explorer.accounts.store import accounts_database, accounts_path
from explorer.web.app import create_app
from explorer.cli import main
from explorer.web.publish_pages import SIGN_IN_FAILED
from explorer.settings import Settings

from ..publishing_fixtures import PASSWORD, PUBLISHER_A, people


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, tmp_path_factory, data_dir):
    """The app on each backend: SQLite under EXPLORER_HOME, then PostgreSQL (EXPLORER_DATABASE_URL)."""
    home = tmp_path_factory.mktemp("accounts-home")
    database = request.getfixturevalue("postgres_server").new_database() if request.param == "postgresql" else ""
    settings = Settings(home=home, data_dir=data_dir, cache_url="simple", database_url=database)
    app = create_app(settings)
    who = people(app.explorer.accounts)
    return {"app": app, "services": app.explorer, "who": who, "home": home, "settings": settings,
            "database": database}


def _stored_text(world) -> str:
    """Every row of every accounts table, as text, wherever the backend keeps them."""
    if not world["database"]:
        return "\n".join(sqlite3.connect(accounts_path(world["home"])).iterdump())
    assert not accounts_path(world["home"]).exists()          # nothing of the accounts on this host
    db = accounts_database(world["settings"])
    tables = [r[0] for r in db.query("SELECT table_name FROM information_schema.tables"
                                     " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")]
    assert {"users", "tokens", "sessions"} <= set(tables)
    return "\n".join(str(row[0]) for table in tables for row in db.query(f'SELECT t::text FROM "{table}" t'))


def _password_hash(world, email: str) -> str:
    return accounts_database(world["settings"]).one("SELECT password_hash FROM users WHERE email = ?", (email,))[0]


def _csrf(client) -> str:
    page = client.get("/account/sign-in")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match, "the sign-in form carries a CSRF field"
    return match.group(1)


def _sign_in(client, email, password=PASSWORD):
    token = _csrf(client)
    return client.post("/account/sign-in", data={"email": email, "password": password, "csrf_token": token})


def test_password_is_stored_as_an_argon2id_hash(world):
    stored = _password_hash(world, world["who"]["editor_a"].email)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    from argon2 import PasswordHasher
    assert PasswordHasher().verify(stored, PASSWORD)
    other = _password_hash(world, world["who"]["editor_b"].email)
    assert other != stored           # salted: the same password hashes differently
    assert PASSWORD not in _stored_text(world)


def test_weak_passwords_are_refused(world):
    from explorer.accounts import AccountError
    with pytest.raises(AccountError) as info:
        world["services"].accounts.add_user("weak@example.org", "short")
    assert info.value.field == "password"


def test_api_tokens_are_stored_only_as_hashes(world):
    token = world["who"]["editor_a"].token
    dump = _stored_text(world)
    assert world["who"]["editor_a"].email in dump              # the dump holds the accounts ...
    assert token not in dump and token[4:] not in dump        # ... but not the token
    assert world["services"].accounts.token_user(token).email == world["who"]["editor_a"].email


def test_sign_in_sets_a_hardened_cookie_and_rotates_the_session_id(world):
    client = world["app"].server.test_client()
    # a session id planted before sign-in (fixation) ...
    client.set_cookie("explorer_session", "planted-by-an-attacker-0123456789abcdef")
    response = _sign_in(client, world["who"]["editor_a"].email)
    assert response.status_code == 303 and response.headers["Location"].endswith("/publish")
    cookies = response.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("explorer_session="))
    assert "HttpOnly" in session and "SameSite=Lax" in session and "Path=/" in session
    new_id = session.split(";")[0].split("=", 1)[1]
    assert new_id != "planted-by-an-attacker-0123456789abcdef" and len(new_id) >= 40
    # ... is worth nothing: only the new id is signed in
    assert world["services"].accounts.session_user("planted-by-an-attacker-0123456789abcdef") is None
    assert world["services"].accounts.session_user(new_id)[0].email == world["who"]["editor_a"].email
    # a second sign-in in the same browser gets yet another id, and the previous one ends
    again = _sign_in(client, world["who"]["editor_a"].email)
    newer = next(c for c in again.headers.getlist("Set-Cookie") if c.startswith("explorer_session=")).split(";")[0].split("=", 1)[1]
    assert newer != new_id and world["services"].accounts.session_user(new_id) is None


def test_cookie_is_secure_over_https(world):
    client = world["app"].server.test_client()
    page = client.get("/account/sign-in", base_url="https://localhost")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post("/account/sign-in", base_url="https://localhost",
                           data={"email": world["who"]["editor_b"].email, "password": PASSWORD, "csrf_token": token})
    session = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("explorer_session="))
    assert "Secure" in session


def test_sign_in_limit_and_its_message_tell_nothing(world):
    services = world["services"]
    services.accounts.add_user("victim@example.org", PASSWORD)
    client = world["app"].server.test_client()
    wrong = _sign_in(client, "victim@example.org", "wrong password 1")
    unknown = _sign_in(client, "nobody-here@example.org", "wrong password 1")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert SIGN_IN_FAILED in response.get_data(as_text=True)
    for _ in range(5):
        _sign_in(client, "victim@example.org", "wrong password 2")
    # paused now: even the right password is refused, with the same words
    locked = _sign_in(client, "victim@example.org", PASSWORD)
    assert locked.status_code == 401 and SIGN_IN_FAILED in locked.get_data(as_text=True)
    text = locked.get_data(as_text=True).lower()
    assert "locked" not in text and "unknown" not in text and "no account" not in text
    # the pause is for that account: another account signs in from the same client
    assert _sign_in(client, world["who"]["user"].email).status_code == 303


def test_forms_refuse_a_missing_or_wrong_csrf_token(world):
    client = world["app"].server.test_client()
    assert _sign_in(client, world["who"]["editor_a"].email).status_code == 303
    before = len(world["services"].publishing.store.entries())
    values = {"title": "CSRF attempt", "publisher": PUBLISHER_A, "licence": "CC0-1.0", "access_level": "open",
              "action": "publish"}
    assert client.post("/publish/new", data=values).status_code == 403
    assert client.post("/publish/new", data={**values, "csrf_token": "x" * 43}).status_code == 403
    assert len(world["services"].publishing.store.entries()) == before
    # the sign-in form itself needs it too (login CSRF)
    fresh = world["app"].server.test_client()
    assert fresh.post("/account/sign-in", data={"email": world["who"]["user"].email,
                                                "password": PASSWORD}).status_code == 403
    # with the token from the page, the same post works
    page = client.get("/publish/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    created = client.post("/publish/new", data={**values, "csrf_token": token})
    assert created.status_code == 303
    assert len(world["services"].publishing.store.entries()) == before + 1


def test_dash_callbacks_of_a_signed_in_session_need_the_csrf_header(world):
    client = world["app"].server.test_client()
    assert _sign_in(client, world["who"]["editor_a"].email).status_code == 303
    payload = {  # the dataset page's preview callback (callbacks/dataset.py)
        "output": "..dataset-preview.children...dataset-source-card.children...dataset-provenance.children..",
        "outputs": [{"id": "dataset-preview", "property": "children"},
                    {"id": "dataset-source-card", "property": "children"},
                    {"id": "dataset-provenance", "property": "children"}],
        "inputs": [{"id": "dataset-id", "property": "data", "value": "no-such-dataset"},
                   {"id": "dataset-resource", "property": "value", "value": None}],
        "changedPropIds": ["dataset-id.data"], "state": []}
    refused = client.post("/_dash-update-component", json=payload)
    assert refused.status_code == 403 and "CSRF" in refused.get_json()["error"]
    token = client.get_cookie("_csrf_token").value
    accepted = client.post("/_dash-update-component", json=payload, headers={"X-CSRFToken": token})
    assert accepted.status_code == 200 and b"Not in the registry" in accepted.get_data()
    # anonymous visitors' callbacks carry no authority and are not asked for the token
    anonymous = world["app"].server.test_client()
    assert anonymous.post("/_dash-update-component", json=payload).status_code == 200


def test_sign_out_ends_the_session(world):
    client = world["app"].server.test_client()
    _sign_in(client, world["who"]["editor_b"].email)
    session_id = client.get_cookie("explorer_session").value
    token = client.get_cookie("_csrf_token").value
    assert client.post("/account/sign-out", data={"csrf_token": token}).status_code == 303
    assert world["services"].accounts.session_user(session_id) is None
    assert client.get("/publish").status_code == 303      # back to the sign-in page


def test_cli_users_and_tokens(tmp_path, database_url):
    runner = CliRunner(env={"EXPLORER_DATABASE_URL": database_url})
    home = ["--home", str(tmp_path)]
    added = runner.invoke(main, [*home, "users", "add", "officer@camden.example.org", "--publisher", "camden",
                                 "--role", "editor", "--password-stdin"], input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert "editor of camden" in added.output
    listed = runner.invoke(main, [*home, "users", "list", "--json"])
    users = json.loads(listed.output)
    assert users[0]["email"] == "officer@camden.example.org" and users[0]["publishers"][0]["role"] == "editor"
    bad = runner.invoke(main, [*home, "users", "add", "x@example.org", "--publisher", "camden", "--role", "owner",
                               "--password-stdin"], input=PASSWORD + "\n")
    assert bad.exit_code != 0
    created = runner.invoke(main, [*home, "tokens", "create", "officer@camden.example.org", "--name", "ci", "--json"])
    token = json.loads(created.output)["token"]
    assert token.startswith("ldx_")
    listing = runner.invoke(main, [*home, "tokens", "list", "--json"])
    assert token not in listing.output and json.loads(listing.output)[0]["name"] == "ci"
    token_id = json.loads(listing.output)[0]["id"]
    revoked = runner.invoke(main, [*home, "tokens", "revoke", str(token_id)])
    assert revoked.exit_code == 0
    from explorer.publishing.service import open_publishing
    from explorer.services import open_registry
    settings = Settings(home=tmp_path, database_url=database_url)
    accounts, _ = open_publishing(settings, open_registry(settings, harvest_bundled=False))
    assert accounts_path(tmp_path).exists() is not bool(database_url)    # where the accounts went
    assert accounts.token_user(token) is None
    assert runner.invoke(main, [*home, "tokens", "create", "nobody@example.org"]).exit_code != 0
