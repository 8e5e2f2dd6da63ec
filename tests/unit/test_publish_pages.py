"""The Publish area's pages: who may open what, text shown as text, uploads through the form,
versions, diff, revert and archive."""

from __future__ import annotations

import io
import re

import pytest

from explorer.web.app import create_app
from explorer.settings import Settings

from ..publishing_fixtures import PASSWORD, PUBLISHER_A, lsoa_2011_csv, people


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, tmp_path_factory, data_dir):
    """The app on each backend: SQLite under EXPLORER_HOME, then PostgreSQL (EXPLORER_DATABASE_URL)."""
    home = tmp_path_factory.mktemp("pages-home")
    database = request.getfixturevalue("postgres_server").new_database() if request.param == "postgresql" else ""
    app = create_app(Settings(home=home, data_dir=data_dir, cache_url="simple", database_url=database))
    who = people(app.explorer.accounts)
    change = app.explorer.publishing.create(
        {"title": "Camden <script>alert(1)</script> scores", "publisher": PUBLISHER_A, "licence": "CC-BY-4.0",
         "description": "<img src=x onerror=alert(1)>"}, who["editor_a"].user)
    return {"app": app, "services": app.explorer, "who": who, "entry": change.entry.id, "data_dir": data_dir}


def client_for(world, role):
    client = world["app"].server.test_client()
    if role == "anonymous":
        return client
    page = client.get("/account/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/account/sign-in", data={"email": world["who"][role].email, "password": PASSWORD,
                                                     "csrf_token": token})
    assert response.status_code == 303
    return client


def token_of(client) -> str:
    return client.get_cookie("_csrf_token").value


@pytest.mark.parametrize("role,status", [("anonymous", 303), ("user", 403), ("editor_b", 403),
                                         ("editor_a", 200), ("admin", 200)])
def test_who_may_open_an_entry_page(world, role, status):
    client = client_for(world, role)
    response = client.get(f"/publish/{world['entry']}")
    assert response.status_code == status
    if status == 303:
        assert "/account/sign-in?next=" in response.headers["Location"]
    body = response.get_data(as_text=True)
    if status == 403:
        assert "&lt;script&gt;" not in body and "CC-BY" not in body     # neither title nor form
    elif status == 200:
        # the title is shown as text, never as markup
        assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "<img src=x" not in body


@pytest.mark.parametrize("role,status", [("user", 403), ("editor_b", 403)])
def test_others_cannot_post_to_an_entry(world, role, status):
    client = client_for(world, role)
    before = world["services"].publishing.store.version(world["entry"])["version"]
    for path in (f"/publish/{world['entry']}", f"/publish/{world['entry']}/publish",
                 f"/publish/{world['entry']}/archive", f"/publish/{world['entry']}/revert"):
        response = client.post(path, data={"csrf_token": token_of(client), "title": "taken over", "version": "1"})
        assert response.status_code == status, path
    assert world["services"].publishing.store.version(world["entry"])["version"] == before


def test_upload_versions_diff_revert_and_archive_through_the_pages(world):
    services = world["services"]
    client = client_for(world, "editor_a")
    entry_id = world["entry"]
    text, codes = lsoa_2011_csv(world["data_dir"])
    response = client.post(f"/publish/{entry_id}/upload", content_type="multipart/form-data",
                           data={"csrf_token": token_of(client), "format": "csv",
                                 "file": (io.BytesIO(text.encode()), "../../secret/..\\evil name.csv")})
    assert response.status_code == 303
    report_url = response.headers["Location"]
    report = client.get(report_url).get_data(as_text=True)
    assert "London LSOAs 2011" in report and "E01999998" in report and "lsoa_code" in report
    upload = services.publishing.store.uploads(entry_id)[-1]
    assert upload["stored_name"] == "evil-name.csv" and upload["original_name"].startswith("../../secret")
    assert upload["uploaded_by"] == world["who"]["editor_a"].email and len(upload["sha256"]) == 64
    # the same report for the 2021 boundaries
    other = client.get(report_url + "?code_column=lsoa_code&boundary=lsoa-2021").get_data(as_text=True)
    assert "London LSOAs 2021" in other
    # publish, edit, see the diff, revert
    assert client.post(f"/publish/{entry_id}/publish", data={"csrf_token": token_of(client)}).status_code == 303
    form = {"csrf_token": token_of(client), "title": "Camden scores 2019", "publisher": PUBLISHER_A,
            "licence": "CC-BY-4.0", "description": "New text", "access_level": "open", "action": "save"}
    assert client.post(f"/publish/{entry_id}", data=form).status_code == 303
    versions = services.publishing.store.versions(entry_id)
    newest, previous = versions[0]["version"], versions[1]["version"]
    diff = client.get(f"/publish/{entry_id}/diff?from={previous}&to={newest}").get_data(as_text=True)
    assert "Camden scores 2019" in diff and "New text" in diff
    assert services.registry.get(entry_id).title == "Camden scores 2019"
    assert client.post(f"/publish/{entry_id}/revert", data={"csrf_token": token_of(client),
                                                             "version": str(previous)}).status_code == 303
    assert services.registry.get(entry_id).title.startswith("Camden <script>")
    assert services.publishing.store.versions(entry_id)[0]["note"] == f"reverted to version {previous}"
    assert client.post(f"/publish/{entry_id}/archive", data={"csrf_token": token_of(client)}).status_code == 303
    assert services.registry.get(entry_id).archived is True
    actions = [a["action"] for a in services.publishing.store.audit_log(entry_id)]
    assert actions[:4] == ["archived", "reverted", "edited", "published"]


def test_field_errors_are_shown_beside_their_fields(world):
    client = client_for(world, "editor_a")
    response = client.post("/publish/new", data={"csrf_token": token_of(client), "title": "x",
                                                 "publisher": PUBLISHER_A, "licence": "other",
                                                 "access_level": "closed", "temporal_start": "2021",
                                                 "temporal_end": "2019", "action": "draft"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    for field, words in (("licence_other", "Name the licence."), ("temporal_end", "The end comes before the start."),
                         ("access_note", "Say how people get access")):
        assert re.search(rf'id="f-{field}-error">{re.escape(words)}', body), field
        assert re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', body), field


def test_one_form_creates_the_entry_with_its_file_or_nothing(world):
    services = world["services"]
    client = client_for(world, "editor_a")
    text, codes = lsoa_2011_csv(world["data_dir"])
    form = {"title": "Camden scores with their file", "publisher": PUBLISHER_A, "licence": "OGL-UK-3.0",
            "access_level": "open", "action": "publish", "format": "csv"}
    count = len(services.publishing.store.entries())
    bad = client.post("/publish/new", content_type="multipart/form-data",
                      data={**form, "csrf_token": token_of(client), "file": (io.BytesIO(b"\x00\x01binary"), "x.csv")})
    assert bad.status_code == 422 and "not plain text" in bad.get_data(as_text=True)
    assert len(services.publishing.store.entries()) == count
    assert services.registry.get("camden-scores-with-their-file") is None
    good = client.post("/publish/new", content_type="multipart/form-data",
                       data={**form, "csrf_token": token_of(client), "file": (io.BytesIO(text.encode()), "imd.csv")})
    assert good.status_code == 303 and "/report/upload-1" in good.headers["Location"]
    entry = services.registry.get("camden-scores-with-their-file")
    assert entry is not None and [r.id for r in entry.resources] == ["upload-1"]
    assert [a["action"] for a in services.publishing.store.audit_log(entry.id)] == ["published", "uploaded", "created draft"]


def test_a_refusal_needs_a_reason_the_requester_sees_it_and_the_audit_log_keeps_it(world):
    services = world["services"]
    editor = world["who"]["editor_a"].user
    change = services.publishing.create({"title": "Camden social care placements", "publisher": PUBLISHER_A,
                                         "licence": "OGL-UK-3.0", "access_level": "closed",
                                         "access_note": "Named analysts only."}, editor, publish=True)
    resident = client_for(world, "user")
    short = resident.post(f"/access/{change.entry.id}/request", data={"csrf_token": token_of(resident), "purpose": "x"})
    assert short.status_code == 422 and "Say in a sentence" in short.get_data(as_text=True)
    sent = resident.post(f"/access/{change.entry.id}/request",
                         data={"csrf_token": token_of(resident), "purpose": "Research on placement distances"})
    assert sent.status_code == 200 and "Your request" in sent.get_data(as_text=True)
    request_id = services.publishing.store.requests(entry_ids={change.entry.id})[0]["id"]
    other_editor = client_for(world, "editor_b")
    assert other_editor.post(f"/publish/requests/{request_id}", data={
        "csrf_token": token_of(other_editor), "decision": "approve"}).status_code == 403
    editor_client = client_for(world, "editor_a")
    no_reason = editor_client.post(f"/publish/requests/{request_id}", data={
        "csrf_token": token_of(editor_client), "decision": "refuse"})
    assert no_reason.status_code == 422
    refused = editor_client.post(f"/publish/requests/{request_id}", data={
        "csrf_token": token_of(editor_client), "decision": "refuse",
        f"reason-{request_id}": "Only for analysts under our data sharing agreement."})
    assert refused.status_code == 303
    account = resident.get("/account").get_data(as_text=True)
    assert "Refused" in account and "data sharing agreement" in account
    log = services.publishing.store.audit_log(change.entry.id)
    assert log[0]["action"] == "access refused" and "data sharing agreement" in log[0]["detail"]["reason"]
    assert resident.get(f"/geo/{change.entry.id}.geojson").status_code == 403


def test_descriptions_keep_markdown_but_lose_raw_html_and_script_links(world):
    services = world["services"]
    change = services.publishing.create(
        {"title": "Markdown check", "publisher": PUBLISHER_A, "licence": "CC0-1.0",
         "description": "**Bold** and [a source](https://data.london.gov.uk) "
                        "<script>alert(1)</script> [click](javascript:alert(1))"}, world["who"]["editor_a"].user)
    text = change.entry.description
    assert "**Bold**" in text and "[a source](https://data.london.gov.uk)" in text
    assert "<script>" not in text and "javascript:" not in text


def test_admins_add_people_and_editors_cannot(world):
    editor = client_for(world, "editor_a")
    assert editor.get("/publish/people").status_code == 403
    assert editor.post("/publish/people", data={"csrf_token": token_of(editor), "email": "x@example.org",
                                                "publisher": PUBLISHER_A, "role": "admin"}).status_code == 403
    assert world["services"].accounts.find_user("x@example.org") is None
    admin = client_for(world, "admin")
    bad = admin.post("/publish/people", data={"csrf_token": token_of(admin), "email": "not an email",
                                              "publisher": PUBLISHER_A, "role": "editor"})
    assert bad.status_code == 422 and "Enter an email address" in bad.get_data(as_text=True)
    ok = admin.post("/publish/people", data={"csrf_token": token_of(admin), "email": "new.editor@camden.example.org",
                                             "publisher": PUBLISHER_A, "role": "editor",
                                             "password": "a long first password"})
    assert ok.status_code == 200 and "is now editor of" in ok.get_data(as_text=True)
    added = world["services"].accounts.find_user("new.editor@camden.example.org")
    assert [m.name for m in added.memberships] == [PUBLISHER_A]
    assert world["services"].publishing.access.can_edit(added, publisher=PUBLISHER_A)
