"""The domain model (docs/design.md §2–§6).

Every timestamp is stored in UTC (timezone-aware in Python). Status changes go
through ``feedback.workflow``; nothing else assigns ``Case.status``.
"""
from __future__ import annotations

import enum
import hashlib
from datetime import UTC, date, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    or_,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import Model


def localized(name: str, name_en: str | None) -> str:
    """``name_en`` on English pages when there is one, else the official
    Vietnamese ``name`` (outside a request: the Vietnamese name)."""
    from flask import has_request_context
    from flask_babel import get_locale

    if name_en and has_request_context() and str(get_locale() or "").startswith("en"):
        return name_en
    return name


def utcnow() -> datetime:
    return datetime.now(UTC)


def hash_token(token: str) -> str:
    """Tokens (private links, API keys) are stored as SHA-256 digests only."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Role(str, enum.Enum):
    citizen = "citizen"
    desk = "desk"
    officer = "officer"
    lead = "lead"
    supervisor = "supervisor"
    admin = "admin"


STAFF_ROLES = {Role.desk, Role.officer, Role.lead, Role.supervisor, Role.admin}
# Roles that see every agency's cases (docs/design.md §2).
CITY_WIDE_ROLES = {Role.desk, Role.supervisor, Role.admin}


class CaseType(str, enum.Enum):
    report = "report"
    recommendation = "recommendation"


class SenderKind(str, enum.Enum):
    individual = "individual"
    business = "business"


class Channel(str, enum.Enum):
    online = "online"
    letter = "letter"
    phone = "phone"
    email = "email"
    hotline = "hotline"
    in_person = "in_person"
    api = "api"
    open311 = "open311"


class Status(str, enum.Enum):
    submitted = "submitted"
    assigned = "assigned"
    in_progress = "in_progress"
    needs_info = "needs_info"
    awaiting_approval = "awaiting_approval"
    responded = "responded"
    review_requested = "review_requested"
    closed = "closed"
    rejected = "rejected"
    merged = "merged"
    withdrawn = "withdrawn"


FINAL_STATUSES = {Status.closed, Status.rejected, Status.merged, Status.withdrawn}
OPEN_STATUSES = set(Status) - FINAL_STATUSES - {Status.responded}


class Outcome(str, enum.Enum):
    explained = "explained"
    amend_rule = "amend_rule"
    recommendation_forwarded = "recommendation_forwarded"
    not_accepted = "not_accepted"


class Classification(str, enum.Enum):
    """The four outcomes of classifying a case on receipt (Decree 20)."""

    rejected = "rejected"
    official_conduct = "official_conduct"
    within_competence = "within_competence"
    outside_competence = "outside_competence"


class Agency(Model):
    __tablename__ = "agency"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(32), default="department")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    is_desk: Mapped[bool] = mapped_column(Boolean, default=False)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped[Agency | None] = relationship(remote_side="Agency.id", back_populates="children")
    children: Mapped[list[Agency]] = relationship(back_populates="parent")

    @property
    def local_name(self) -> str:
        """The name in the reader's language: the English name on English
        pages where an administrator gave one, the official Vietnamese name
        otherwise."""
        return localized(self.name, self.name_en)

    def __repr__(self) -> str:
        return f"<Agency {self.code}>"


class User(UserMixin, Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[str] = mapped_column(String(20), default=Role.citizen.value)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    language: Mapped[str] = mapped_column(String(5), default="vi")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when an admin chose the password: the holder must replace it first.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Part of the id kept in every session and remember-me cookie; raising it
    # (end_sessions) makes all of them stop working at once.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agency: Mapped[Agency | None] = relationship()

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the remember-me cookie."""
        return f"{self.id}:{self.session_generation or 0}"

    def end_sessions(self) -> None:
        """Every session and remember-me cookie of this account stops working
        (logout, password change or reset, role change, deactivation)."""
        self.session_generation = (self.session_generation or 0) + 1

    def set_password(self, password: str) -> None:
        from flask import current_app

        self.password_hash = generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def is_staff(self) -> bool:
        return self.role_enum in STAFF_ROLES

    @property
    def sees_all_agencies(self) -> bool:
        return self.role_enum in CITY_WIDE_ROLES

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class Category(Model):
    """A field (lĩnh vực) with its default agency and deadline policy.

    The ``*_days`` columns override the configured defaults when set.
    """

    __tablename__ = "category"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255), default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    default_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    classify_days: Mapped[int | None] = mapped_column(Integer)
    report_answer_days: Mapped[int | None] = mapped_column(Integer)
    recommendation_answer_days: Mapped[int | None] = mapped_column(Integer)
    extension_max_days: Mapped[int | None] = mapped_column(Integer)
    info_reply_days: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    default_agency: Mapped[Agency | None] = relationship()
    parent: Mapped[Category | None] = relationship(remote_side="Category.id")

    @property
    def local_name(self) -> str:
        """The name in the reader's language (see :func:`localized`)."""
        return localized(self.name, self.name_en)


class Procedure(Model):
    """An administrative procedure or legal document a case can be about."""

    __tablename__ = "procedure"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(20), default="procedure")  # procedure | legal_document
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    # The agency that runs the procedure, the legal document it rests on and
    # its page on the public-service portal (from the catalogue import).
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    legal_document: Mapped[str] = mapped_column(String(500), default="", server_default="")
    url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    search_text: Mapped[str] = mapped_column(String(600), default="")  # folded, for search
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    category: Mapped[Category | None] = relationship()
    agency: Mapped[Agency | None] = relationship()


class Case(Model):
    __tablename__ = "case"
    __table_args__ = (
        Index("ix_case_agency_status_next_due", "agency_id", "status", "next_due"),
        Index("ix_case_status_next_due", "status", "next_due"),
        # Lists ordered "earliest deadline first, none last, then id" (staff API
        # list, inbox, dashboard deadline lists, the reminder scan's keyset):
        # ``ORDER BY next_due NULLS LAST, id`` reads these in order and stops
        # at the page; PostgreSQL's ascending btree already puts NULLs last.
        Index("ix_case_next_due_id", "next_due", "id"),
        Index("ix_case_agency_next_due_id", "agency_id", "next_due", "id"),
        # The desk queue: submitted cases, oldest first.
        Index("ix_case_status_received_at_id", "status", "received_at", "id"),
        Index("ix_case_received_at", "received_at"),
        Index("ix_case_answered_at", "answered_at"),
        Index("ix_case_sender_email", "sender_email"),
        # Per-agency figures for a period (lead dashboard, agency reports).
        Index("ix_case_agency_received_at", "agency_id", "received_at"),
        Index("ix_case_agency_answered_at", "agency_id", "answered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    type: Mapped[str] = mapped_column(String(20), default=CaseType.report.value)
    channel: Mapped[str] = mapped_column(String(20), default=Channel.online.value)
    language: Mapped[str] = mapped_column(String(5), default="vi")

    sender_kind: Mapped[str] = mapped_column(String(20), default=SenderKind.individual.value)
    sender_name: Mapped[str] = mapped_column(String(255))
    sender_address: Mapped[str] = mapped_column(String(500))
    sender_phone: Mapped[str] = mapped_column(String(20))
    sender_email: Mapped[str] = mapped_column(String(255), default="")
    sender_id_number: Mapped[str] = mapped_column(String(20), default="")
    sender_tax_code: Mapped[str] = mapped_column(String(20), default="")
    sender_representative: Mapped[str] = mapped_column(String(255), default="")
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)

    title: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    publish_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    # The consent on record: when it was given and the exact wording the
    # sender agreed to. Publication needs both (workflow rule "publish").
    publish_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    publish_consent_text: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), index=True)
    procedure_id: Mapped[int | None] = mapped_column(ForeignKey("procedure.id"), index=True)

    status: Mapped[str] = mapped_column(String(24), default=Status.submitted.value)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The agency holding the case now (the desk's until assigned).
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    proposed_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    classification: Mapped[str | None] = mapped_column(String(32))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), index=True)

    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # Deadlines (docs/design.md §4); next_due is the earliest open one.
    classify_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    classified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    classify_on_time: Mapped[bool | None] = mapped_column(Boolean)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extension_requested_days: Mapped[int | None] = mapped_column(Integer)
    extension_reason: Mapped[str] = mapped_column(Text, default="")
    extension_status: Mapped[str | None] = mapped_column(String(16))  # requested|approved|denied
    extension_days: Mapped[int] = mapped_column(Integer, default=0)
    info_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    info_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_days: Mapped[int] = mapped_column(Integer, default=0)
    rating_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_due: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # The answer, recorded once when it reaches the citizen.
    draft_outcome: Mapped[str | None] = mapped_column(String(32))
    draft_answer: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str | None] = mapped_column(String(32))
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    answer_on_time: Mapped[bool | None] = mapped_column(Boolean)
    # Signed working days: negative = early, positive = late.
    answer_lateness_days: Mapped[int | None] = mapped_column(Integer)
    answer_working_days: Mapped[int | None] = mapped_column(Integer)

    rejection_reason: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[str] = mapped_column(String(40), default="")

    published: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    public_title: Mapped[str] = mapped_column(String(255), default="")
    public_content: Mapped[str] = mapped_column(Text, default="")
    # The answer as published, checked by the desk; kept apart from ``answer``
    # so that public pages and views never read the private text.
    public_answer: Mapped[str] = mapped_column(Text, default="")
    # Diacritic-folded text of the published case, for search.
    search_text: Mapped[str] = mapped_column(Text, default="")

    access_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # When the sender's personal data was removed (retention or an erasure
    # request, ``feedback.privacy``); the statistics columns are kept.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    category: Mapped[Category] = relationship()
    procedure: Mapped[Procedure | None] = relationship()
    agency: Mapped[Agency] = relationship(foreign_keys=[agency_id])
    proposed_agency: Mapped[Agency | None] = relationship(foreign_keys=[proposed_agency_id])
    officer: Mapped[User | None] = relationship(foreign_keys=[officer_id])
    citizen: Mapped[User | None] = relationship(foreign_keys=[citizen_id])
    merged_into: Mapped[Case | None] = relationship(remote_side="Case.id")
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="case", order_by="Attachment.id", cascade="all, delete-orphan"
    )
    rating: Mapped[Rating | None] = relationship(back_populates="case", uselist=False)

    # The workflow sets the next version once per transition; SQLAlchemy adds
    # "WHERE version = <old>" to the UPDATE, so a concurrent change loses.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}

    @property
    def status_enum(self) -> Status:
        return Status(self.status)

    @property
    def is_open(self) -> bool:
        return self.status_enum in OPEN_STATUSES

    def __repr__(self) -> str:
        return f"<Case {self.code} {self.status}>"


def deadline_order() -> tuple:
    """Earliest deadline first, cases without a deadline last, then by id: the
    order ``ix_case_next_due_id`` and ``ix_case_agency_next_due_id`` keep on
    PostgreSQL (an ascending btree puts NULLs last), so a first page reads a
    page of rows. SQLite (3.30 and later) sorts, which its sizes allow."""
    return (Case.next_due.asc().nulls_last(), Case.id.asc())


class CaseEvent(Model):
    """Append-only timeline entry: who did what, when, from which status."""

    __tablename__ = "case_event"
    __table_args__ = (
        Index("ix_case_event_case_id", "case_id", "id"),
        # An officer's scope: the cases they acted on before (``access.scoped_cases``).
        Index("ix_case_event_actor_case", "actor_id", "case_id"),
        # Review requests in a period (dashboard) without scanning every event.
        Index("ix_case_event_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_kind: Mapped[str] = mapped_column(String(16), default="staff")  # staff|citizen|system
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class Attachment(Model):
    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_event.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    from_citizen: Mapped[bool] = mapped_column(Boolean, default=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="attachments")


class ErasureRequest(Model):
    """A sender's request to erase the personal data of a final case, until
    the desk confirms (the case is anonymised) or refuses it with a reason."""

    __tablename__ = "erasure_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|confirmed|refused
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    refusal_reason: Mapped[str] = mapped_column(Text, default="")

    case: Mapped[Case] = relationship()
    decided_by: Mapped[User | None] = relationship()


class Notification(Model):
    """The outbox: written in the same transaction as the change it reports."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_status_next_attempt", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), index=True)
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(255))  # e-mail address (or phone for SMS)
    channel: Mapped[str] = mapped_column(String(16), default="email")
    template: Mapped[str] = mapped_column(String(60))
    language: Mapped[str] = mapped_column(String(5), default="vi")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|queued|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the channel (the SMTP server) accepted the message of the current
    # claim, written in its own transaction before the row is marked sent: a
    # row that then fails as uncertain still says the server had it.
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case | None] = relationship()


class ReminderDelivery(Model):
    """One row per reminder ever filed; the unique key makes re-scans harmless."""

    __tablename__ = "reminder_delivery"
    __table_args__ = (
        UniqueConstraint(
            "case_id", "deadline_kind", "deadline_at", "step", "recipient_id",
            name="uq_reminder_delivery_key",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    deadline_kind: Mapped[str] = mapped_column(String(20))
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    step: Mapped[str] = mapped_column(String(20))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notification.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DigestDelivery(Model):
    """One morning digest per recipient and local day, whatever runs twice."""

    __tablename__ = "digest_delivery"
    __table_args__ = (UniqueConstraint("recipient_id", "day", name="uq_digest_delivery_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))  # leads uq_digest_delivery_key
    day: Mapped[date] = mapped_column(Date)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notification.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The highest rating level that counts as low (2: dissatisfied).
LOW_RATING_LEVEL = 2


class Rating(Model):
    """The citizen's rating, stored with what answered it so reports can slice."""

    __tablename__ = "rating"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), unique=True)
    level: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[str] = mapped_column(String(10))  # yes|partly|no
    comment: Mapped[str] = mapped_column(Text, default="")
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    procedure_id: Mapped[int | None] = mapped_column(ForeignKey("procedure.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    case: Mapped[Case] = relationship(back_populates="rating")

    @hybrid_property
    def is_low(self) -> bool:
        """Rated low: one of the two lowest levels, or the problem not resolved.
        Such a rating lets the citizen ask for a review and is what the staff
        inbox's "rated low" filter finds; works in Python and in SQL."""
        return self.level <= LOW_RATING_LEVEL or self.resolved == "no"

    @is_low.inplace.expression
    @classmethod
    def _is_low_expression(cls):
        return or_(cls.level <= LOW_RATING_LEVEL, cls.resolved == "no")


class CalendarOverride(Model):
    """An announced swap the holidays package does not know yet."""

    __tablename__ = "calendar_override"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    is_working: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(255), default="")


class ApiToken(Model):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "read" may only GET; "write" may also submit and act (TOKEN_SCOPES).
    scope: Mapped[str] = mapped_column(String(10), default="write", server_default="write")
    # When set, the token sees only this agency's cases, whatever its user may see.
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    agency: Mapped[Agency | None] = relationship()

    @property
    def read_only(self) -> bool:
        return self.scope != "write"


class AuditLog(Model):
    """One audited action. Append-only: rows form a hash chain (``prev_hash``
    is the previous row's ``hash``; ``hash`` covers this row's content), built
    by ``feedback.audit.record_audit`` and checked by ``flask audit verify``.
    Ids are given by ``record_audit`` (previous id + 1), so a gap is a
    deleted row and two writers can never both extend the same head."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    action: Mapped[str] = mapped_column(String(60))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str] = mapped_column(String(64), default="")
    prev_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    hash: Mapped[str] = mapped_column(String(64), default="", server_default="")

    user: Mapped[User | None] = relationship()
    case: Mapped[Case | None] = relationship()


class AuditHead(Model):
    """The audit chain's newest row as last appended (one row, id 1): its id
    and hash, moved forward in the same transaction as each append. Rows
    deleted from the end of the log leave the chain itself consistent; the
    head still names the row that should end it, so ``flask audit verify``
    reports them. Migration 0013 adds database triggers that refuse to
    change or delete audit rows and to move the head backwards."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class SubmissionKey(Model):
    """A one-time form token or API Idempotency-Key and what it produced."""

    __tablename__ = "submission_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), index=True)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class DailyCounter(Model):
    """Per-day sequence for human-readable case codes (PAKN.YYYYMMDD.NNNN)."""

    __tablename__ = "daily_counter"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class LoginAttempt(Model):
    """Consecutive wrong passwords given for one e-mail address, and the lock
    they set (feedback/login_guard.py). Kept for every address tried, whether
    or not it has an account, so a lock tells nothing about the address; the
    address itself is not stored, only a keyed hash of it."""

    __tablename__ = "login_attempt"

    address_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
