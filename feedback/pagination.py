"""One pagination helper for every list page and API list.

Counting is capped (``COUNT_CAP``, 10,000 by default): a list counts at most
that many rows and then says "more than", because an exact count of a
million cases reads every one of them on every page. Whether another page
follows is known exactly anyway: the page query asks for one row more.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, request
from flask_babel import format_number
from flask_babel import gettext as _
from sqlalchemy import Select, func, select

from .extensions import db


@dataclass
class Page:
    items: list[Any]
    total: int  # exact when ``total_exact``, else the cap: there are more
    page: int
    per_page: int
    total_exact: bool = True
    more: bool = False  # a row follows this page

    @property
    def pages(self) -> int:
        counted = max(1, -(-self.total // self.per_page))
        return counted if self.total_exact else max(counted, self.page + self.more)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.more

    @property
    def total_text(self) -> str:
        """The total as the pages print it: "1.234", or "hơn 10.000" when capped."""
        counted = format_number(self.total)
        return counted if self.total_exact else _("hơn %(n)s", n=counted)


def page_args(max_per_page: int = 100) -> tuple[int, int]:
    """Read ``page`` and ``per_page`` from the query string, clamped to sane values."""
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    try:
        per_page = int(request.args.get("per_page", current_app.config["PER_PAGE"]))
    except ValueError:
        per_page = current_app.config["PER_PAGE"]
    return page, min(max(1, per_page), max_per_page)


def capped_count(query: Select, cap: int | None = None) -> tuple[int, bool]:
    """``(count, exact)``: the rows of ``query`` counted up to ``cap`` (the
    ``COUNT_CAP`` setting when not given); past it ``(cap, False)``. The
    database stops after ``cap + 1`` rows instead of reading the whole scope."""
    cap = current_app.config["COUNT_CAP"] if cap is None else cap
    counted = db.session.execute(capped_count_query(query, cap)).scalar_one()
    return min(counted, cap), counted <= cap


def capped_count_query(query: Select, cap: int) -> Select:
    """``SELECT count(*) FROM (query LIMIT cap + 1)``."""
    return select(func.count()).select_from(query.order_by(None).limit(cap + 1).subquery())


def fetch_page(query: Select, per_page: int, offset: int = 0, scalars: bool = True) -> tuple[list[Any], bool]:
    """One page of ``query`` and whether a row follows it (one row more is read)."""
    result = db.session.execute(query.limit(per_page + 1).offset(offset))
    rows = list(result.scalars().unique()) if scalars else list(result)
    return rows[:per_page], len(rows) > per_page


def paginate(query: Select, scalars: bool = True) -> Page:
    page, per_page = page_args()
    total, exact = capped_count(query)
    items, more = fetch_page(query, per_page, (page - 1) * per_page, scalars)
    if not exact and items and not more:
        # The last page, reached past the cap: here the total is known exactly.
        total, exact = (page - 1) * per_page + len(items), True
    return Page(items=items, total=total, page=page, per_page=per_page, total_exact=exact, more=more)
