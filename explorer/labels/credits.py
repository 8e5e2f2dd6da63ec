"""Who to credit for a dataset: one ``Credit`` per dataset behind a chart or map, read from its
registry entry and the provenance of the file that was loaded.

Charts on the pages write a credit's short form under themselves; exported images and data packages
(``explorer.export``) carry the whole of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Credit:
    dataset_id: str
    title: str
    publisher: str
    licence: str
    licence_url: str | None
    attribution: str
    updated: str | None
    retrieved_at: str | None
    source_url: str | None
    upstream_url: str | None
    sha256: str | None = None
    resource_id: str | None = None

    def short(self) -> str:
        """'Publisher: Title (Licence)', the one-line form used under charts on the pages."""
        return f"{self.publisher}: {self.title}" + (f" ({self.licence})" if self.licence else "")

    def to_dict(self) -> dict:
        return asdict(self)


def credit_for(entry, provenance: dict | None = None, resource_id: str | None = None) -> Credit:
    prov = provenance or {}
    return Credit(
        dataset_id=entry.id, title=entry.title, publisher=entry.publisher or "publisher not stated",
        licence=entry.licence or "", licence_url=entry.licence_url, attribution=(entry.attribution or "").strip(),
        updated=entry.updated, retrieved_at=prov.get("retrieved_at"),
        source_url=prov.get("source_url") or None, upstream_url=prov.get("upstream_url") or entry.upstream_url,
        sha256=prov.get("sha256"), resource_id=resource_id or prov.get("resource_id"),
    )


def collect_credits(sources: list[dict], service, roles: tuple[str, ...] = ("data",)) -> list[Credit]:
    """One credit per dataset among a chart's ``sources`` (as ``ChartResult.sources``)."""
    out: list[Credit] = []
    seen: set[str] = set()
    for src in sources:
        if src.get("role", "data") not in roles or src.get("dataset_id") in seen:
            continue
        try:
            entry = service.entry(src["dataset_id"])
        except Exception:  # noqa: BLE001 - a source the registry no longer has is left out
            continue
        seen.add(entry.id)
        out.append(credit_for(entry, src.get("provenance"), src.get("resource_id")))
    return out
