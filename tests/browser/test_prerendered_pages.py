"""The first page arrives with the layout; moving away and coming back renders it again."""

from __future__ import annotations


def test_a_page_opened_directly_then_revisited_through_history(explorer):
    duo = explorer
    duo.driver.get(f"{duo.server_url}/catalogue?q=nitrogen+dioxide")
    duo.wait_for_contains_text("#results-heading", "for “nitrogen dioxide”", timeout=30)
    assert "Catalogue" in duo.driver.title
    sizes = duo.driver.execute_script(
        "return performance.getEntriesByType('resource').filter(function (e) {"
        " return e.name.indexOf('_dash-update-component') !== -1; }).map(function (e) { return e.decodedBodySize; });")
    asked = duo.driver.execute_script(
        "return performance.getEntriesByType('resource').filter(function (e) {"
        " return e.name.indexOf('_dash-layout') !== -1; }).length;")
    document = duo.driver.execute_script("return performance.getEntriesByType('navigation')[0].decodedBodySize;")
    # the page came inside the index page with its layout (explorer/web/first_paint.py), so Dash did not
    # ask for the layout; the router answered its first call without sending the page again
    assert asked == 0 and document > 10_000 and sizes and max(sizes) < 1_000, (asked, document, sizes)

    next(a for a in duo.find_elements(".site-nav__link") if a.text == "Themes").click()
    duo.wait_for_contains_text("h1", "Themes", timeout=30)
    duo.driver.back()
    duo.wait_for_contains_text("#results-heading", "for “nitrogen dioxide”", timeout=30)
    assert "Catalogue" in duo.driver.title
    duo.driver.forward()
    duo.wait_for_contains_text("h1", "Themes", timeout=30)


def test_pages_opened_directly_raise_no_errors_in_the_browser(explorer):
    """A page that comes with the layout is checked by Dash against every callback at start; a
    control a callback reads that the page's component lacks shows up as a console error."""
    duo = explorer
    pages = {
        "/map": "#explorer-map .leaflet-map-pane canvas",
        "/map?layer=london-boroughs&layer=osm-pois": ".leaflet-marker-pane .marker-cluster",
        "/themes/air-quality": "#theme-map path.leaflet-interactive",
        "/dataset/laei-lsoa-2021": ".source-card",
        "/catalogue?q=parks": ".result__title",
    }
    for path, ready in pages.items():
        duo.driver.get(duo.server_url + path)
        duo.wait_for_element(ready, timeout=60)
        # (basemap tiles from the internet cannot load on this closed network: not the page's fault)
        errors = [entry for entry in duo.get_logs() or [] if entry.get("level") == "SEVERE"
                  and not (entry.get("source") == "network" and duo.server_url not in entry.get("message", ""))]
        assert errors == [], (path, errors[:3])
