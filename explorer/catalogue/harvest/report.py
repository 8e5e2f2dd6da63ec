"""What a harvest did: ids added, updated, unchanged, and the entries it rejected (and why)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Rejection:
    """One entry of a source that was not stored, with the field at fault and the reason."""

    source: str          # the source label, e.g. "lds:export.json"
    entry: str           # the entry id, or "#<index>" (0-based position in the source) without one
    field: str           # the field at fault, e.g. "title" or "resources[2].url"
    reason: str

    def __str__(self) -> str:
        return f"{self.entry}: field {self.field!r}: {self.reason}"


@dataclass
class HarvestReport:
    source: str
    kind: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    label: str = ""      # short source label stored on entries ("ckan:demo.ckan.org")

    @property
    def stored(self) -> int:
        return len(self.added) + len(self.updated) + len(self.unchanged)

    @property
    def ok(self) -> bool:
        return not self.rejected

    def record(self, outcome: str, entry_id: str) -> None:
        if outcome not in ("added", "updated", "unchanged"):
            raise ValueError(f"unknown upsert outcome {outcome!r} for {entry_id!r}")
        getattr(self, outcome).append(entry_id)

    def summary(self) -> str:
        head = (f"{self.source}: {len(self.added)} added, {len(self.updated)} updated, "
                f"{len(self.unchanged)} unchanged, {len(self.rejected)} rejected")
        lines = [head]
        lines.extend(f"  rejected {rej}" for rej in self.rejected)
        return "\n".join(lines)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["counts"] = {
            "added": len(self.added), "updated": len(self.updated),
            "unchanged": len(self.unchanged), "rejected": len(self.rejected),
        }
        return data
