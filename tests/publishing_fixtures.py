"""Helpers for the publishing tests: people with roles, and a small CSV keyed by real LSOA 2011
codes read from the shared data folder (built in the test, never stored in the repository)."""

from __future__ import annotations

from dataclasses import dataclass

PUBLISHER_A = "London Borough of Camden"
PUBLISHER_B = "London Borough of Hackney"
PASSWORD = "correct horse battery staple"


@dataclass
class Person:
    role: str
    email: str | None
    token: str | None
    user: object = None

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def people(accounts) -> dict[str, Person]:
    """anonymous, user (no publisher), editor of A, editor of B, admin; each with an API token."""
    out = {"anonymous": Person("anonymous", None, None)}
    spec = {"user": (None, None), "editor_a": ("camden", "editor"), "editor_b": ("hackney", "editor"),
            "admin": ("gla", "admin")}
    names = {"camden": PUBLISHER_A, "hackney": PUBLISHER_B, "gla": "Greater London Authority"}
    for role, (slug, kind) in spec.items():
        email = f"{role.replace('_', '.')}@example.org"
        user = accounts.add_user(email, PASSWORD, publisher=slug, publisher_name=names.get(slug), role=kind)
        _, token = accounts.create_token(user.id, "tests")
        out[role] = Person(role, email, token, user)
    return out


def lsoa_2011_csv(data_dir, extra_unmatched=("E01999998", "E01999999")) -> tuple[str, list[str]]:
    """(CSV text, codes): Camden's LSOA 2011 codes plus codes that exist only in 2011 (so the
    2011 set is the best match, not 2021), plus codes that match no area."""
    import pyogrio

    root = data_dir / "boundaries"
    b11 = pyogrio.read_dataframe(root / "london-2011-lsoa-gen20" / "london-2011-lsoa-gen20.shp",
                                 columns=["LSOA11CD", "LSOA11NM"], read_geometry=False)
    codes21 = set(pyogrio.read_dataframe(root / "london-2021-lsoa-gen20", columns=["LSOA21CD"],
                                         read_geometry=False)["LSOA21CD"])
    only11 = [c for c in b11["LSOA11CD"] if c not in codes21][:30]
    camden = [c for c, n in zip(b11["LSOA11CD"], b11["LSOA11NM"]) if str(n).startswith("Camden")]
    codes = list(dict.fromkeys(camden + only11)) + list(extra_unmatched)
    text = "lsoa_code,imd_score\n" + "".join(f"{c},{(i * 7) % 60 + 0.5}\n" for i, c in enumerate(codes))
    return text, codes
