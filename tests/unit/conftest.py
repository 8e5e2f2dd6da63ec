"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def renderer():
    """One warm headless-Chromium renderer for every export test (starting one takes seconds).
    A test that kills or hangs it relies on its restart, as the app does."""
    from explorer.export.renderer import Renderer

    r = Renderer(timeout=60)
    yield r
    r.close()
