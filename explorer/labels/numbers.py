"""Numbers formatted for their kind: £72,310 · 38.2 µg/m³ · 12 % · 4,994 — never 7.231e+04 — and
what an air-quality figure means against the UK's objectives and the WHO's 2021 guidelines."""

from __future__ import annotations

import math

from explorer.labels.variables import unit_label

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


def meaning(pollutant: str | None, value, unit: str | None = None) -> str | None:
    """"above the UK annual objective of 40" for an annual mean of a pollutant with thresholds
    (explorer/maps/classify.py: the WHO 2021 guideline and the UK's objectives), else None. The WHO's
    interim targets class the map; a sentence names only the guideline and the UK's own."""
    from explorer.maps.classify import thresholds_for

    if not pollutant or not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    found = sorted((t for t in thresholds_for(str(pollutant), pollutant=str(pollutant), unit=unit)
                    if "interim" not in t.label), key=lambda t: t.value)
    if not found:
        return None

    def said(t) -> str:
        return f"the {t.label} of {t.value:g}"

    if value > found[-1].value:
        return f"above {said(found[-1])}"
    below = next(t for t in found if value <= t.value)
    above = [t for t in found if value > t.value]
    return f"below {said(below)}" + (f", above {said(above[-1])}" if above else "")
