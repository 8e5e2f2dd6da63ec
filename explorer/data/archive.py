"""Safe extraction from zip files downloaded from untrusted sources.

Refused: member names that are absolute (``/x``, ``C:\\x``, ``\\\\server\\x``) or contain ``..``;
symbolic links; encrypted members; decompression bombs: more than ``max_bytes`` uncompressed in
total, or a compression ratio over ``max_ratio`` for a member bigger than ``ratio_floor`` bytes.
Sizes are checked twice: the sizes the zip declares, and the bytes actually written, because a
header can lie. Each file is written to a temporary name in the destination folder and renamed
into place only when complete, so a failure never leaves a partial file under the real name.
"""

from __future__ import annotations

import gzip
import os
import re
import stat
import tempfile
import uuid
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO

_CHUNK = 1 << 16
_DATA_SUFFIXES = (".geojson", ".json", ".topojson", ".gpkg", ".shp", ".tab", ".csv", ".tsv",
                  ".fgb", ".parquet", ".kml", ".xlsx", ".xls", ".txt")
_SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg", ".sbn", ".sbx", ".qix", ".shp.xml")
_MAPINFO_SIDECARS = (".dat", ".id", ".map", ".ind")


class ArchiveError(ValueError):
    """A zip (or one of its members) that will not be extracted, with the reason."""


def _member_parts(name: str, zip_path: Path | None = None) -> tuple[str, ...]:
    """Check a member name and return its path components; ArchiveError if unsafe."""
    try:
        return _check_member_name(name)
    except ArchiveError as exc:
        if zip_path is None:
            raise
        raise ArchiveError(f"{zip_path}: {exc}") from None


def _check_member_name(name: str) -> tuple[str, ...]:
    if not name or "\x00" in name:
        raise ArchiveError(f"member {name!r}: empty or invalid name")
    text = name.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise ArchiveError(f"member {name!r}: absolute path refused")
    parts = tuple(p for p in text.split("/") if p not in ("", "."))
    if any(p == ".." for p in parts):
        raise ArchiveError(f"member {name!r}: '..' in path refused")
    if not parts:
        raise ArchiveError(f"member {name!r}: empty path")
    return parts


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return stat.S_ISLNK(mode)


def _open_zip(zip_path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"{zip_path}: not a readable zip file ({exc})") from None


def _is_noise(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return "__MACOSX" in parts or parts[-1].startswith(".") or parts[-1] in ("Thumbs.db", "desktop.ini")


def list_members(zip_path: Path) -> list[str]:
    """Names of the file members (not folders), in archive order."""
    with _open_zip(Path(zip_path)) as zf:
        return [i.filename for i in zf.infolist() if not i.is_dir()]


def obvious_member(zip_path: Path, fmt: str | None = None) -> str | None:
    """The member to read when the registry does not name one, or None when it is not obvious.

    Obvious means: the only file; or the only file with the wanted format's suffix; or the only
    file with a data suffix (a shapefile's sidecars do not count against its ``.shp``).
    """
    names = [n for n in list_members(zip_path) if not _is_noise(n)]
    if len(names) == 1:
        return names[0]
    lower = [(n, n.lower()) for n in names]
    if fmt and fmt != "zip":
        wanted = [n for n, low in lower if low.endswith("." + fmt.lower())]
        if len(wanted) == 1:
            return wanted[0]
    candidates = [n for n, low in lower if low.endswith(_DATA_SUFFIXES)
                  and not low.endswith(".shp.xml")]
    shapefiles = [n for n in candidates if n.lower().endswith(".shp")]
    if len(shapefiles) == 1:
        stem = shapefiles[0][:-4].lower()
        others = [n for n in candidates if not n.lower().startswith(stem)]
        if not others:
            return shapefiles[0]
    if len(candidates) == 1:
        return candidates[0]
    return None


def sidecar_members(zip_path: Path, member: str) -> list[str]:
    """Members that belong beside ``member`` (a shapefile's .dbf/.shx/.prj…, MapInfo's .dat/.id…)."""
    low = member.lower()
    if low.endswith(".shp"):
        suffixes = _SHAPEFILE_SIDECARS
    elif low.endswith(".tab"):
        suffixes = _MAPINFO_SIDECARS
    else:
        return []
    stem = member[: member.rfind(".")].lower()
    out = []
    for name in list_members(zip_path):
        nlow = name.lower()
        if name != member and nlow.startswith(stem) and nlow[len(stem):] in suffixes:
            out.append(name)
    return out


def _check_declared(infos: list[zipfile.ZipInfo], max_bytes: int, max_ratio: float,
                    ratio_floor: int, zip_path: Path) -> None:
    total = 0
    for info in infos:
        _member_parts(info.filename, zip_path)
        if _is_symlink(info):
            raise ArchiveError(f"{zip_path}: member {info.filename!r} is a symbolic link; refused")
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{zip_path}: member {info.filename!r} is encrypted; refused")
        total += info.file_size
        if total > max_bytes:
            raise ArchiveError(f"{zip_path}: uncompressed size {total:,} bytes exceeds the limit of "
                               f"{max_bytes:,} bytes (possible decompression bomb)")
        if info.file_size > ratio_floor:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > max_ratio:
                raise ArchiveError(f"{zip_path}: member {info.filename!r} compresses {ratio:,.0f}:1, "
                                   f"over the limit of {max_ratio:g}:1 (possible decompression bomb)")


def _extract_one(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int,
                 max_ratio: float, ratio_floor: int, zip_path: Path) -> int:
    """Stream one member to ``target`` via a temporary file; return the bytes written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.part-{uuid.uuid4().hex[:10]}"
    written = 0
    try:
        with zf.open(info) as src, open(tmp, "wb") as dst:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > info.file_size:
                    raise ArchiveError(f"{zip_path}: member {info.filename!r} is larger than its header "
                                       f"says ({info.file_size:,} bytes); refused")
                if written > budget:
                    raise ArchiveError(f"{zip_path}: extracting {info.filename!r} exceeds the limit on "
                                       f"uncompressed bytes (possible decompression bomb)")
                if written > ratio_floor and written / max(info.compress_size, 1) > max_ratio:
                    raise ArchiveError(f"{zip_path}: member {info.filename!r} expands over "
                                       f"{max_ratio:g}:1 (possible decompression bomb)")
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, target)
    except ArchiveError:
        tmp.unlink(missing_ok=True)
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError, EOFError,
            zlib.error) as exc:
        tmp.unlink(missing_ok=True)
        raise ArchiveError(f"{zip_path}: member {info.filename!r} could not be extracted ({exc})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return written


def extract_member(zip_path: Path, member: str, dest_dir: Path, max_bytes: int,
                   max_ratio: float = 100, ratio_floor: int = 1 << 20) -> Path:
    """Extract one member to ``dest_dir / <its base name>`` and return that path.

    ``max_bytes`` caps the uncompressed size; ``max_ratio`` the compression ratio of members bigger
    than ``ratio_floor`` bytes (small, very repetitive files are harmless).
    """
    return extract_members(zip_path, [member], dest_dir, max_bytes, max_ratio, ratio_floor)[0]


def extract_members(zip_path: Path, members: list[str], dest_dir: Path, max_bytes: int,
                    max_ratio: float = 100, ratio_floor: int = 1 << 20) -> list[Path]:
    """Extract several members flat into ``dest_dir`` (by base name); the size cap is for all."""
    zip_path, dest_dir = Path(zip_path), Path(dest_dir)
    with _open_zip(zip_path) as zf:
        infos = []
        for member in members:
            _member_parts(member, zip_path)
            try:
                info = zf.getinfo(member)
            except KeyError:
                raise ArchiveError(f"{zip_path}: no member {member!r}") from None
            if info.is_dir():
                raise ArchiveError(f"{zip_path}: member {member!r} is a folder, not a file")
            infos.append(info)
        _check_declared(infos, max_bytes, max_ratio, ratio_floor, zip_path)
        names = [_member_parts(i.filename)[-1] for i in infos]
        if len(set(names)) != len(names):
            raise ArchiveError(f"{zip_path}: members {members!r} share a file name")
        out: list[Path] = []
        budget = max_bytes
        for info, name in zip(infos, names):
            target = dest_dir / name
            budget -= _extract_one(zf, info, target, budget, max_ratio, ratio_floor, zip_path)
            out.append(target)
        return out


def extract_all(zip_path: Path, dest_dir: Path, max_bytes: int, max_ratio: float = 100,
                ratio_floor: int = 1 << 20) -> list[Path]:
    """Extract every file member under ``dest_dir``, keeping the archive's folders.

    Every member is checked before anything is written; a single unsafe member refuses the lot.
    """
    zip_path, dest_dir = Path(zip_path), Path(dest_dir)
    with _open_zip(zip_path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        for info in zf.infolist():
            _member_parts(info.filename, zip_path)
        _check_declared(infos, max_bytes, max_ratio, ratio_floor, zip_path)
        root = dest_dir.resolve()
        out: list[Path] = []
        budget = max_bytes
        for info in infos:
            target = root.joinpath(*_member_parts(info.filename, zip_path))
            if not target.resolve().is_relative_to(root):  # e.g. an existing symlinked folder
                raise ArchiveError(f"{zip_path}: member {info.filename!r} would land outside {root}")
            budget -= _extract_one(zf, info, target, budget, max_ratio, ratio_floor, zip_path)
            out.append(target)
        return out


# ------------------------------------------------------------------------------- container checks
# Every way into a compressed container goes through ``check_container`` before a reader opens it:
# a zip (whatever its name: .zip, .kmz, .xlsx, .ods, .jar…), zips nested in it, and gzip streams.
# Decompressed bytes are counted as they stream, never taken from the headers alone; the total over
# every level counts against ``max_bytes``, so a zip of zips of zips cannot multiply its way past it.

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_GZIP_MAGIC = b"\x1f\x8b"
_SPOOL_IN_MEMORY = 8 << 20      # a nested zip smaller than this is checked in memory
_MAX_DEPTH = 4                  # zips nested deeper than this are refused outright
_RATIO_FLOOR = 1 << 20          # small, very repetitive members are harmless


def container_kind(path: Path) -> str | None:
    """'zip' or 'gzip' when the file's content (not its name) is one, else None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return None
    if head[:2] == _GZIP_MAGIC:
        return "gzip"
    if head in _ZIP_MAGIC or (head[:2] == b"PK" and zipfile.is_zipfile(path)):
        return "zip"
    return None


class _Budget:
    """Decompressed bytes left for the whole container, over every nesting level."""

    def __init__(self, label: str, max_bytes: int, max_ratio: float) -> None:
        self.label, self.max_bytes, self.max_ratio = label, max_bytes, max_ratio
        self.used = 0

    def spend(self, n: int, where: str) -> None:
        self.used += n
        if self.used > self.max_bytes:
            raise ArchiveError(f"{self.label}: {where} decompresses to more than {self.max_bytes:,} "
                               f"bytes, the limit (EXPLORER_MAX_DOWNLOAD_BYTES); refused as a "
                               f"possible decompression bomb")

    def ratio(self, out: int, packed: int, where: str) -> None:
        if out > _RATIO_FLOOR and out / max(packed, 1) > self.max_ratio:
            raise ArchiveError(f"{self.label}: {where} expands more than {self.max_ratio:g}:1, the "
                               f"limit on the compression ratio; refused as a possible "
                               f"decompression bomb")


def _drain(src: IO[bytes], budget: _Budget, packed: int, where: str,
           sink: IO[bytes] | None = None) -> int:
    """Read ``src`` to the end, counting bytes against the budget and the ratio; return the count."""
    out = 0
    while chunk := src.read(_CHUNK):
        out += len(chunk)
        budget.spend(len(chunk), where)
        budget.ratio(out, packed, where)
        if sink is not None:
            sink.write(chunk)
    return out


def _check_zip(zf: zipfile.ZipFile, budget: _Budget, packed_total: int, prefix: str,
               depth: int) -> int:
    """Stream every member of ``zf`` (recursing into nested zips); return the leaf bytes."""
    leaf = 0
    for info in zf.infolist():
        if info.is_dir():
            continue
        where = f"member {prefix + info.filename!r}"
        try:
            _check_member_name(info.filename)
        except ArchiveError as exc:
            raise ArchiveError(f"{budget.label}: {exc}") from None
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{budget.label}: {where} is encrypted; refused")
        # the declared sizes first: a cheap refusal for an honest bomb
        if info.file_size > budget.max_bytes:
            raise ArchiveError(f"{budget.label}: {where} declares {info.file_size:,} bytes, over the "
                               f"limit of {budget.max_bytes:,} bytes (EXPLORER_MAX_DOWNLOAD_BYTES); "
                               "refused as a possible decompression bomb")
        budget.ratio(info.file_size, info.compress_size, where)
        try:
            with zf.open(info) as src:
                head = src.read(4)
                nested = head in _ZIP_MAGIC
                if not nested:
                    budget.spend(len(head), where)
                    n = len(head) + _drain(src, budget, info.compress_size, where)
                    budget.ratio(n, info.compress_size, where)
                    leaf += n
                    continue
                if depth >= _MAX_DEPTH:
                    raise ArchiveError(f"{budget.label}: {where} is a zip nested more than "
                                       f"{_MAX_DEPTH} levels deep; refused")
                with tempfile.SpooledTemporaryFile(_SPOOL_IN_MEMORY) as spool:
                    spool.write(head)
                    budget.spend(len(head), where)
                    _drain(src, budget, info.compress_size, where, sink=spool)
                    spool.seek(0)
                    try:
                        inner = zipfile.ZipFile(spool)
                    except zipfile.BadZipFile:      # starts like a zip but is not one: plain data
                        continue
                    with inner:
                        leaf += _check_zip(inner, budget, packed_total,
                                           f"{prefix}{info.filename}!", depth + 1)
        except ArchiveError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError,
                EOFError, OSError, zlib.error) as exc:
            raise ArchiveError(f"{budget.label}: {where} could not be read ({exc})") from None
    return leaf


def check_container(path: Path, *, max_bytes: int, max_ratio: float,
                    label: str | None = None) -> None:
    """Refuse a compressed container whose content exceeds the limits; None for other files.

    A zip-family file (zip, kmz, xlsx, ods, jar… detected by content, not by name) has each member
    streamed and counted, recursing into zips nested in it; a gzip stream is counted the same way.
    ``max_bytes`` caps the decompressed bytes over every level together; ``max_ratio`` caps the
    expansion of each member and of the whole container (beyond 1 MB: small, repetitive files are
    harmless). Raises ArchiveError naming ``label`` (default: the path) and the limit broken.
    Memory stays bounded: nothing is held whole except a nested zip under 8 MB.
    """
    path = Path(path)
    kind = container_kind(path)
    if kind is None:
        return None
    budget = _Budget(label or str(path), max_bytes, max_ratio)
    packed = max(path.stat().st_size, 1)
    if kind == "gzip":
        try:
            with gzip.open(path, "rb") as src:
                _drain(src, budget, packed, "the gzip stream")
        except ArchiveError:
            raise
        except (OSError, EOFError, zlib.error) as exc:
            raise ArchiveError(f"{budget.label}: not a readable gzip file ({exc}); it may be "
                               "truncated") from None
        return None
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"{budget.label}: not a readable zip file ({exc})") from None
    with zf:
        leaf = _check_zip(zf, budget, packed, "", 0)
    budget.ratio(leaf, packed, "the archive as a whole")
    return None


def member_dir(member: str) -> str:
    """The folder of a member inside the archive ('' at the top)."""
    parent = str(PurePosixPath(member.replace("\\", "/")).parent)
    return "" if parent == "." else parent
