"""The dashboard's charts as inline SVG, drawn on the server.

No JavaScript, no CDN, no ``style`` attributes (the CSP forbids inline
styles): geometry and colours are SVG presentation attributes, the rest is in
site.css. Each chart carries a title and a one-sentence description for
screen readers; the page puts the same numbers in a table next to it. Bars
differ by shade *and* pattern so a black-and-white print stays readable.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from datetime import date
from typing import Any

from flask_babel import gettext as _
from markupsafe import Markup, escape

from ..labels import RATING_LEVEL
from .formatting import number, rate

INK = "#1a1f2b"
MUTED = "#4a5568"
GRID = "#d5dae3"
BLUE = "#0b4f9c"
LIGHT_BLUE = "#9cc3ea"
GREEN = "#1c6b3a"
RED = "#a3161a"
FONT = 'font-family="system-ui, sans-serif"'

_ids = itertools.count(1)


def _uid(prefix: str) -> str:
    """Ids unique within a page, for aria-labelledby and patterns."""
    return f"{prefix}-{next(_ids)}"


def _text(x: float, y: float, content: Any, size: int = 12, anchor: str = "start", fill: str = INK,
          extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
            f'{FONT}{extra}>{escape(str(content))}</text>')


def _nice_max(value: int) -> int:
    """A round axis maximum at or above ``value`` that splits into four whole
    steps of 1, 2, 2.5 or 5 × 10^n (so the grid labels are whole numbers)."""
    quarter = max(value, 1) / 4
    magnitude = 10 ** int(math.floor(math.log10(quarter))) if quarter >= 1 else 1
    steps = (1, 2, 2.5, 5, 10) if magnitude >= 10 else (1, 2, 5, 10)
    for step in steps:
        if step * magnitude >= quarter:
            return int(4 * step * magnitude)
    return 40 * magnitude


def _open(width: int, height: int, title: str, description: str, css: str) -> tuple[str, str]:
    title_id, desc_id = _uid("chart-title"), _uid("chart-desc")
    head = (f'<svg class="chart {css}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'role="img" aria-labelledby="{title_id} {desc_id}" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{title_id}">{escape(title)}</title><desc id="{desc_id}">{escape(description)}</desc>')
    return head, "</svg>"


def _hatch(pattern_id: str, colour: str, angle: int) -> str:
    return (f'<pattern id="{pattern_id}" patternUnits="userSpaceOnUse" width="6" height="6" '
            f'patternTransform="rotate({angle})"><rect width="6" height="6" fill="#fff"/>'
            f'<rect width="3" height="6" fill="{colour}"/></pattern>')


def _legend(items: Iterable[tuple[str, str]], x: float, y: float) -> str:
    parts = []
    for fill, label in items:
        parts.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{fill}" stroke="{INK}" '
                     f'stroke-width="0.5"/>')
        parts.append(_text(x + 16, y, label))
        x += 22 + 7 * len(label)
    return "".join(parts)


def _y_axis(left: float, top: float, plot_h: float, right: float, maximum: int) -> str:
    parts = []
    for i in range(5):
        value = maximum * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>')
        parts.append(_text(left - 6, y + 4, number(value), size=11, anchor="end", fill=MUTED))
    return "".join(parts)


def monthly_chart(months: list[dict[str, Any]]) -> Markup:
    """Grouped bars per month: received, answered, answered late."""
    width, height = 760, 300
    left, right, top, bottom = 48, 12, 34, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    answered_fill, late_fill = _uid("hatch-answered"), _uid("hatch-late")
    maximum = _nice_max(max([max(m["received"], m["answered"], m["late"]) for m in months] + [1]))
    head, tail = _open(width, height, _("Tiếp nhận, trả lời và trả lời trễ hạn theo tháng"),
                       _("Biểu đồ cột theo tháng, từ %(first)s đến %(last)s; số liệu chi tiết ở bảng bên dưới.",
                         first=f"{months[0]['month']:%m/%Y}", last=f"{months[-1]['month']:%m/%Y}"), "chart-monthly")
    parts = [head, "<defs>", _hatch(answered_fill, BLUE, 45), _hatch(late_fill, RED, -45), "</defs>",
             _legend([(LIGHT_BLUE, _("Tiếp nhận")), (f"url(#{answered_fill})", _("Đã trả lời")),
                      (f"url(#{late_fill})", _("Trả lời trễ hạn"))], left, 16),
             _y_axis(left, top, plot_h, width - right, maximum)]
    slot = plot_w / len(months)
    bar = min(18.0, slot / 4)
    series = (("received", LIGHT_BLUE, _("Tiếp nhận")), ("answered", f"url(#{answered_fill})", _("Đã trả lời")),
              ("late", f"url(#{late_fill})", _("Trả lời trễ hạn")))
    for i, month in enumerate(months):
        x0 = left + i * slot + (slot - 3 * bar) / 2
        for j, (key, fill, label) in enumerate(series):
            h = plot_h * month[key] / maximum
            tip = escape(f"{month_label(month['month'])} · {label}: {number(month[key])}")
            parts.append(f'<rect x="{x0 + j * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{fill}" stroke="{INK}" stroke-width="0.5">'
                         f'<title>{tip}</title></rect>')
        if len(months) <= 18 or i % 3 == 0:
            parts.append(_text(left + i * slot + slot / 2, height - bottom + 16, f"{month['month']:%m/%y}",
                               size=11, anchor="middle", fill=MUTED))
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
                 f'stroke="{INK}" stroke-width="1"/>')
    parts.append(tail)
    return Markup("".join(parts))


def _short(name: str, limit: int = 34) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def on_time_chart(rows: list[dict[str, Any]], target: float) -> Markup:
    """One horizontal bar per agency (its on-time rate) and the target line."""
    row_h, left, right, top = 24, 230, 60, 30
    width = 760
    height = top + row_h * max(len(rows), 1) + 24
    plot_w = width - left - right
    below = _uid("hatch-below")
    head, tail = _open(width, height, _("Tỷ lệ trả lời đúng hạn theo cơ quan"),
                       _("Thanh ngang cho mỗi cơ quan; đường đứt nét là mục tiêu %(target)s.",
                         target=rate(target, 0)), "chart-on-time")
    parts = [head, "<defs>", _hatch(below, RED, 45), "</defs>",
             _legend([(GREEN, _("Đạt mục tiêu")), (f"url(#{below})", _("Dưới mục tiêu"))], left, 16)]
    for i, row in enumerate(rows):
        y = top + i * row_h
        parts.append(f'<g><title>{escape(row["agency_name"])}</title>'
                     + _text(left - 8, y + 16, _short(row["agency_name"]), anchor="end") + "</g>")
        share = row["on_time_rate"]
        if share is None:
            parts.append(_text(left + 4, y + 16, _("chưa có trả lời"), size=11, fill=MUTED))
            continue
        fill = GREEN if share >= target else f"url(#{below})"
        parts.append(f'<rect x="{left}" y="{y + 4}" width="{plot_w * share:.1f}" height="{row_h - 8}" '
                     f'fill="{fill}" stroke="{INK}" stroke-width="0.5"/>')
        parts.append(_text(left + plot_w * share + 4, y + 16, rate(share), size=11))
    x = left + plot_w * target
    bottom = top + row_h * max(len(rows), 1)
    parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="{INK}" '
                 f'stroke-width="2" stroke-dasharray="6 4"/>')
    parts.append(_text(x, bottom + 16, _("Mục tiêu %(target)s", target=rate(target, 0)),
                       size=11, anchor="middle"))
    parts.append(tail)
    return Markup("".join(parts))


def satisfaction_chart(levels: dict[int, int]) -> Markup:
    """Five bars, very dissatisfied to very satisfied, with count and share."""
    width, height = 560, 260
    left, right, top, bottom = 40, 12, 24, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    total = sum(levels.values())
    maximum = _nice_max(max(list(levels.values()) + [1]))
    head, tail = _open(width, height, _("Mức độ hài lòng"),
                       _("Số lượt đánh giá theo 5 mức, tổng %(n)s lượt.", n=total), "chart-satisfaction")
    unhappy = _uid("hatch-unhappy")
    parts = [head, "<defs>", _hatch(unhappy, RED, 45), "</defs>", _y_axis(left, top, plot_h, width - right, maximum)]
    slot = plot_w / 5
    for i, level in enumerate(range(1, 6)):
        count = levels.get(level, 0)
        h = plot_h * count / maximum
        x = left + i * slot + slot * 0.2
        fill = GREEN if level >= 4 else (MUTED if level == 3 else f"url(#{unhappy})")
        parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.6:.1f}" height="{h:.1f}" '
                     f'fill="{fill}" stroke="{INK}" stroke-width="0.5"/>')
        share = rate(count / total, 0) if total else "—"
        parts.append(_text(x + slot * 0.3, top + plot_h - h - 4, f"{count} ({share})", size=11, anchor="middle"))
        words = str(RATING_LEVEL[level]).split()
        half = (len(words) + 1) // 2
        for line, chunk in enumerate((" ".join(words[:half]), " ".join(words[half:]))):
            if chunk:
                parts.append(_text(x + slot * 0.3, height - bottom + 16 + 14 * line, chunk, size=11,
                                   anchor="middle", fill=MUTED))
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
                 f'stroke="{INK}" stroke-width="1"/>')
    parts.append(tail)
    return Markup("".join(parts))


def month_label(day: date) -> str:
    return f"{day:%m/%Y}"
