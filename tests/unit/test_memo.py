"""The memo object on the app (explorer.data.memo): bounded, least recently used out first, one
computation per key under concurrent callers, failures not kept, and one set of tables per
DataService, so two services (two apps) never see each other's values."""

from __future__ import annotations

import threading
import time

import pytest

from explorer.data.memo import LRU, Memos


def test_get_computes_once_and_keeps():
    table = Memos().table("info", 4)
    calls = []
    assert table.get("a", lambda: calls.append(1) or "A") == "A"
    assert table.get("a", lambda: calls.append(1) or "other") == "A"
    assert calls == [1]
    assert "a" in table and len(table) == 1


def test_bounded_least_recently_used_goes_first():
    table = LRU("values", 3)
    for key in "abc":
        table.get(key, lambda key=key: key.upper())
    table.get("a", lambda: "never")          # a is now the most recent
    table.get("d", lambda: "D")              # b, the least recent, goes
    assert "b" not in table
    assert [k for k in "acd" if k in table] == ["a", "c", "d"]
    assert table.values() == ["C", "A", "D"]           # least recently used first
    assert len(table) == 3
    table.put("e", "E")
    assert "c" not in table and len(table) == 3


def test_peek_computes_nothing():
    table = LRU("drawn", 2)
    assert table.peek("x") is None
    assert table.peek("x", "default") == "default"
    table.put("x", None)                     # a kept None is told apart from a missing key
    assert table.peek("x", "default") is None


def test_a_failure_is_not_kept():
    table = LRU("geometry", 2)
    with pytest.raises(RuntimeError):
        table.get("k", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert "k" not in table
    assert table.get("k", lambda: 7) == 7
    assert table._key_locks == {}            # no lock left behind for a key that failed


def test_concurrent_callers_of_one_key_share_one_computation():
    table = LRU("slow", 8)
    started = []
    gate = threading.Event()

    def slow():
        started.append(threading.get_ident())
        gate.wait(5)
        return object()

    results = []
    threads = [threading.Thread(target=lambda: results.append(table.get("k", slow))) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    # another key is not held up by the slow one
    assert table.get("other", lambda: 1) == 1
    gate.set()
    for t in threads:
        t.join(5)
    assert len(started) == 1
    assert len(results) == 6 and all(r is results[0] for r in results)


def test_tables_are_named_and_sized_once():
    memos = Memos()
    assert memos.table("info", 8) is memos.table("info", 8)
    assert memos.table("info", 8) is not memos.table("values", 8)
    with pytest.raises(ValueError, match="info"):
        memos.table("info", 16)
    with pytest.raises(ValueError):
        memos.table("empty", 0)


def test_clear_forgets_every_table():
    memos = Memos()
    memos.table("a", 2).put(1, 1)
    memos.table("b", 2).put(2, 2)
    memos.clear()
    assert len(memos.table("a", 2)) == 0 and len(memos.table("b", 2)) == 0


def test_each_data_service_has_its_own_memos(tmp_path):
    from explorer.catalogue.registry import Registry
    from explorer.geo.joins import DataService
    from explorer.settings import Settings

    def service(name):
        settings = Settings(home=tmp_path / name, data_dir=tmp_path / name / "data")
        settings.ensure_dirs()
        return DataService(settings, Registry(settings.registry_path))

    one, two = service("one"), service("two")
    assert isinstance(one.memos, Memos) and one.memos is not two.memos
    one.memos.table("info", 4).put("k", "one's")
    assert two.memos.table("info", 4).peek("k") is None
