"""A theme's name as people read it: "Community safety", not ``crime``."""

from __future__ import annotations

THEME_LABELS = {
    "air-quality": "Air quality", "green-infrastructure": "Green infrastructure",
    "boundaries": "Boundaries", "deprivation": "Deprivation", "crime": "Community safety",
    "housing": "Housing", "income": "Income", "population": "Population", "transport": "Transport",
    "net-zero": "Net zero", "environment": "Environment", "points-of-interest": "Points of interest",
}


def theme_label(slug: str) -> str:
    return THEME_LABELS.get(slug, slug.replace("-", " ").capitalize())
