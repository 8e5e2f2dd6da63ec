"""The federated sources: which catalogues the registry holds, their harvest status, the schedule.

Sources are data (``geodata/sources.yaml``, or the file EXPLORER_SOURCES names): each has a name,
a kind, a URL and optionally a local copy under the data folder and a refresh interval. What each
harvest did (when, counts added/updated/unchanged/rejected, the last error) is kept in the
registry's ``meta`` table under ``source:<name>``, so every worker and the CLI read the same.

A harvest that fails (the portal is down, the file is broken) records the error and changes
nothing: the source's entries stay as they were. Only one process harvests at a time: a lock file
in EXPLORER_HOME (``harvest.lock``); a worker that finds it taken skips, and sees the result through
the registry version once the other is done.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from explorer.catalogue.harvest import KINDS, HarvestError, harvest
from explorer.catalogue.harvest.sources import is_url, parse_yaml

log = logging.getLogger(__name__)

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class Source:
    name: str
    kind: str
    url: str
    title: str = ""
    local_copy: str | None = None
    refresh_hours: float = 0.0


class SourcesError(ValueError):
    """The sources file is unreadable or a source in it is malformed (the message names which)."""


def _read_file(settings) -> tuple[object, str]:
    chosen = str(getattr(settings, "sources", "") or "").strip()
    if chosen == "bundled":
        return {"sources": [{"name": "bundled", "kind": "bundled", "url": "bundled",
                             "title": "Bundled catalogue of London demonstrator datasets"}]}, "bundled only"
    if chosen:
        path = Path(chosen).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SourcesError(f"{path}: cannot read the sources file: {exc}") from None
        where = str(path)
    else:
        data = (resources.files("geodata") / "sources.yaml").read_bytes()
        where = "geodata/sources.yaml"
    try:
        return parse_yaml(data, where), where
    except HarvestError as exc:
        raise SourcesError(str(exc)) from None


def load_sources(settings) -> list[Source]:
    doc, where = _read_file(settings)
    items = doc.get("sources") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise SourcesError(f"{where}: expected a mapping with a 'sources' list")
    out: list[Source] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        at = f"{where}: sources[{i}]"
        if not isinstance(item, dict):
            raise SourcesError(f"{at}: expected a mapping")
        name = str(item.get("name") or "").strip().lower()
        if not name or not set(name) <= _NAME_CHARS or len(name) > 60:
            raise SourcesError(f"{at}.name: a short name of letters, digits, - and _ is required")
        if name in seen:
            raise SourcesError(f"{at}.name: {name!r} is used twice")
        seen.add(name)
        kind = str(item.get("kind") or "").strip().lower()
        if kind not in KINDS:
            raise SourcesError(f"{at}.kind: {kind!r} is not one of {', '.join(KINDS)}")
        url = str(item.get("url") or "").strip()
        if not url:
            raise SourcesError(f"{at}.url: required")
        local = item.get("local_copy")
        if local is not None and (not isinstance(local, str) or Path(local).is_absolute() or ".." in Path(local).parts):
            raise SourcesError(f"{at}.local_copy: a relative path inside the data folder is required")
        try:
            hours = float(item.get("refresh_hours") or 0)
        except (TypeError, ValueError):
            raise SourcesError(f"{at}.refresh_hours: a number of hours is required") from None
        out.append(Source(name=name, kind=kind, url=url, title=str(item.get("title") or name),
                          local_copy=local, refresh_hours=max(0.0, hours)))
    return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def status(registry, name: str) -> dict:
    raw = registry.get_meta(f"source:{name}")
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {}


def _local_path(source: Source, settings) -> Path | None:
    if not source.local_copy or not getattr(settings, "data_dir", None):
        return None
    path = Path(settings.data_dir) / source.local_copy
    return path if path.is_file() else None


def harvest_source(source: Source, registry, settings, *, first: bool | None = None) -> dict:
    """Harvest one source and record what happened; never raises for the source's own faults.

    On first start (``first``) a local copy is read before the URL, so the registry fills fast and
    without the network; later the URL is read, and the local copy only when the URL fails and
    nothing from this source is stored yet."""
    state = status(registry, source.name)
    if first is None:  # never harvested well: fill from the local copy first, as on a first start
        first = not state.get("last_success")
    local = _local_path(source, settings)
    attempts: list[tuple[str, str]] = []
    if source.kind == "bundled":
        attempts = [("bundled", "bundled")]
    else:
        if local is not None and (first or getattr(settings, "offline", False)):
            attempts.append((str(local), "local copy"))
        if not getattr(settings, "offline", False) or not is_url(source.url):
            attempts.append((source.url, "url"))
        if local is not None and all(origin != "local copy" for _, origin in attempts):
            attempts.append((str(local), "local copy"))
    started = time.perf_counter()
    errors: list[str] = []
    for where, origin in attempts:
        if origin == "local copy" and errors and state.get("last_success"):
            break  # the URL failed, but this source's entries are stored already: keep them
        try:
            report = harvest(where, registry, settings, kind=source.kind)
        except HarvestError as exc:
            errors.append(f"{origin}: {exc.message}")
            continue
        except Exception as exc:  # noqa: BLE001 - one source must not stop the others
            errors.append(f"{origin}: {type(exc).__name__}: {exc}")
            continue
        state.update({
            "last_harvest": _now(), "last_success": _now(), "origin": origin, "read_from": where,
            "seconds": round(time.perf_counter() - started, 2),
            "counts": {"added": len(report.added), "updated": len(report.updated),
                       "unchanged": len(report.unchanged), "rejected": len(report.rejected)},
            "rejections": [str(r) for r in report.rejected[:20]],
            "last_error": "; ".join(errors) or None, "ok": True,
        })
        registry.set_meta(f"source:{source.name}", json.dumps(state))
        return state
    state.update({"last_harvest": _now(), "last_error": "; ".join(errors) or "nothing to read", "ok": False,
                  "seconds": round(time.perf_counter() - started, 2)})
    registry.set_meta(f"source:{source.name}", json.dumps(state))
    return state


@contextmanager
def harvest_lock(settings, wait: bool = True):
    """One harvester at a time across processes (``EXPLORER_HOME/harvest.lock``), or across every
    host with EXPLORER_DATABASE_URL (the database's lock); yields False when ``wait`` is off and it
    is taken."""
    from explorer.db.locks import run_once

    with run_once(settings, "harvest", wait=wait) as got:
        yield got


def refresh(registry, settings, only: str | None = None, *, first: bool | None = None,
            due_only: bool = False, wait: bool = True, vectors: bool = True) -> dict[str, dict]:
    """Harvest every source (or the one named), under the harvest lock; return each status.
    ``vectors``: also embed the new and changed entries for semantic search (else the first
    search does it)."""
    sources = load_sources(settings)
    if only is not None:
        sources = [s for s in sources if s.name == only]
        if not sources:
            raise SourcesError(f"no source named {only!r} (see `explorer catalogue sources`)")
    out: dict[str, dict] = {}
    with harvest_lock(settings, wait=wait) as got:
        if not got:
            return out
        for source in sources:
            if due_only and not is_due(source, status(registry, source.name)):
                continue
            out[source.name] = harvest_source(source, registry, settings, first=first)
        if out and vectors:
            # the semantic vectors of new and changed entries, once, here rather than at a search
            try:
                registry.index_vectors()
            except Exception:  # noqa: BLE001 - search computes what is missing itself
                log.exception("could not compute the semantic vectors after a harvest")
    return out


def is_due(source: Source, state: dict) -> bool:
    if not state.get("last_harvest"):
        return True
    if source.refresh_hours <= 0:
        return False
    last = datetime.fromisoformat(state["last_harvest"])
    return (datetime.now(timezone.utc) - last).total_seconds() >= source.refresh_hours * 3600


def describe(registry, settings) -> list[dict]:
    """Every source with its settings, status and how many entries it describes now."""
    counts: dict[str, int] = {}
    for entry in registry.all():
        labels = (entry.extras or {}).get("sources") or [entry.source]
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
    out = []
    for source in load_sources(settings):
        state = status(registry, source.name)
        label = "bundled" if source.kind == "bundled" else None
        entries = counts.get(label, 0) if label else sum(
            n for lab, n in counts.items() if lab.startswith(source.kind + ":"))
        out.append({**asdict(source), "entries": entries, **{
            "last_harvest": state.get("last_harvest"), "last_success": state.get("last_success"),
            "origin": state.get("origin"), "counts": state.get("counts"),
            "last_error": state.get("last_error"), "ok": state.get("ok"), "seconds": state.get("seconds")}})
    return out


class Scheduler:
    """A daemon thread that refreshes due sources; one process harvests (the lock), others skip."""

    def __init__(self, registry, settings, every_seconds: float = 300.0):
        self.registry = registry
        self.settings = settings
        self.every = every_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Scheduler":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="catalogue-refresh", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                refresh(self.registry, self.settings, due_only=True, wait=False)
            except Exception:  # noqa: BLE001 - a bad sources file must not kill the server
                log.exception("scheduled catalogue refresh failed")


def index_in_background(registry) -> threading.Thread:
    """Embed the entries without vectors in a daemon thread (a search meanwhile waits for it)."""
    def run() -> None:
        try:
            registry._semantic_index()
        except Exception:  # noqa: BLE001 - the first search computes what is missing itself
            log.warning("semantic vectors not computed in the background", exc_info=True)

    thread = threading.Thread(target=run, name="semantic-index", daemon=True)
    thread.start()
    return thread
