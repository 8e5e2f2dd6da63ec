"""A person types a question on the home page and finds the dataset; a typo gets "Did you mean";
the sources page says where the datasets come from; a London Datastore-only entry shows what is
known and where to get it. Screenshots at 1440 and 390 px go to the pytest temp folder."""

from __future__ import annotations

from selenium.webdriver.common.keys import Keys


def texts(duo, selector):
    return [el.text for el in duo.find_elements(selector)]


def _ask(duo, text):
    box = duo.find_element("#catalogue-q")
    box.clear()
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def test_a_question_on_the_home_page_finds_the_dataset(explorer, tmp_path):
    duo = explorer
    duo.wait_for_text_to_equal("h1", "Find, map and understand London's data", timeout=20)
    count = duo.find_element(".hero__count").text
    assert int(count.split(" datasets")[0].replace(",", "")) > 1250, count   # the city's catalogue
    assert duo.find_element(".hero__count a").get_attribute("href").endswith("/sources")
    duo.driver.set_window_size(390, 844)
    duo.driver.save_screenshot(str(tmp_path / "home-390.png"))
    duo.driver.set_window_size(1440, 1000)
    _ask(duo, "Is there a publicly available dataset for tree canopy cover in London?")
    duo.wait_for_contains_text("#results-heading", "tree canopy cover", timeout=20)
    top5 = texts(duo, ".result__title")[:5]
    assert "Tree Canopy Cover 2024" in top5, top5
    why = texts(duo, ".result__why")
    assert why and "“canopy”" in why[0], why
    duo.driver.set_window_size(1440, 1000)
    duo.driver.save_screenshot(str(tmp_path / "question-1440.png"))

    # A misspelt word: results for the corrected one, and a link to search it.
    _ask(duo, "polution")
    duo.wait_for_contains_text(".did-you-mean", "Did you mean", timeout=20)
    assert duo.find_element("#did-you-mean").text == "pollution"
    assert any("ollution" in t for t in texts(duo, ".result__title")[:5])
    duo.driver.set_window_size(390, 844)
    duo.driver.save_screenshot(str(tmp_path / "typo-390.png"))

    # Sorted by last updated: the order changes and is said.
    duo.driver.set_window_size(1440, 1000)
    duo.find_element(".sort-links__link").click()
    duo.wait_for_contains_text(".sort-links__current", "Last updated", timeout=20)
    assert "sort=updated" in duo.driver.current_url


def test_nothing_found_offers_closest_searches_and_sources_page(explorer, tmp_path):
    duo = explorer
    duo.wait_for_text_to_equal("h1", "Find, map and understand London's data", timeout=20)
    _ask(duo, "zqxwv allotments")
    duo.wait_for_element(".result__title", timeout=20)    # "allotments" alone finds some
    _ask(duo, "zqxwv")
    duo.wait_for_contains_text(".empty", "No dataset in the registry mentions", timeout=20)
    duo.driver.save_screenshot(str(tmp_path / "empty-1440.png"))

    duo.driver.get(duo.server_url + "/sources")
    duo.wait_for_contains_text("h1", "Sources", timeout=20)
    table = duo.find_element(".sources-table").text
    assert "London Datastore" in table and "a copy is kept on this site" in table
    duo.driver.set_window_size(1440, 1000)
    duo.driver.save_screenshot(str(tmp_path / "sources-1440.png"))
    duo.driver.set_window_size(390, 844)
    duo.driver.save_screenshot(str(tmp_path / "sources-390.png"))

    # A London Datastore-only entry: what is known, the licence not called open, where to get it.
    duo.driver.set_window_size(1440, 1000)
    duo.driver.get(duo.server_url + "/catalogue?q=Tree+Canopy+Cover+2024")
    duo.wait_for_element(".result__title a", timeout=20)
    duo.find_element(".result__title a").click()
    duo.wait_for_element(".source-card", timeout=20)
    page = duo.find_element("#page-content").text
    assert "Tree Canopy Cover 2024" in page and "Open data" not in page
    assert "lists no files we can open here" in page and "Not in the registry" not in page
    link = duo.find_element(".notice a")
    assert link.text == "Get the data from the publisher's page"
    assert link.get_attribute("href").startswith("https://data.london.gov.uk/dataset/")
    duo.driver.save_screenshot(str(tmp_path / "lds-entry-1440.png"))
