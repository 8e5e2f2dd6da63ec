"""Geography: the boundary sets, GSS code detection, and joining a table to the right boundaries.

A table is joined to the boundary set whose *actual codes* it matches best, not to the first set
with the right code prefix: LSOA 2011 and LSOA 2021 codes both start with E01 and most of them are
the same, so only the whole set of codes tells a 2011 table from a 2021 one. The join never
half-joins silently: the :class:`JoinReport` says how many codes matched, which did not, which
boundary features got no data and which rows were dropped as outside London, and a join whose
match rate is below a floor is refused with a :class:`JoinError` naming the column and the best
candidate.

Boundary frames come in through callables (``boundary_codes`` / ``load_boundary``), so this module
does not depend on how files are found or read.
"""

from __future__ import annotations

import importlib.resources
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import pandas as pd
import yaml

from explorer.catalogue.models import GEOGRAPHY_LEVELS
from explorer.data.geo_reference import GSS_RE

__all__ = [
    "GSS_RE", "BoundarySet", "BoundaryRegistry", "BoundaryConfigError", "CodeColumn",
    "detect_code_columns", "SetScore", "JoinReport", "JoinError", "choose_boundary_set",
    "join_to_boundaries", "describe_prefix", "gss_prefix",
]


WARN_RATE = 0.9          # below this match rate (or coverage) the report warns
MIN_MATCH_RATE = 0.5     # below this match rate a join is refused
NATIONAL_COVERAGE = 0.95  # a table covering this share of London may be a national table …
NATIONAL_EXTRA = 2.0      # … when it has at least this many times as many codes unknown to London
KEY_LIKE_SHARE = 0.8     # a column with this share of the most codes is a candidate key column
EXAMPLES = 10
AGGREGATES = ("sum", "mean", "first", "long")  # long: keep every row, each with its geometry

# GSS entity codes (first three characters) and what they name.
_ENTITY_NAMES = {
    "E00": "output area", "W00": "output area", "S00": "output area", "N00": "small area",
    "E01": "LSOA", "W01": "LSOA", "S01": "data zone",
    "E02": "MSOA", "W02": "MSOA", "S02": "intermediate zone",
    "E04": "parish", "W04": "community",
    "E05": "electoral ward", "W05": "electoral ward", "S13": "electoral ward", "N08": "electoral ward",
    "E06": "unitary authority", "E07": "non-metropolitan district", "E08": "metropolitan district",
    "E09": "London borough", "W06": "unitary authority", "S12": "council area",
    "N09": "local government district",
    "E10": "county", "E11": "metropolitan county", "E12": "region", "E13": "Inner/Outer London",
    "E14": "parliamentary constituency",
    "E92": "country", "W92": "country", "S92": "country", "N92": "country",
    "K02": "United Kingdom", "K03": "Great Britain", "K04": "England and Wales",
}
# Local-authority-district level codes: a column of these says which district a row is in.
DISTRICT_PREFIXES = frozenset({"E06", "E07", "E08", "E09", "W06", "S12", "N09"})
# Fineness (smaller = finer); default is the entity number, e.g. E05 -> 5.
_RANK_OVERRIDES = {"S13": 5, "N08": 5, "E06": 9, "E07": 9, "E08": 9, "W06": 9, "S12": 9,
                   "N09": 9, "K02": 99, "K03": 99, "K04": 99}


def gss_prefix(code: object) -> str | None:
    """The entity prefix (``E09``) of a GSS code, or None when ``code`` is not one."""
    if not isinstance(code, str):
        return None
    text = code.strip().upper()
    return text[:3] if GSS_RE.match(text) else None


def describe_prefix(prefix: str) -> str:
    return _ENTITY_NAMES.get(prefix, "unknown entity")


def _rank(prefix: str) -> int:
    if prefix in _RANK_OVERRIDES:
        return _RANK_OVERRIDES[prefix]
    try:
        return int(prefix[1:])
    except ValueError:
        return 100


# ------------------------------------------------------------------------------------------------
# Boundary registry
# ------------------------------------------------------------------------------------------------
class BoundaryConfigError(ValueError):
    """The boundary set declarations are wrong; names the file, the set and the field."""


_SET_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_PREFIX_RE = re.compile(r"^[EWSNK]\d{2}$")


@dataclass
class BoundarySet:
    id: str
    title: str
    level: str
    code_prefix: str
    year: int
    dataset_id: str
    resource_id: str | None
    code_column: str
    name_column: str
    expected_count: int
    valid_years: tuple[int, int | None] | None = None   # last None = still current
    default: bool = False
    code_aliases: dict[str, str] = field(default_factory=dict)  # table code -> feature code
    description: str = ""
    caveat: str = ""            # shown wherever a table joined to this set is shown
    derived_from: Any = None    # explorer.geo.derived_boundaries.DerivedSpec: built at run time

    @property
    def derived(self) -> bool:
        return self.derived_from is not None

    def valid_in(self, year: int) -> bool:
        first, last = self.valid_years or (self.year, None)
        return year >= first and (last is None or year <= last)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["valid_years"] = list(self.valid_years) if self.valid_years else None
        return data

    @classmethod
    def from_dict(cls, data: object, index: int = 0, source: str = "<boundaries>") -> "BoundarySet":
        if not isinstance(data, dict):
            raise BoundaryConfigError(f"{source}: sets[{index}]: expected a mapping")
        set_id = data.get("id")
        where = f"{source}: set {set_id!r}" if set_id else f"{source}: sets[{index}]"

        def fail(fname: str, message: str) -> BoundaryConfigError:
            return BoundaryConfigError(f"{where}, field {fname!r}: {message}")

        if not isinstance(set_id, str) or not _SET_ID_RE.match(set_id):
            raise fail("id", f"missing or not a lower-case identifier: {set_id!r}")
        for name in ("title", "dataset_id", "code_column", "name_column"):
            value = data.get(name)
            if not isinstance(value, str) or not value.strip():
                raise fail(name, "missing or empty")
        level = str(data.get("level") or "").strip().lower()
        if level not in GEOGRAPHY_LEVELS:
            raise fail("level", f"must be one of {', '.join(GEOGRAPHY_LEVELS)}, got {level!r}")
        prefix = str(data.get("code_prefix") or "").strip().upper()
        if not _PREFIX_RE.match(prefix):
            raise fail("code_prefix", f"not a GSS entity code like E09: {data.get('code_prefix')!r}")
        year = data.get("year")
        if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100:
            raise fail("year", f"expected a year, got {year!r}")
        count = data.get("expected_count")
        if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
            raise fail("expected_count", f"expected a positive number of features, got {count!r}")
        resource_id = data.get("resource_id")
        if resource_id is not None and (not isinstance(resource_id, str) or not resource_id.strip()):
            raise fail("resource_id", f"expected a resource id or null, got {resource_id!r}")
        valid = data.get("valid_years")
        valid_years = None
        if valid is not None:
            if (not isinstance(valid, (list, tuple)) or len(valid) != 2
                    or not isinstance(valid[0], int) or isinstance(valid[0], bool)
                    or not (valid[1] is None or (isinstance(valid[1], int) and not isinstance(valid[1], bool)))):
                raise fail("valid_years", f"expected [first, last] (last may be null), got {valid!r}")
            if valid[1] is not None and valid[1] < valid[0]:
                raise fail("valid_years", f"last year {valid[1]} is before first year {valid[0]}")
            valid_years = (valid[0], valid[1])
        default = data.get("default", False)
        if not isinstance(default, bool):
            raise fail("default", f"expected true or false, got {default!r}")
        aliases_raw = data.get("code_aliases") or {}
        if not isinstance(aliases_raw, dict):
            raise fail("code_aliases", "expected a mapping of table code -> feature code")
        aliases: dict[str, str] = {}
        for key, value in aliases_raw.items():
            k, v = str(key).strip().upper(), str(value).strip().upper()
            if not GSS_RE.match(k) or not GSS_RE.match(v):
                raise fail("code_aliases", f"not GSS codes: {key!r}: {value!r}")
            if not v.startswith(prefix):
                raise fail("code_aliases", f"target {v} does not have the set's prefix {prefix}")
            aliases[k] = v
        caveat = data.get("caveat") or ""
        if not isinstance(caveat, str):
            raise fail("caveat", f"expected text, got {caveat!r}")
        derived = None
        if data.get("derived_from") is not None:
            from explorer.geo.derived_boundaries import DerivationError, DerivedSpec

            try:
                derived = DerivedSpec.from_dict(data["derived_from"], where)
            except DerivationError as exc:
                raise BoundaryConfigError(str(exc)) from None
        return cls(
            id=set_id, title=data["title"].strip(), level=level, code_prefix=prefix, year=year,
            dataset_id=data["dataset_id"].strip(),
            resource_id=resource_id.strip() if isinstance(resource_id, str) else None,
            code_column=data["code_column"], name_column=data["name_column"],
            expected_count=count, valid_years=valid_years, default=default,
            code_aliases=aliases, description=str(data.get("description") or "").strip(),
            caveat=" ".join(caveat.split()), derived_from=derived,
        )


class BoundaryRegistry:
    """The declared boundary sets (``geodata/boundaries.yaml``)."""

    def __init__(self, sets: Iterable[BoundarySet], area_name: str = "London",
                 district_prefix: str | None = "E09", source: str = "<memory>"):
        self._sets: list[BoundarySet] = list(sets)
        self.area_name = area_name
        self.district_prefix = district_prefix
        self.source = source
        seen: set[str] = set()
        defaults: dict[str, str] = {}
        for bset in self._sets:
            if bset.id in seen:
                raise BoundaryConfigError(f"{source}: set {bset.id!r} is declared twice")
            seen.add(bset.id)
            if bset.default:
                if bset.code_prefix in defaults:
                    raise BoundaryConfigError(
                        f"{source}: set {bset.id!r}, field 'default': {defaults[bset.code_prefix]!r} "
                        f"is already the default for {bset.code_prefix}")
                defaults[bset.code_prefix] = bset.id
        self._by_id = {s.id: s for s in self._sets}

    @classmethod
    def bundled(cls) -> "BoundaryRegistry":
        text = importlib.resources.files("geodata").joinpath("boundaries.yaml").read_text("utf-8")
        return cls.from_yaml(text, source="geodata/boundaries.yaml")

    @classmethod
    def from_yaml(cls, text: str, source: str = "<yaml>") -> "BoundaryRegistry":
        try:
            # libyaml's loader when PyYAML has it (ten times faster; every DataService reads this)
            data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as exc:
            raise BoundaryConfigError(f"{source}: not valid YAML: {exc}") from None
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: object, source: str = "<boundaries>") -> "BoundaryRegistry":
        if not isinstance(data, dict):
            raise BoundaryConfigError(f"{source}: expected a mapping with 'sets'")
        raw_sets = data.get("sets")
        if not isinstance(raw_sets, list) or not raw_sets:
            raise BoundaryConfigError(f"{source}: field 'sets': expected a non-empty list")
        area = data.get("area") or {}
        if not isinstance(area, dict):
            raise BoundaryConfigError(f"{source}: field 'area': expected a mapping")
        district = area.get("district_prefix", "E09")
        if district is not None and not _PREFIX_RE.match(str(district)):
            raise BoundaryConfigError(f"{source}: field 'area.district_prefix': not like E09: {district!r}")
        sets = [BoundarySet.from_dict(item, i, source) for i, item in enumerate(raw_sets)]
        return cls(sets, area_name=str(area.get("name") or "London"),
                   district_prefix=str(district) if district else None, source=source)

    def sets(self) -> list[BoundarySet]:
        return list(self._sets)

    def get(self, set_id: str) -> BoundarySet:
        try:
            return self._by_id[set_id]
        except KeyError:
            raise LookupError(f"unknown boundary set {set_id!r}; known: {', '.join(self._by_id)}") from None

    def _ordered(self, sets: list[BoundarySet]) -> list[BoundarySet]:
        return sorted(sets, key=lambda s: (not s.default, self._sets.index(s)))

    def for_prefix(self, prefix: str) -> list[BoundarySet]:
        """Sets whose features carry ``prefix`` codes, the default first."""
        prefix = prefix.strip().upper()
        return self._ordered([s for s in self._sets if s.code_prefix == prefix])

    def for_level(self, level: str, year: int | None = None) -> list[BoundarySet]:
        """Sets of a level (optionally valid in ``year``), the default first."""
        found = [s for s in self._sets if s.level == level and (year is None or s.valid_in(year))]
        return self._ordered(found)

    def default_for(self, prefix: str) -> BoundarySet | None:
        found = self.for_prefix(prefix)
        return found[0] if found else None

    def prefixes(self) -> list[str]:
        return list(dict.fromkeys(s.code_prefix for s in self._sets))

    def __iter__(self):
        return iter(self._sets)

    def __len__(self) -> int:
        return len(self._sets)


# ------------------------------------------------------------------------------------------------
# Code column detection
# ------------------------------------------------------------------------------------------------
@dataclass
class CodeColumn:
    column: Any                 # the column label (a string for files read from disk)
    prefix: str                 # prefix with the most distinct codes
    n_codes: int                # distinct GSS codes
    share: float                # share of non-null values that look like GSS codes
    n_rows: int = 0             # rows holding a GSS code
    prefixes: dict[str, int] = field(default_factory=dict)  # distinct codes per prefix

    @property
    def unique(self) -> bool:
        return self.n_rows == self.n_codes

    @property
    def entity(self) -> str:
        return describe_prefix(self.prefix)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["column"] = str(self.column)
        return data


def _is_text_column(series: pd.Series) -> bool:
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype) or dtype == object:
        return True
    return isinstance(dtype, pd.CategoricalDtype)


def _normalise(series: pd.Series) -> pd.Series:
    """Upper-cased, stripped GSS codes; NA where a value is not a GSS code."""
    def code(value: object) -> str | None:
        if value is None or (isinstance(value, float) and value != value):  # None, NaN
            return None
        return _norm_one(value if isinstance(value, str) else str(value))

    return pd.Series([code(v) for v in series.tolist()], index=series.index, dtype="string")


def _value_counts(series: pd.Series) -> dict[str, int]:
    """Rows per stripped, upper-cased non-empty value, counting each distinct raw value once
    (a code column is mostly distinct values, a label column mostly repeats)."""
    values = series.dropna()
    try:
        raw = values.value_counts(sort=False)
    except TypeError:  # unhashable values (lists …): count their text
        raw = values.astype("string").value_counts(sort=False)
    counts: dict[str, int] = {}
    for value, n in zip(raw.index.tolist(), raw.to_numpy().tolist()):
        if not n:
            continue  # a category no row uses
        text = (value if isinstance(value, str) else str(value)).strip().upper()
        if text:
            counts[text] = counts.get(text, 0) + n
    return counts


def detect_code_columns(df: pd.DataFrame, min_share: float = 0.5) -> list[CodeColumn]:
    """Columns holding GSS codes (``^[EWSNK]\\d{8}$``), best first.

    Best = finest geography (LSOA before MSOA before ward before borough), then more distinct
    codes, then a larger share of code-like values, then column order.
    """
    found: list[tuple[tuple, CodeColumn]] = []
    for position, column in enumerate(df.columns):
        series = df[column]
        if isinstance(series, pd.DataFrame) or not _is_text_column(series):
            continue  # duplicate labels, numbers, dates, geometry
        counts = _value_counts(series)
        if not counts:
            continue
        codes = [value for value in counts if GSS_RE.match(value)]
        n_codes = len(codes)
        if not n_codes:
            continue
        n_rows = sum(counts[value] for value in codes)
        share = n_rows / sum(counts.values())
        if share < min_share:
            continue
        prefixes = Counter(code[:3] for code in codes)
        prefix = max(prefixes, key=lambda p: (prefixes[p], -_rank(p)))
        col = CodeColumn(column=column, prefix=prefix, n_codes=n_codes, share=round(share, 4),
                         n_rows=n_rows, prefixes=dict(prefixes.most_common()))
        found.append(((_rank(prefix), -n_codes, -share, position), col))
    found.sort(key=lambda item: item[0])
    return [col for _, col in found]


_YEAR4_RE = re.compile(r"(?<!\d)(19[5-9]\d|20\d\d)(?!\d)")
_YEAR2_RE = re.compile(r"(?i)(?:lsoa|msoa|lad|wd|ward|oa|utla|ltla|cty|rgn|ctry|pcon|lau)(\d\d)(?:cd|nm|code)?(?![0-9])")


def _year_hint(column: object) -> int | None:
    """A boundary year named by a column ('LSOA11CD' -> 2011, 'LSOA code (2011)' -> 2011)."""
    name = str(column)
    match = _YEAR4_RE.search(name)
    if match:
        return int(match.group(1))
    match = _YEAR2_RE.search(name)
    if match:
        return 2000 + int(match.group(1))
    return None


# ------------------------------------------------------------------------------------------------
# Scoring a column against boundary sets
# ------------------------------------------------------------------------------------------------
@dataclass
class SetScore:
    """How well one column's codes fit one boundary set (codes are counted distinct)."""

    boundary_set: str
    column: str
    matched: int                 # table codes found in the set (= features with data)
    unmatched: int               # in-area table codes not in the set
    outside: int                 # codes taken to be outside the area or of another level
    boundary_features: int
    match_rate: float            # matched / (matched + unmatched)
    coverage: float              # matched / boundary_features
    year_hint: int | None = None
    national_assumed: bool = False
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Fit:
    """The row-level classification behind a SetScore."""

    bset: BoundarySet
    column: CodeColumn
    bcodes: frozenset
    mapped: pd.Series            # normalised code per row after aliases (NA = no code)
    in_scope: pd.Series          # row is of this level and in the area
    outside_rows: pd.Series      # row dropped as outside the area / another level
    matched: set
    unmatched: set
    outside_codes: set
    national: bool
    aliases_used: dict
    area_column: str | None
    score: SetScore


def _area_flags(df: pd.DataFrame, column: CodeColumn, columns: list[CodeColumn],
                district_prefix: str | None) -> tuple[pd.Series | None, str | None]:
    """Rows whose district column (beside a finer code column) says they are not in the area."""
    if not district_prefix or _rank(column.prefix) >= _rank(district_prefix):
        return None, None
    for other in columns:
        if other.column == column.column:
            continue
        district_codes = sum(n for p, n in other.prefixes.items() if p in DISTRICT_PREFIXES)
        if district_codes / max(other.n_codes, 1) < 0.9:
            continue
        values = _normalise(df[other.column])
        outside = values.notna() & ~values.str.startswith(district_prefix).fillna(False).astype(bool)
        return outside.astype(bool), str(other.column)
    return None, None


def _fit(df: pd.DataFrame, column: CodeColumn, codes: pd.Series, bset: BoundarySet,
         bcodes: frozenset, known: frozenset, area_outside: pd.Series | None,
         area_column: str | None) -> _Fit:
    present = set(codes.dropna().unique())
    aliases = {k: v for k, v in bset.code_aliases.items() if k in present and v not in present}
    mapped = codes.replace(aliases) if aliases else codes
    has_code = mapped.notna()
    same_level = mapped.str.startswith(bset.code_prefix).fillna(False).astype(bool)
    out_rows = has_code & ~same_level
    in_scope = same_level
    if area_outside is not None:
        out_rows = out_rows | (same_level & area_outside)
        in_scope = same_level & ~area_outside
    distinct = set(mapped[in_scope].unique())
    matched = distinct & bcodes
    rest = distinct - bcodes
    unknown = rest - known
    coverage = len(matched) / len(bcodes) if bcodes else 0.0
    national = (bool(unknown) and area_outside is None and coverage >= NATIONAL_COVERAGE
                and len(unknown) >= NATIONAL_EXTRA * len(bcodes))
    outside_codes = set(mapped[out_rows].unique())
    if national:
        # The table covers (almost) all of London and these codes are in no London set of this
        # level: a national table without a district column. They are outside the area.
        unknown_rows = in_scope & mapped.isin(unknown)
        out_rows = out_rows | unknown_rows
        in_scope = in_scope & ~unknown_rows
        outside_codes |= unknown
        rest = rest - unknown
    total = len(matched) + len(rest)
    hint = _year_hint(column.column)
    score = SetScore(
        boundary_set=bset.id, column=str(column.column), matched=len(matched), unmatched=len(rest),
        outside=len(outside_codes), boundary_features=len(bcodes),
        match_rate=round(len(matched) / total, 4) if total else 0.0,
        coverage=round(coverage, 4), year_hint=hint, national_assumed=national,
    )
    return _Fit(bset=bset, column=column, bcodes=bcodes, mapped=mapped, in_scope=in_scope,
                outside_rows=out_rows, matched=matched, unmatched=rest, outside_codes=outside_codes,
                national=national, aliases_used=aliases, area_column=area_column, score=score)


def _hint_points(bset: BoundarySet, hint: int | None) -> int:
    if hint is None:
        return 0
    if bset.year == hint:
        return 2
    return 1 if bset.valid_in(hint) else 0


class JoinError(Exception):
    """A table cannot be joined to boundaries; says which column and why."""

    def __init__(self, message: str, column: str | None = None, candidate: str | None = None,
                 rate: float | None = None):
        self.column = column
        self.candidate = candidate
        self.rate = rate
        super().__init__(message)


@dataclass
class _Choice:
    fit: _Fit
    scores: list[SetScore]       # all sets tried for the chosen column, chosen first
    warnings: list[str]
    notes: list[str]


def _codes_getter(boundary_codes: Callable[[BoundarySet], Iterable[str]]):
    memo: dict[str, frozenset] = {}

    def get(bset: BoundarySet) -> frozenset:
        if bset.id not in memo:
            raw = boundary_codes(bset)
            memo[bset.id] = frozenset(c for c in (_norm_one(x) for x in raw) if c)
        return memo[bset.id]
    return get


def _norm_one(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().upper()
    return text if GSS_RE.match(text) else None


def _rank_sets(column: CodeColumn, fits: list[_Fit], registry: BoundaryRegistry) -> tuple[list[_Fit], list[str], list[str]]:
    order = {s.id: i for i, s in enumerate(registry.sets())}
    hint = _year_hint(column.column)
    ranked = sorted(fits, key=lambda f: (-f.score.matched, -_hint_points(f.bset, hint),
                                         -f.score.coverage, order[f.bset.id]))
    warnings: list[str] = []
    notes: list[str] = []
    best = ranked[0]
    twins = [f for f in ranked if f.bcodes == best.bcodes]
    if len(twins) > 1:
        # Same codes, different geometry: the registry's default decides.
        chosen = next((f for f in twins if f.bset.default), best)
        others = [f.bset.id for f in twins if f is not chosen]
        notes.append(f"{', '.join(others)} carries the same {len(best.bcodes)} codes; "
                     f"using {chosen.bset.id}" + (" (the default)" if chosen.bset.default else ""))
        ranked.remove(chosen)
        ranked.insert(0, chosen)
        best = chosen
    rivals = [f for f in ranked[1:] if f.bcodes != best.bcodes]
    if rivals and best.score.matched > 0:
        second = rivals[0]
        decided_by_coverage = best.score.coverage == 1.0 and second.score.coverage < 1.0
        if second.score.matched == best.score.matched and not decided_by_coverage:
            if _hint_points(best.bset, hint) > _hint_points(second.bset, hint):
                why = f"the column name {column.column!r} points to {hint}"
            elif best.score.coverage > second.score.coverage:
                why = "it covers a larger share of its features"
            else:
                why = "it comes first in the registry"
            warnings.append(
                f"the codes in {str(column.column)!r} fit {best.bset.id} and {second.bset.id} equally "
                f"({best.score.matched:,} codes each); chose {best.bset.id} because {why}; "
                f"pass boundary_set= to choose")
    return ranked, warnings, notes


def _choose(df: pd.DataFrame, registry: BoundaryRegistry, get_codes, code_column: object = None,
            boundary_set: str | None = None, min_match_rate: float = MIN_MATCH_RATE) -> _Choice:
    columns = detect_code_columns(df)
    if code_column is not None:
        if code_column not in df.columns:
            raise JoinError(f"no column {code_column!r} in the table; columns: "
                            f"{', '.join(map(str, df.columns[:30]))}", column=str(code_column))
        picked = [c for c in columns if c.column == code_column]
        if not picked:
            raise JoinError(f"column {code_column!r} holds no GSS codes (codes look like E09000001)",
                            column=str(code_column))
        candidates = picked
    else:
        if not columns:
            raise JoinError(f"no GSS code column was found in the table ({len(df.columns)} columns "
                            f"checked; GSS codes look like E09000001)")
        candidates = columns
    forced = None
    if boundary_set is not None:
        try:
            forced = registry.get(boundary_set)
        except LookupError as exc:
            raise JoinError(str(exc)) from None

    per_column: list[tuple[CodeColumn, list[_Fit], list[str], list[str]]] = []
    for column in candidates:
        if forced is not None:
            sets = [forced] if forced.code_prefix in column.prefixes else []
        else:
            sets = registry.for_prefix(column.prefix)
        if not sets:
            continue
        codes = _normalise(df[column.column])
        area_outside, area_column = _area_flags(df, column, columns, registry.district_prefix)
        known: frozenset = frozenset().union(*(get_codes(s) for s in registry.for_prefix(sets[0].code_prefix)))
        known = known | frozenset(v for s in registry.for_prefix(sets[0].code_prefix) for v in s.code_aliases)
        fits = [_fit(df, column, codes, s, get_codes(s), known, area_outside, area_column) for s in sets]
        ranked, warnings, notes = _rank_sets(column, fits, registry)
        per_column.append((column, ranked, warnings, notes))

    if not per_column:
        first = candidates[0]
        if forced is not None:
            raise JoinError(f"column {str(first.column)!r} holds {first.prefix} codes "
                            f"({first.entity}); boundary set {forced.id} needs {forced.code_prefix} codes",
                            column=str(first.column), candidate=forced.id, rate=0.0)
        have = ", ".join(f"{p} ({describe_prefix(p)})" for p in registry.prefixes())
        raise JoinError(f"no boundary set uses the codes in column {str(first.column)!r}: they are "
                        f"{first.prefix} codes ({first.entity}); the registry has {have}",
                        column=str(first.column), rate=0.0)

    # Among columns that could be the key (close to the most codes), prefer one without repeats,
    # that covers its boundary set, then the finest level.
    def in_area(item) -> int:
        return item[1][0].score.matched + item[1][0].score.unmatched
    most = max(in_area(item) for item in per_column)
    keyish = [item for item in per_column if in_area(item) >= KEY_LIKE_SHARE * most and in_area(item) > 0]
    pool = keyish or per_column

    def column_key(item):
        column, ranked, _, _ = item
        fit = ranked[0]
        rows = fit.mapped[fit.in_scope]
        repeats = bool(rows.duplicated().any())
        return (fit.score.match_rate < min_match_rate, repeats,
                -round(min(fit.score.coverage / WARN_RATE, 1.0), 2), _rank(column.prefix),
                -fit.score.match_rate, candidates.index(column))
    pool = sorted(pool, key=column_key)
    column, ranked, warnings, notes = pool[0]
    return _Choice(fit=ranked[0], scores=[f.score for f in ranked], warnings=warnings, notes=notes)


def _floor_error(fit: _Fit, floor: float) -> JoinError:
    s = fit.score
    total = s.matched + s.unmatched
    examples = ", ".join(sorted(fit.unmatched)[:5])
    if total == 0:
        message = (f"column {s.column!r}: none of its {fit.bset.code_prefix} codes is in "
                   f"{fit.bset.id}'s area ({s.outside:,} codes outside it)")
    else:
        message = (f"column {s.column!r}: the best boundary set, {fit.bset.id} ({fit.bset.level} "
                   f"{fit.bset.year}), matches only {s.match_rate:.1%} of its codes ({s.matched:,} of "
                   f"{total:,}; not found e.g. {examples}); a join needs at least {floor:.0%}. The "
                   f"table probably uses another boundary year; pass boundary_set= or code_column= "
                   f"to override")
    return JoinError(message, column=s.column, candidate=fit.bset.id, rate=s.match_rate)


def choose_boundary_set(df: pd.DataFrame, registry: BoundaryRegistry,
                        boundary_codes: Callable[[BoundarySet], Iterable[str]],
                        code_column: object = None, boundary_set: str | None = None,
                        min_match_rate: float = MIN_MATCH_RATE) -> tuple[BoundarySet, CodeColumn, list[SetScore]]:
    """Pick the code column and the boundary set its codes match best.

    Returns the set, the column and the scores of every set tried for that column (the chosen
    one first; its ``warnings``/``notes`` say when sets tied). Raises JoinError when no column
    holds GSS codes, no set uses them, or the best match rate is below ``min_match_rate``.
    """
    choice = _choose(df.reset_index(drop=True), registry, _codes_getter(boundary_codes), code_column,
                     boundary_set, min_match_rate)
    fit = choice.fit
    if fit.score.match_rate < min_match_rate:
        raise _floor_error(fit, min_match_rate)
    choice.scores[0].warnings = list(choice.warnings)
    choice.scores[0].notes = list(choice.notes)
    return fit.bset, fit.column, choice.scores


# ------------------------------------------------------------------------------------------------
# The join
# ------------------------------------------------------------------------------------------------
@dataclass
class JoinReport:
    boundary_set: str
    level: str
    code_scheme: str                 # GSS prefix of the boundary codes, e.g. E01
    year: int
    code_column: str
    matched: int                     # distinct table codes found (= features with data)
    unmatched: int                   # distinct in-area table codes not in the boundary set
    match_rate: float                # matched / (matched + unmatched)
    rows_in: int
    rows_outside_area: int           # rows dropped: outside London or another level (E12, E92 …)
    boundary_features: int
    boundary_features_without_data: int
    unmatched_examples: list[str]
    warnings: list[str]
    coverage: float = 0.0            # matched / boundary_features
    rows_matched: int = 0
    rows_unmatched: int = 0
    rows_without_code: int = 0       # empty or non-GSS values in the code column
    outside_examples: list[str] = field(default_factory=list)
    features_without_data_examples: list[str] = field(default_factory=list)
    area_column: str | None = None   # district column used to drop rows outside London
    aggregate: str | None = None
    duplicate_rows_dropped: int = 0  # exact duplicate rows collapsed
    dropped_columns: list[str] = field(default_factory=list)  # text columns lost by aggregation
    notes: list[str] = field(default_factory=list)
    candidates: list[dict] = field(default_factory=list)
    boundary_title: str = ""
    boundary_caveat: str | None = None   # the boundary set's caveat (approximate shapes, …)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        text = (f"{self.code_column} -> {self.boundary_set} ({self.level} {self.year}): "
                f"{self.matched:,} matched, {self.unmatched:,} unmatched ({self.match_rate:.1%}); "
                f"{self.boundary_features_without_data:,} of {self.boundary_features:,} features without data")
        if self.rows_outside_area:
            text += f"; {self.rows_outside_area:,} rows outside the area dropped"
        return text


def _numeric(series: pd.Series) -> pd.Series | None:
    """The column as numbers when every non-null value is one, else None."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return None
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series
    if not _is_text_column(series):
        return None
    text = series.astype("string").str.strip()
    text = text.where(text != "", pd.NA)
    numbers = pd.to_numeric(text, errors="coerce")
    if int(numbers.notna().sum()) != int(text.notna().sum()) or not numbers.notna().any():
        return None
    return numbers


def _aggregate(table: pd.DataFrame, key: str, how: str) -> tuple[pd.DataFrame, list[str]]:
    if how == "first":
        return table.drop_duplicates(subset=key, keep="first"), []
    grouped = table.groupby(key, sort=False)
    pieces: dict[str, pd.Series] = {}
    dropped: list[str] = []
    for column in table.columns:
        if column == key:
            continue
        numbers = _numeric(table[column])
        if numbers is not None:
            by = numbers.groupby(table[key], sort=False)
            pieces[column] = by.sum(min_count=1) if how == "sum" else by.mean()
            continue
        try:
            varies = grouped[column].nunique(dropna=False).max() > 1
        except TypeError:  # unhashable values
            varies = True
        if varies:
            dropped.append(str(column))
        else:
            pieces[column] = grouped[column].first()
    out = pd.DataFrame(pieces)
    out.index.name = key
    out = out.reset_index()
    return out[[c for c in table.columns if c == key or c in pieces]], dropped


def _examples(codes: Iterable[str], n: int = EXAMPLES) -> list[str]:
    return sorted(codes)[:n]


def join_to_boundaries(df: pd.DataFrame, registry: BoundaryRegistry,
                       load_boundary: Callable[[BoundarySet], Any], code_column: object = None,
                       boundary_set: str | None = None, aggregate: str | None = None,
                       min_match_rate: float = MIN_MATCH_RATE,
                       boundary_codes: Callable[[BoundarySet], Iterable[str]] | None = None):
    """Join a table to the boundary set its codes match best.

    Returns ``(GeoDataFrame, JoinReport)``: one row per boundary feature that has data, in the
    boundary frame's CRS, with ``area_code``/``area_name`` (the boundary's code and name), the
    boundary's own code and name columns, then the table's columns and ``geometry``.

    Rows of other levels (regions, England …) and rows outside London are dropped and counted.
    A table with several rows per area (long format) is refused unless ``aggregate`` is 'sum',
    'mean' or 'first'; exact duplicate rows are collapsed without asking.

    ``boundary_codes`` (optional) gives a set's codes without its geometry, so choosing among
    sets that share a code prefix (LSOA 2011 and 2021) loads only the chosen set's frame; when the
    chosen frame's codes turn out to differ from what it gave, the choice is made again from the
    frames.
    """
    import geopandas as gpd

    if aggregate is not None and aggregate not in AGGREGATES:
        raise JoinError(f"aggregate must be one of {', '.join(AGGREGATES)} or None, got {aggregate!r}")
    notes: list[str] = []
    table = df.reset_index(drop=True)
    if isinstance(table, gpd.GeoDataFrame) or "geometry" in table.columns:
        table = pd.DataFrame(table.drop(columns=[c for c in table.columns
                                                 if c == "geometry" or isinstance(table[c].dtype, gpd.array.GeometryDtype)]))
        notes.append("the table's own geometry column was left out of the join")

    frames: dict[str, Any] = {}

    def frame_of(bset: BoundarySet):
        if bset.id not in frames:
            frame = load_boundary(bset)
            for col in (bset.code_column, bset.name_column):
                if col not in frame.columns:
                    raise JoinError(f"boundary set {bset.id} (dataset {bset.dataset_id}) has no "
                                    f"column {col!r}; its columns: {', '.join(map(str, frame.columns))}")
            frames[bset.id] = frame
        return frames[bset.id]

    def frame_codes(s: BoundarySet) -> list:
        return frame_of(s)[s.code_column].tolist()

    get_codes = _codes_getter(boundary_codes or frame_codes)
    choice = _choose(table, registry, get_codes, code_column, boundary_set, min_match_rate)
    if boundary_codes is not None:
        chosen = choice.fit.bset
        if _codes_getter(frame_codes)(chosen) != get_codes(chosen):
            choice = _choose(table, registry, _codes_getter(frame_codes), code_column, boundary_set,
                             min_match_rate)
    fit = choice.fit
    bset = fit.bset
    column = fit.column
    warnings = list(choice.warnings)
    notes.extend(choice.notes)
    col_name = str(column.column)

    # Long format: several rows for one area would multiply features.
    scope = fit.in_scope & fit.mapped.notna()
    duplicate_rows_dropped = 0
    if aggregate == "long":
        per_area = fit.mapped[scope].value_counts()
        notes.append(f"long table kept: {int(scope.sum()):,} rows over {len(per_area):,} areas, "
                     "each row with its area's geometry")
    if aggregate is None:
        repeated = fit.mapped[scope].duplicated(keep=False)
        if repeated.any():
            try:
                exact = table[scope].duplicated(keep="first")
            except TypeError:
                exact = pd.Series(False, index=table[scope].index)
            if exact.any():
                duplicate_rows_dropped = int(exact.sum())
                scope = scope & ~exact.reindex(scope.index, fill_value=False)
                notes.append(f"{duplicate_rows_dropped:,} exact duplicate rows dropped")
        codes_in_scope = fit.mapped[scope]
        counts = codes_in_scope.value_counts()
        if (counts > 1).any():
            many = counts[counts > 1]
            example, times = str(many.index[0]), int(many.iloc[0])
            sub = table[scope]
            others = [c for c in sub.columns if c != column.column]
            try:
                varying = sub.groupby(codes_in_scope, sort=False)[others].nunique(dropna=False).max()
                varying_cols = [str(c) for c, v in varying.items() if v > 1][:6]
            except TypeError:
                varying_cols = []
            vary = f"; columns that vary within an area: {', '.join(varying_cols)}" if varying_cols else ""
            raise JoinError(
                f"the table is in long format: column {col_name!r} repeats {len(many):,} of its "
                f"{len(counts):,} codes over {int(scope.sum()):,} rows (e.g. {example} in {times} rows)"
                f"{vary}. Joining would repeat boundary features; filter the table to one row per "
                f"area or pass aggregate='sum', 'mean' or 'first'",
                column=col_name, candidate=bset.id, rate=fit.score.match_rate)

    if fit.score.match_rate < min_match_rate:
        raise _floor_error(fit, min_match_rate)

    # Counts (rows of the table as given).
    rows_without_code = int(fit.mapped.isna().sum())
    rows_outside = int(fit.outside_rows.sum())
    rows_matched = int((scope & fit.mapped.isin(fit.matched)).sum())
    rows_unmatched = int((scope & fit.mapped.isin(fit.unmatched)).sum())

    # The right-hand side: matched rows, one per code.
    key = "__area_code__"
    right = table[scope & fit.mapped.isin(fit.matched)].copy()
    right[key] = fit.mapped[right.index]
    dropped_columns: list[str] = []
    if aggregate not in (None, "long"):
        before = len(right)
        right, dropped_columns = _aggregate(right, key, aggregate)
        if before != len(right):
            notes.append(f"{before:,} rows aggregated to {len(right):,} areas with {aggregate!r}")
        if dropped_columns:
            notes.append(f"text columns that vary within an area were dropped: {', '.join(dropped_columns)}")

    boundary = frame_of(bset)
    bcodes = boundary[bset.code_column].map(_norm_one)
    if bcodes.duplicated().any() or bcodes.isna().any():
        bad = bcodes[bcodes.duplicated() | bcodes.isna()]
        raise JoinError(f"boundary set {bset.id}: column {bset.code_column!r} has empty or repeated "
                        f"codes (e.g. {bad.iloc[0]!r}); the boundary file is not usable for joins")
    if len(boundary) != bset.expected_count:
        warnings.append(f"boundary set {bset.id} has {len(boundary):,} features, "
                        f"{bset.expected_count:,} expected")

    left = gpd.GeoDataFrame({
        "area_code": bcodes.astype("string").to_numpy(),
        "area_name": boundary[bset.name_column].astype("string").to_numpy(),
    }, geometry=boundary.geometry.to_numpy(), crs=boundary.crs, index=range(len(boundary)))
    extra = [c for c in (bset.code_column, bset.name_column)
             if c not in right.columns and c not in ("area_code", "area_name", "geometry")]
    for c in extra:
        left[c] = boundary[c].to_numpy()
    rename = {c: f"{c}_table" for c in right.columns if c in ("area_code", "area_name", "geometry")}
    right = right.rename(columns=rename)
    merged = left.merge(right, left_on="area_code", right_on=key, how="inner", sort=False)
    merged = merged.drop(columns=[key])
    ordered = ["area_code", "area_name", *extra,
               *[c for c in merged.columns if c not in ("area_code", "area_name", "geometry", *extra)],
               "geometry"]
    joined = gpd.GeoDataFrame(merged[ordered], geometry="geometry", crs=boundary.crs)
    joined = joined.reset_index(drop=True)

    s = fit.score
    without = set(fit.bcodes) - fit.matched
    names = dict(zip(bcodes, boundary[bset.name_column].astype(str)))
    if s.match_rate < WARN_RATE:
        warnings.append(
            f"only {s.match_rate:.1%} of the {s.matched + s.unmatched:,} {bset.level} codes in "
            f"{col_name!r} are in {bset.id} ({s.unmatched:,} not found, e.g. "
            f"{', '.join(_examples(fit.unmatched, 5))}); the table may use other {bset.level} "
            f"boundaries than {bset.year}")
    if s.coverage < WARN_RATE:
        warnings.append(f"{len(without):,} of {len(fit.bcodes):,} {bset.id} features have no data")
    if fit.national:
        warnings.append(
            f"{s.outside:,} codes are in no {registry.area_name} {bset.level} set and the table has no "
            f"district column: taken to be outside {registry.area_name} (the table covers "
            f"{s.coverage:.0%} of {bset.id})")
    if fit.aliases_used:
        for k, v in fit.aliases_used.items():
            notes.append(f"table code {k} taken as {v} ({names.get(v, '')}) in {bset.id}")
    if rows_outside:
        prefixes = Counter(str(c)[:3] for c in fit.outside_codes)
        kinds = ", ".join(f"{n:,} {p}" for p, n in prefixes.most_common())
        where = f" (by column {fit.area_column!r})" if fit.area_column else ""
        notes.append(f"{rows_outside:,} rows dropped as outside {registry.area_name} or not "
                     f"{bset.level} codes{where}; their codes: {kinds}")
    if rows_without_code:
        notes.append(f"{rows_without_code:,} rows have no GSS code in {col_name!r}")

    report = JoinReport(
        boundary_set=bset.id, level=bset.level, code_scheme=bset.code_prefix, year=bset.year,
        code_column=col_name, matched=s.matched, unmatched=s.unmatched, match_rate=s.match_rate,
        rows_in=len(df), rows_outside_area=rows_outside, boundary_features=len(boundary),
        boundary_features_without_data=len(without),
        unmatched_examples=_examples(fit.unmatched), warnings=warnings, coverage=s.coverage,
        rows_matched=rows_matched, rows_unmatched=rows_unmatched, rows_without_code=rows_without_code,
        outside_examples=_examples(fit.outside_codes),
        features_without_data_examples=[f"{c} {names.get(c, '')}".strip() for c in _examples(without)],
        area_column=fit.area_column, aggregate=aggregate,
        duplicate_rows_dropped=duplicate_rows_dropped, dropped_columns=dropped_columns,
        notes=notes, candidates=[sc.to_dict() for sc in choice.scores],
        boundary_title=bset.title, boundary_caveat=bset.caveat or None,
    )
    return joined, report
