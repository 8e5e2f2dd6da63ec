"""Safe zip extraction: traversal, symlinks, bombs, lying headers, temp-then-rename."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from explorer.data.archive import (
    ArchiveError,
    extract_all,
    extract_member,
    extract_members,
    list_members,
    member_dir,
    obvious_member,
    sidecar_members,
)

MB = 1024 * 1024


def make_zip(path: Path, members: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def bomb_zip(tmp_path_factory) -> Path:
    """50 MB of zeros, deflated to about 50 kB."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.csv", bytes(50 * MB))
    assert path.stat().st_size < 1 * MB
    return path


def test_extract_member_writes_flat_file_with_the_members_bytes(tmp_path):
    payload = b"code,value\nE09000001,1\n" * 100
    z = make_zip(tmp_path / "a.zip", {"deep/folder/data.csv": payload, "other.txt": b"x"})
    out = extract_member(z, "deep/folder/data.csv", tmp_path / "out", max_bytes=MB)
    assert out == tmp_path / "out" / "data.csv"
    assert out.read_bytes() == payload
    assert files_under(tmp_path / "out") == ["data.csv"]  # no temp files left, nothing else


def test_missing_member_and_folder_member_are_named(tmp_path):
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("folder/", b"")
        zf.writestr("folder/a.csv", b"a")
    with pytest.raises(ArchiveError, match="no member 'nope.csv'"):
        extract_member(z, "nope.csv", tmp_path / "out", max_bytes=MB)
    with pytest.raises(ArchiveError, match="is a folder"):
        extract_member(z, "folder/", tmp_path / "out", max_bytes=MB)


def test_not_a_zip_is_refused_with_its_path(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"this is not a zip")
    with pytest.raises(ArchiveError, match="bad.zip: not a readable zip"):
        extract_all(bad, tmp_path / "out", max_bytes=MB)


@pytest.mark.parametrize("name", ["../evil", "ok/../../evil", "/abs/evil", "C:/evil", "..\\evil"])
def test_traversal_and_absolute_members_are_refused(tmp_path, name):
    z = make_zip(tmp_path / "t.zip", {"fine.csv": b"a,b\n", name: b"pwned"})
    dest = tmp_path / "nested" / "out"
    with pytest.raises(ArchiveError, match="refused"):
        extract_all(z, dest, max_bytes=MB)
    with pytest.raises(ArchiveError, match="refused"):
        extract_member(z, name, dest, max_bytes=MB)
    # Nothing written at all: not the bad member, not even the fine one (checked before writing).
    assert files_under(tmp_path) == ["t.zip"]


def test_symlink_member_is_refused(tmp_path):
    z = make_zip(tmp_path / "s.zip", {"a.csv": b"x"}, symlinks={"link": "/etc/passwd"})
    with pytest.raises(ArchiveError, match="symbolic link"):
        extract_all(z, tmp_path / "out", max_bytes=MB)
    with pytest.raises(ArchiveError, match="symbolic link"):
        extract_member(z, "link", tmp_path / "out", max_bytes=MB)
    assert not (tmp_path / "out").exists() or files_under(tmp_path / "out") == []


def test_bomb_refused_by_declared_size_under_a_small_cap(tmp_path, bomb_zip):
    with pytest.raises(ArchiveError, match="exceeds the limit"):
        extract_member(bomb_zip, "zeros.csv", tmp_path / "out", max_bytes=10 * MB)
    assert not (tmp_path / "out").exists() or files_under(tmp_path / "out") == []


def test_bomb_refused_by_ratio_even_under_a_large_cap(tmp_path, bomb_zip):
    with pytest.raises(ArchiveError, match="compresses .*:1"):
        extract_all(bomb_zip, tmp_path / "out", max_bytes=200 * MB)
    # A generous ratio lets the same file through: the ratio is what refused it.
    out = extract_member(bomb_zip, "zeros.csv", tmp_path / "ok", max_bytes=200 * MB, max_ratio=10_000)
    assert out.stat().st_size == 50 * MB


def test_small_repetitive_members_are_not_mistaken_for_bombs(tmp_path):
    z = make_zip(tmp_path / "r.zip", {"zeros.csv": b"0," * 200_000})  # 400 kB, ratio ~ 500:1
    out = extract_member(z, "zeros.csv", tmp_path / "out", max_bytes=MB)
    assert out.stat().st_size == 400_000


def test_total_cap_applies_across_members(tmp_path):
    z = make_zip(tmp_path / "two.zip", {"a.bin": bytes(range(256)) * 2000, "b.bin": bytes(range(256)) * 2000})
    each = 256 * 2000
    extract_members(z, ["a.bin", "b.bin"], tmp_path / "ok", max_bytes=2 * each)
    with pytest.raises(ArchiveError, match="exceeds the limit"):
        extract_members(z, ["a.bin", "b.bin"], tmp_path / "no", max_bytes=2 * each - 1)


def _patch_uncompressed_size(data: bytes, new_size: int) -> bytes:
    """Make both the local and the central header under-state the member's size."""
    buf = bytearray(data)
    local = buf.find(b"PK\x03\x04")
    struct.pack_into("<I", buf, local + 22, new_size)
    central = buf.find(b"PK\x01\x02")
    struct.pack_into("<I", buf, central + 24, new_size)
    return bytes(buf)


def test_lying_header_is_caught_while_extracting_and_leaves_nothing(tmp_path):
    real = b"E09000001,City of London,7375\n" * 20_000  # 600 kB, honestly stated below 1 kB
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.csv", real)
    z = tmp_path / "liar.zip"
    z.write_bytes(_patch_uncompressed_size(raw.getvalue(), 1000))
    with zipfile.ZipFile(z) as zf:
        assert zf.getinfo("data.csv").file_size == 1000  # the lie is what the header says
    with pytest.raises(ArchiveError, match="data.csv"):
        extract_member(z, "data.csv", tmp_path / "out", max_bytes=MB)
    assert files_under(tmp_path / "out") == []


def test_extract_all_keeps_folders(tmp_path):
    z = make_zip(tmp_path / "a.zip", {"top.txt": b"t", "dir/sub/x.csv": b"x", "__MACOSX/._x": b"m"})
    out = extract_all(z, tmp_path / "out", max_bytes=MB)
    assert files_under(tmp_path / "out") == ["__MACOSX/._x", "dir/sub/x.csv", "top.txt"]
    assert (tmp_path / "out" / "dir" / "sub" / "x.csv").read_bytes() == b"x"
    assert len(out) == 3


def test_obvious_member_and_sidecars(tmp_path):
    shp = make_zip(tmp_path / "shp.zip", {
        "bounds/a.shp": b"s", "bounds/a.dbf": b"d", "bounds/a.shx": b"x", "bounds/a.prj": b"p",
        "bounds/readme.pdf": b"r", "__MACOSX/bounds/._a.shp": b"m",
    })
    assert obvious_member(shp) == "bounds/a.shp"
    assert sorted(sidecar_members(shp, "bounds/a.shp")) == ["bounds/a.dbf", "bounds/a.prj", "bounds/a.shx"]
    assert member_dir("bounds/a.shp") == "bounds" and member_dir("a.shp") == ""

    two = make_zip(tmp_path / "two.zip", {"a.csv": b"a", "b.csv": b"b"})
    assert obvious_member(two) is None
    mixed = make_zip(tmp_path / "mixed.zip", {"a.csv": b"a", "b.geojson": b"{}"})
    assert obvious_member(mixed) is None
    assert obvious_member(mixed, "geojson") == "b.geojson"
    one = make_zip(tmp_path / "one.zip", {"only/thing.dat": b"z"})
    assert obvious_member(one) == "only/thing.dat"
    assert list_members(one) == ["only/thing.dat"]
