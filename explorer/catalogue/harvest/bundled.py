"""The bundled catalogue: ``geodata/catalogue.yaml`` shipped with the package.

Shape: ``{catalogue: {...}, datasets: [entry dicts]}`` where each dataset is already in the
shape of ``Entry.from_dict``. ``catalogue.defaults`` (optional) fills fields a dataset leaves out.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from importlib import resources

from explorer.catalogue.models import EntryError
from explorer.guards.textsafe import safe_markdown

from explorer.catalogue.harvest.sources import HarvestError, parse_yaml

RESOURCE_NAME = "catalogue.yaml"


def default_location():
    """The packaged catalogue file (an importlib Traversable)."""
    return resources.files("geodata") / RESOURCE_NAME


def load_default() -> object:
    where = "bundled catalogue (geodata/catalogue.yaml)"
    try:
        data = default_location().read_bytes()
    except (FileNotFoundError, OSError) as exc:
        raise HarvestError(where, f"cannot read: {exc}") from None
    return parse_yaml(data, where)


def datasets(doc: object, source: str) -> tuple[dict, list]:
    if not isinstance(doc, dict):
        raise HarvestError(source, f"expected a mapping with 'catalogue' and 'datasets', got {type(doc).__name__}")
    catalogue = doc.get("catalogue") or {}
    if not isinstance(catalogue, dict):
        raise HarvestError(source, "'catalogue' must be a mapping")
    items = doc.get("datasets")
    if not isinstance(items, list):
        raise HarvestError(source, "'datasets' must be a list of entries")
    return catalogue, items


def looks_like_bundled(doc: object) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("datasets"), list) and "@context" not in doc


def entry_dicts(doc: object, label: str, source: str) -> Iterator[tuple[str | None, dict | Exception]]:
    catalogue, items = datasets(doc, source)
    defaults = catalogue.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise HarvestError(source, "'catalogue.defaults' must be a mapping")
    for item in items:
        hint = str(item.get("id")) if isinstance(item, dict) and item.get("id") not in (None, "") else None
        if not isinstance(item, dict):
            yield hint, EntryError("entry", f"expected a mapping, got {type(item).__name__}")
            continue
        data = copy.deepcopy(item)
        for key, value in defaults.items():
            if data.get(key) in (None, "", []):
                data[key] = copy.deepcopy(value)
        description = data.get("description")
        if description is not None and not isinstance(description, str):
            yield hint, EntryError("description", f"expected text, got {type(description).__name__}", hint)
            continue
        data["description"] = safe_markdown(description or "")
        data["source"] = label
        yield hint, data
