"""Browser tests: the real app in headless Debian Chromium through dash[testing]'s dash_duo."""

from __future__ import annotations

import os
import shutil

import pytest

from explorer.web.app import create_app
from explorer.settings import Settings

from ..conftest import DATA_DIR

pytestmark = pytest.mark.browser


def pytest_configure(config):
    """dash[testing] numbers its servers' ports from 58050 in every process: two test runs on one
    machine would take each other's ports. Start this run's numbering at a port the OS says is free."""
    import socket

    from dash.testing.application_runners import BaseDashRunner

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        BaseDashRunner._next_port = probe.getsockname()[1]


def pytest_setup_options():
    from selenium.webdriver.chrome.options import Options

    options = Options()
    binary = os.environ.get("DASH_TEST_CHROMEPATH") or shutil.which("chromium") or "/usr/bin/chromium"
    options.binary_location = binary
    # This machine's network is closed: stop Chromium phoning home at start.
    for flag in ("--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic", "--window-size=1366,900"):
        options.add_argument(flag)
    return options


@pytest.fixture(scope="session")
def browser_home(tmp_path_factory):
    return tmp_path_factory.mktemp("explorer-home")


@pytest.fixture()
def app(browser_home):
    """A fresh app on the real data folder; the registry is harvested once per session."""
    settings = Settings(home=browser_home, data_dir=DATA_DIR, cache_url="simple")
    return create_app(settings)


@pytest.fixture()
def explorer(dash_duo, app):
    dash_duo.start_server(app)
    return dash_duo
