"""Fixtures shared by unit and browser tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.postgres_server import database_url, postgres_server, postgres_url  # noqa: F401  (fixtures)

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = (REPO_ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real London data folder beside the checkout (read-only; never copied)."""
    if not DATA_DIR.is_dir():
        pytest.fail(f"real data folder not found at {DATA_DIR}: clone with ../shared beside the repo")
    return DATA_DIR
