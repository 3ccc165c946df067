"""Numbers as the chosen language writes them: 1.234 and 87,5% in Vietnamese,
1,234 and 87.5% in English.

Babel's format_decimal parses its pattern on every call; the by-agency table
formats a few hundred numbers, so the separators are looked up once per call
site and applied with plain string formatting.
"""
from __future__ import annotations

from babel.numbers import get_decimal_symbol, get_group_symbol
from flask_babel import get_locale

DASH = "—"


def _symbols() -> tuple[str, str]:
    locale = get_locale()
    return get_group_symbol(locale), get_decimal_symbol(locale)


def _swap(text: str, group: str, decimal: str) -> str:
    return text.replace(",", "\0").replace(".", decimal).replace("\0", group)


def number(value: float | None) -> str:
    """A count: 1.234 (vi)."""
    group, decimal = _symbols()
    return _swap(f"{int(value or 0):,}", group, decimal)


def rate(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage: 0.875 → 87,5% (vi); None → —."""
    if value is None:
        return DASH
    group, decimal = _symbols()
    return _swap(f"{value * 100:,.{digits}f}", group, decimal) + "%"


def days(value: float | None) -> str:
    """A number of days with at most one decimal: 8 or 7,5 (vi); None → —."""
    if value is None:
        return DASH
    group, decimal = _symbols()
    text = f"{value:,.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return _swap(text, group, decimal)
