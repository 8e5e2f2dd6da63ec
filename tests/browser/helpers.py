"""What several browser test modules share: one browser for a whole module, and waiting for what
a page shows."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator


def wait_until(condition, timeout: float = 30, what: str = ""):
    """Call ``condition`` until it returns something true (elements come and go while Dash renders)
    and return that; fail naming ``what`` and the last answer or error."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = condition()
        except Exception as exc:  # noqa: BLE001 - the page is still changing
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what or condition}: last {last!r}")


@contextmanager
def module_browser(request, app, download_path) -> Iterator:
    """dash[testing]'s ``dash_duo`` for a whole module: ``app`` served once, one headless Chromium,
    with the options the command line and ``pytest_setup_options`` give."""
    from dash.testing.application_runners import ThreadedRunner
    from dash.testing.composite import DashComposite

    config = request.config
    with ThreadedRunner() as server:
        with DashComposite(server=server, browser=config.getoption("webdriver"), remote=config.getoption("remote"),
                           remote_url=config.getoption("remote_url"), headless=config.getoption("headless"),
                           options=config.hook.pytest_setup_options(), download_path=str(download_path),
                           percy_assets_root=config.getoption("percy_assets"),
                           percy_finalize=config.getoption("nopercyfinalize"),
                           pause=config.getoption("pause")) as composite:
            composite.start_server(app)
            yield composite
