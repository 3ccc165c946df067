"""Satisfaction: the citizen rates the answer (docs/design.md §6).

The e-mailed rating link carries a signed, expiring token; opening it only
shows the form, and only a POST records a rating, so a mail scanner that
follows links cannot rate. One rating per case; a changed mind within the
window updates it and says so in the timeline.
"""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy import select

from .access import case_by_code
from .extensions import db
from .models import Case, CaseEvent, Rating, Status, utcnow
from .workflow.errors import InvalidInput, NotAllowedNow

# The rating link is signed where the answer that carries it is sent (the
# workflow), and read here; the satisfaction pages take both from this module.
from .workflow.links import rating_link_key, rating_serializer, rating_token, rating_url

__all__ = [
    "COMMENT_MAX", "LEVELS", "LINK_MAX_AGE", "RESOLVED", "RatingLinkError", "case_for_rating_token",
    "offers_review", "rate_case", "rating_open", "rating_token", "rating_url",
]

LEVELS = (1, 2, 3, 4, 5)
RESOLVED = ("yes", "partly", "no")
COMMENT_MAX = 2000
# The signature outlives any rating window; the window itself is checked
# against the case's rating_due, which the deadline engine computed.
LINK_MAX_AGE = 60 * 24 * 3600


class RatingLinkError(Exception):
    """A rating link that is tampered with, expired, or for an unknown case."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def case_for_rating_token(token: str) -> Case:
    """The case a rating link is for; raises RatingLinkError with a clear reason."""
    try:
        data = rating_serializer().loads(token, max_age=LINK_MAX_AGE)
    except SignatureExpired:
        raise RatingLinkError(_l("Đường dẫn đánh giá đã hết hạn.")) from None
    except BadSignature:
        raise RatingLinkError(_l("Đường dẫn đánh giá không hợp lệ. Vui lòng dùng đúng đường dẫn trong thư.")) from None
    case = case_by_code(data.get("case", ""))
    if case is None:
        raise RatingLinkError(_l("Đường dẫn đánh giá không hợp lệ. Vui lòng dùng đúng đường dẫn trong thư.")) from None
    if data.get("key") != rating_link_key(case):
        raise RatingLinkError(_l("Đường dẫn đánh giá này không còn hiệu lực vì đường dẫn riêng đã được cấp lại. "
                                 "Vui lòng đánh giá trên trang theo dõi qua đường dẫn riêng mới."))
    return case


def rating_open(case: Case, now: datetime | None = None) -> bool:
    """A case can be rated once answered, until its rating window ends (also
    after an automatic close, while the window lasts)."""
    now = now or utcnow()
    if case.answered_at is None or case.status not in (Status.responded.value, Status.closed.value,
                                                        Status.review_requested.value):
        return False
    return case.rating_due is None or now <= case.rating_due


def offers_review(rating: Rating | None) -> bool:
    """A low rating (the two lowest levels) or an unresolved problem lets the
    citizen ask for a review."""
    return rating is not None and rating.is_low


def rate_case(case: Case, level, resolved: str, comment: str = "",
              now: datetime | None = None) -> tuple[Rating, bool]:
    """Record (or, within the window, change) the citizen's rating.
    Returns the rating and whether it was created. The caller commits."""
    now = now or utcnow()
    if not rating_open(case, now):
        raise NotAllowedNow(_l("Phản ánh này hiện không thể đánh giá (chưa có trả lời hoặc đã hết thời hạn đánh giá)."))
    fields = {}
    try:
        level = int(level)
    except (TypeError, ValueError):
        level = 0
    if level not in LEVELS:
        fields["level"] = str(_l("Vui lòng chọn mức độ hài lòng."))
    if resolved not in RESOLVED:
        fields["resolved"] = str(_l("Vui lòng cho biết vấn đề đã được giải quyết chưa."))
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        fields["comment"] = str(_l("Ý kiến tối đa %(max)s ký tự.", max=COMMENT_MAX))
    if fields:
        raise InvalidInput(_l("Vui lòng kiểm tra lại đánh giá."), fields)
    rating = db.session.execute(select(Rating).where(Rating.case_id == case.id)).scalar_one_or_none()
    created = rating is None
    if created:
        rating = Rating(case_id=case.id, created_at=now)
        db.session.add(rating)
    rating.level, rating.resolved, rating.comment = level, resolved, comment
    rating.updated_at = now
    # Stored with what answered it, so reports can slice by agency, officer,
    # category and procedure as they were when answered.
    rating.agency_id, rating.officer_id = case.agency_id, case.answered_by_id
    rating.category_id, rating.procedure_id = case.category_id, case.procedure_id
    db.session.add(CaseEvent(
        case_id=case.id, at=now, actor_kind="citizen", action="rated" if created else "rating_changed",
        from_status=case.status, to_status=case.status, public=True,
        data={"level": level, "resolved": resolved},
    ))
    db.session.flush()
    return rating, created
