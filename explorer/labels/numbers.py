"""Numbers formatted for their kind: £72,310 · 38.2 µg/m³ · 12 % · 4,994 — never 7.231e+04 — and
what an air-quality figure means against the UK's objectives and the WHO's 2021 guidelines."""

from __future__ import annotations

import math

from .variables import unit_label

# Annual means, µg/m³: (UK legal objective or limit, WHO 2021 guideline)
GUIDELINES = {
    "NO2": ((40, "the UK objective of 40"), (10, "the WHO guideline of 10")),
    "PM10": ((40, "the UK objective of 40"), (15, "the WHO guideline of 15")),
    "PM2.5": ((20, "the UK limit of 20"), (5, "the WHO guideline of 5")),
}
_POLLUTANT_KEYS = {"no2": "NO2", "no₂": "NO2", "pm10": "PM10", "pm25": "PM2.5", "pm2.5": "PM2.5"}


def _plain(value: float, decimals: int | None = None) -> str:
    if decimals is not None:
        return f"{value:,.{decimals}f}"
    size = abs(value)
    if size >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:,.1f}"
    if size >= 1:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"


def format_value(value, unit: str | None = None, decimals: int | None = None) -> str:
    """``value`` as a page prints it, with its unit where one is known."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no data"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    unit = unit_label(unit)
    if unit == "£":
        return ("−" if value < 0 else "") + "£" + _plain(abs(value), 0 if decimals is None else decimals)
    text = _plain(value, decimals).replace("-", "−")
    if unit == "%":
        return f"{text} %"
    if unit == "µg/m³" and decimals is None and abs(value) < 1000:
        text = f"{value:,.1f}".replace("-", "−")
    return f"{text} {unit}" if unit else text


def pollutant_key(text: str | None) -> str | None:
    """NO2, PM10 or PM2.5 when ``text`` names one of them (a pollutant option or a column)."""
    if not text:
        return None
    low = str(text).lower()
    if low.startswith("pm10d"):
        return None     # days above a threshold, not a concentration
    for key in sorted(_POLLUTANT_KEYS, key=len, reverse=True):
        if low.startswith(key) or low == key:
            return _POLLUTANT_KEYS[key]
    return None


def meaning(pollutant: str | None, value) -> str | None:
    """"above the UK objective of 40" for an annual mean, or None when there is no guideline."""
    guides = GUIDELINES.get(pollutant_key(pollutant) or "")
    if not guides or not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    (uk, uk_text), (who, who_text) = guides
    if value > uk:
        return f"above {uk_text}"
    if value > who:
        return f"below {uk_text}, above {who_text}"
    return f"within {who_text}"
