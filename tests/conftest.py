"""Fixtures shared by unit and browser tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.postgres_server import database_url, postgres_server, postgres_url  # noqa: F401  (fixtures)
from tests.local_http import local_server  # noqa: F401  (fixture: the one local HTTP server)

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = (REPO_ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real London data folder beside the checkout (read-only; never copied)."""
    if not DATA_DIR.is_dir():
        pytest.fail(f"real data folder not found at {DATA_DIR}: clone with ../shared beside the repo")
    return DATA_DIR


@pytest.fixture(scope="session")
def real_app(tmp_path_factory, data_dir):
    """One app (``create_app``) over the real data folder for the whole run: its home in a temporary
    folder, the in-process "simple" cache, the default settings otherwise. Building an app
    harvests the registry (seconds), and datasets, layers and charts it has worked out stay in its
    memos, so modules that only read from an app share this one instead of building their own.

    Change nothing in it (registry, settings, monkeypatched attributes of the app or its services):
    the next module would see it. A test that needs other settings or changes the registry builds
    its own app; two apps in one process are independent (tests/unit/test_app_state.py)."""
    from explorer.settings import Settings
    from explorer.web.app import create_app

    return create_app(Settings(home=tmp_path_factory.mktemp("real-app-home"), data_dir=data_dir,
                               cache_url="simple"))


@pytest.fixture(scope="session")
def real_services(real_app):
    """The :func:`real_app`'s services (settings, registry, data service, cache)."""
    return real_app.explorer
