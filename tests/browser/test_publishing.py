"""A borough editor publishes a table of LSOA 2011 scores through the web, and an access request
for a closed entry goes from a resident to the editor and back.

Screenshots of each page at 1440 and 390 px go to $PUBLISH_SHOTS (default /tmp/publish-shots)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from selenium.webdriver.support.ui import Select

from explorer.web.app import create_app
from explorer.settings import Settings

from ..conftest import DATA_DIR
from ..publishing_fixtures import PASSWORD, PUBLISHER_A, lsoa_2011_csv

SHOTS = Path(os.environ.get("PUBLISH_SHOTS", "/tmp/publish-shots"))


@pytest.fixture()
def publish_app(tmp_path_factory):
    home = tmp_path_factory.mktemp("publish-browser-home")
    app = create_app(Settings(home=home, data_dir=DATA_DIR, cache_url="simple"))
    accounts = app.explorer.accounts
    accounts.add_user("editor@camden.example.org", PASSWORD, publisher="camden", publisher_name=PUBLISHER_A,
                      role="editor")
    accounts.add_user("resident@example.org", PASSWORD)
    return app


def shoot(duo, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver = duo.driver
    for width in (1440, 390):
        driver.set_window_size(width, 1000)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(max(height + 120, 600), 6000))
        driver.save_screenshot(str(SHOTS / f"{name}-{width}.png"))
    driver.set_window_size(1366, 900)


def sign_in(duo, email: str, shot: str | None = None) -> None:
    duo.driver.get(duo.server_url + "/account/sign-in")
    duo.wait_for_element("#f-email", timeout=20)
    if shot:
        shoot(duo, shot)
    duo.find_element("#f-email").send_keys(email)
    duo.find_element("#f-password").send_keys(PASSWORD)
    duo.find_element("form.pub-form button[type=submit]").click()


def sign_out(duo) -> None:
    duo.find_element(".pub-account form button").click()
    duo.wait_for_element(".site-header", timeout=20)


def test_editor_creates_uploads_checks_the_join_publishes_and_finds_it(dash_duo, publish_app, tmp_path):
    duo = dash_duo
    duo.start_server(publish_app)
    sign_in(duo, "editor@camden.example.org", shot="sign-in")
    duo.wait_for_text_to_equal("h1", "Publish", timeout=20)
    duo.find_element("a[href='/publish/new']").click()
    duo.wait_for_element("#f-title", timeout=20)

    # A first try without a title and licence: the errors are shown next to their fields
    duo.find_element("button[value=draft]").click()
    duo.wait_for_element(".pub-errors", timeout=20)
    assert "Give the dataset a title." in duo.find_element(".pub-errors").text
    assert duo.find_element("#f-title").get_attribute("aria-invalid") == "true"
    shoot(duo, "new-entry-errors")

    duo.find_element("#f-title").send_keys("Camden deprivation scores by small area")
    duo.find_element("#f-description").send_keys("Index of Multiple Deprivation **scores** for Camden's LSOAs.")
    Select(duo.find_element("#f-licence")).select_by_value("OGL-UK-3.0")
    duo.find_element("#f-themes").send_keys("Deprivation, Housing")
    Select(duo.find_element("#f-update_frequency")).select_by_value("annual")
    duo.find_element("#f-temporal_start").send_keys("2019")
    Select(duo.find_element("#f-smallest_geography")).select_by_value("lsoa")
    assert Select(duo.find_element("#f-publisher")).first_selected_option.text == PUBLISHER_A
    duo.find_element("button[value=draft]").click()
    duo.wait_for_contains_text(".pub-state", "Draft", timeout=20)
    entry_url = duo.driver.current_url.split("?")[0]
    entry_id = entry_url.rsplit("/", 1)[1]

    # Upload a CSV keyed by LSOA 2011 codes
    text, codes = lsoa_2011_csv(DATA_DIR)
    path = tmp_path / "camden imd.csv"
    path.write_text(text)
    Select(duo.find_element("form[enctype] #f-format")).select_by_value("csv")
    duo.find_element("form[enctype] #f-file").send_keys(str(path))
    duo.find_element("form[enctype] button[type=submit]").click()
    duo.wait_for_element(".pub-report", timeout=60)
    report = duo.find_element(".pub-report").text
    assert "lsoa_code" in report and "2011" in report
    assert f"{len(codes) - 2:,} areas" in report and "2 codes" in report
    assert "E01999998" in duo.find_element(".pub-codes").text
    assert duo.find_elements(".pub-map path"), "the map preview draws the joined areas"
    assert "imd_score" in duo.find_element(".pub-table").text
    shoot(duo, "join-report")

    # Try the 2021 boundaries: the report changes (codes that exist only in 2011 stop matching)
    Select(duo.find_element("#f-boundary")).select_by_value("lsoa-2021")
    duo.find_element("form[method=get] button").click()
    duo.wait_for_contains_text(".pub-report", "2021", timeout=60)
    report_2021 = duo.find_element(".pub-report").text
    unmatched_2021 = int(re.search(r"Not matched\s+([\d,]+) codes", report_2021).group(1).replace(",", ""))
    assert unmatched_2021 > 2
    # back to the best match, and publish from the report
    duo.driver.get(duo.driver.current_url.split("?")[0])
    duo.wait_for_contains_text(".pub-report", "2011", timeout=60)
    duo.find_element(".pub-actions form button").click()
    duo.wait_for_contains_text(".pub-state", "Published", timeout=30)
    shoot(duo, "entry-published")

    # It is in the catalogue search ...
    duo.driver.get(duo.server_url + "/catalogue?q=camden+deprivation+scores")
    duo.wait_for_element(".result__title", timeout=30)
    assert any("Camden deprivation scores" in el.text for el in duo.find_elements(".result__title"))
    # ... and on the map, coloured by its scores
    duo.driver.get(duo.server_url + f"/map?basemap=none&layer={entry_id}:upload-1,v:imd_score")
    duo.wait_for_contains_text(".layer-card__title", "Camden deprivation scores", timeout=60)
    assert not duo.find_elements(".layer-card--error")

    # An edit keeps the old version; the diff shows what changed; revert brings it back
    duo.driver.get(entry_url)
    title = duo.find_element("#f-title")
    title.clear()
    title.send_keys("Camden deprivation scores by LSOA")
    duo.find_element("button[value=save]").click()
    duo.wait_for_contains_text(".notice", "Saved", timeout=20)
    duo.find_element("a[href*='/diff?']").click()
    duo.wait_for_element(".pub-diff", timeout=20)
    diff = duo.find_element(".pub-diff").text
    assert "- \"Camden deprivation scores by small area\"" in diff and "+ \"Camden deprivation scores by LSOA\"" in diff
    shoot(duo, "diff")


def test_resident_asks_for_access_to_a_closed_entry_and_the_editor_approves(dash_duo, publish_app):
    services = publish_app.explorer
    editor = services.accounts.find_user("editor@camden.example.org")
    text, codes = lsoa_2011_csv(DATA_DIR)
    import io
    change = services.publishing.create({
        "title": "Camden housing register by small area", "publisher": PUBLISHER_A, "licence": "OGL-UK-3.0",
        "access_level": "closed", "access_note": "Personal data: for council partners only.",
        "access_contact": "data@camden.example.org"}, editor)
    entry_id = change.entry.id
    services.publishing.add_upload(entry_id, io.BytesIO(text.encode()), "register.csv", "csv", editor, 10 ** 7)
    services.publishing.publish(entry_id, editor)

    duo = dash_duo
    duo.start_server(publish_app)
    duo.driver.get(duo.server_url + f"/dataset/{entry_id}")
    duo.wait_for_element(".request-access-link", timeout=30)
    duo.wait_for_contains_text("#dataset-preview", "not open", timeout=30)
    assert codes[0] not in duo.find_element("#dataset-preview").text
    shoot(duo, "dataset-closed")
    duo.find_element(".request-access-link").click()
    # not signed in: the sign-in page, then back to the request form
    duo.wait_for_element("#f-email", timeout=20)
    duo.find_element("#f-email").send_keys("resident@example.org")
    duo.find_element("#f-password").send_keys(PASSWORD)
    duo.find_element("form.pub-form button[type=submit]").click()
    duo.wait_for_element("#f-purpose", timeout=20)
    assert "Personal data" in duo.find_element("main").text
    duo.find_element("#f-purpose").send_keys("A ward-level needs assessment for the tenants' association.")
    shoot(duo, "request-access")
    duo.find_element("form.pub-form button[type=submit]").click()
    duo.wait_for_contains_text("main", "Your request", timeout=20)
    duo.driver.get(duo.server_url + "/account")
    duo.wait_for_contains_text(".pub-table", "Waiting for the publisher", timeout=20)
    sign_out(duo)

    sign_in(duo, "editor@camden.example.org")
    duo.wait_for_text_to_equal("h1", "Publish", timeout=20)
    duo.find_element("a[href='/publish/requests']").click()
    duo.wait_for_contains_text(".pub-table", "tenants' association", timeout=20)
    shoot(duo, "inbox")
    # a date field's typing order follows the browser's locale: set the value as the picker would
    duo.driver.execute_script("arguments[0].value = '2099-12-31'", duo.find_element(".pub-decide input[type=date]"))
    duo.find_element(".pub-decide button[value=approve]").click()
    duo.wait_for_contains_text(".pub-table", "Approved by editor@camden.example.org", timeout=20)
    assert any(a["action"] == "access approved" for a in services.publishing.store.audit_log(entry_id))
    sign_out(duo)

    sign_in(duo, "resident@example.org")
    duo.wait_for_contains_text(".pub-table", "Approved until 2099-12-31", timeout=20)
    shoot(duo, "account")
    duo.driver.get(duo.server_url + f"/dataset/{entry_id}")
    duo.wait_for_element("#dataset-map", timeout=60)
    assert "not open" not in duo.find_element("#dataset-preview").text
