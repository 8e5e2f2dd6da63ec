"""Settings are data: each one is read from its environment variable and documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.settings import SETTINGS, Settings, setting_names

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_a_field_and_documented():
    text = README.read_text(encoding="utf-8")
    assert {s.name for s in SETTINGS} == set(setting_names())
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in text]
    assert not missing, f"settings missing from README.md: {missing}"


def test_from_env_reads_and_converts(tmp_path):
    s = Settings.from_env({"EXPLORER_HOME": str(tmp_path), "EXPLORER_DATA_DIR": str(tmp_path / "d"),
                           "EXPLORER_ALLOW_PRIVATE_URLS": "yes", "EXPLORER_HTTP_RETRIES": "5",
                           "EXPLORER_HTTP_TIMEOUT": "2.5"})
    assert s.home == tmp_path and s.data_dir == tmp_path / "d"
    assert s.allow_private_urls is True and s.http_retries == 5 and s.http_timeout == 2.5
    assert s.registry_path == tmp_path / "registry.sqlite3"


def test_bad_value_names_the_variable():
    with pytest.raises(ValueError, match="EXPLORER_HTTP_RETRIES"):
        Settings.from_env({"EXPLORER_HTTP_RETRIES": "many"})


def test_overrides_beat_environment(tmp_path):
    s = Settings.from_env({"EXPLORER_HOME": "/nowhere"}, home=tmp_path)
    assert s.home == tmp_path
