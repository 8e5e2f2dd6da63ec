"""Wiring shared by the CLI and the app: open the registry (harvesting the bundled catalogue into
an empty one), build the data service, and describe an entry as a document for JSON and pages."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from explorer.catalogue.models import Entry
from explorer.catalogue.registry import Registry
from explorer.settings import Settings

log = logging.getLogger(__name__)


def open_registry(settings: Settings, harvest_bundled: bool = True) -> Registry:
    """Open the registry under EXPLORER_HOME; on first start harvest every source of the sources
    file (EXPLORER_SOURCES, default geodata/sources.yaml): the bundled catalogue, then the London
    Datastore from its local copy when the data folder has one (1,249 datasets: 1.2 s on a quiet
    machine), else from its URL; the semantic vectors are computed in a background thread. A source that cannot be read is recorded and skipped (see
    ``explorer catalogue sources``)."""
    settings.ensure_dirs()
    if getattr(settings, "database_url", ""):
        # shared by every host: PostgreSQL, read through a replica in this host's cache folder
        from explorer.catalogue.pg_registry import PgRegistry

        registry = PgRegistry(settings.database_url, settings.cache_dir / "registry-replica.sqlite3")
    else:
        registry = Registry(settings.registry_path)
    if harvest_bundled and settings.harvest_bundled and registry.get_meta("bundled_harvested") is None:
        from explorer.catalogue.sources import index_in_background, refresh
        from explorer.db.locks import run_once

        # hosts (or workers) starting together: one harvests, the others wait and find it done
        with run_once(settings, "first-harvest", wait=True):
            if registry.get_meta("bundled_harvested") is None:
                states = refresh(registry, settings, first=True, vectors=False)
                index_in_background(registry)   # the first page need not wait for the semantic vectors
                registry.set_meta("bundled_harvested", datetime.now(timezone.utc).isoformat(timespec="seconds"))
                for name, state in states.items():
                    log.info("first start: %s: %s%s", name, state.get("counts"),
                             f" (error: {state['last_error']})" if state.get("last_error") else "")
    return registry


def make_data_service(settings: Settings, registry: Registry, cache=None):
    from explorer.geo.joins import DataService

    return DataService(settings, registry, cache=cache)


@dataclass
class Services:
    settings: Settings
    registry: Registry
    data: object  # DataService
    cache: object
    accounts: object = None    # explorer.accounts.AccountStore (the web app; the CLI opens its own)
    publishing: object = None  # explorer.publishing.Publishing


def entry_document(registry: Registry, entry: Entry) -> dict:
    """An entry as the JSON of `catalogue show --json` and /api/datasets/<id>."""
    doc = entry.to_dict()
    doc["formats"] = entry.formats
    doc["stale"] = entry.staleness()
    doc["registry"] = registry.record(entry.id)
    return doc
