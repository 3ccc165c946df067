"""Forms of the public side: the submission (in two steps), adding
information, withdrawing, and asking for a new private link.

Step 2's ``DetailsForm`` lives in ``feedback.submission_forms``, shared
with the desk's form; the rules behind it in ``feedback.submission``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, StopValidation

from ..attachments import ACCEPT_ATTRIBUTE, check_uploads
from ..submission import CONTENT_MAX, PUBLISH_CONSENT, stripped
from ..submission_forms import DetailsForm

if TYPE_CHECKING:
    from ..workflow import Submission


class AttachmentsMixin:
    """Up to the configured number of files, checked by content; the accepted
    ones are left in ``self.uploads``."""

    uploads: list = []

    def validate_attachments(self, field):
        self.uploads, errors = check_uploads(field.data or [])
        if errors:
            field.errors.extend(errors)
            raise StopValidation()


class SendForm(AttachmentsMixin, DetailsForm):
    """Step 3: the step-2 answers again (hidden), the attachments, consent."""

    attachments = MultipleFileField(_l("Tài liệu kèm theo (không bắt buộc)"), render_kw={"accept": ACCEPT_ATTRIBUTE})
    publish_consent = BooleanField(PUBLISH_CONSENT)

    def to_submission(self, citizen_id: int | None = None) -> Submission:
        """The step-2 answers plus this step's consent to publish."""
        submission = super().to_submission(citizen_id)
        submission.publish_consent = bool(self.publish_consent.data)
        # The wording on record is the label as this sender was shown it.
        submission.publish_consent_text = str(self.publish_consent.label.text) if submission.publish_consent else ""
        return submission


# The private page -------------------------------------------------------------


class ProvideInformationForm(AttachmentsMixin, FlaskForm):
    """What the sender adds when the agency asks for more information."""

    version = IntegerField(widget=HiddenField.widget, validators=[Optional()])
    message = TextAreaField(_l("Thông tin bổ sung"), filters=[stripped], validators=[
        DataRequired(_l("Vui lòng nhập nội dung bổ sung.")),
        Length(max=CONTENT_MAX, message=_l("Nội dung bổ sung tối đa %(max)d ký tự."))],
        render_kw={"rows": 6, "maxlength": CONTENT_MAX})
    attachments = MultipleFileField(_l("Tài liệu bổ sung (không bắt buộc)"), render_kw={"accept": ACCEPT_ATTRIBUTE})


class WithdrawForm(FlaskForm):
    version = IntegerField(widget=HiddenField.widget, validators=[Optional()])
    reason = TextAreaField(_l("Lý do rút (không bắt buộc)"), filters=[stripped], validators=[
        Length(max=2000, message=_l("Lý do tối đa %(max)d ký tự."))], render_kw={"rows": 3})


class EraseRequestForm(FlaskForm):
    confirm = BooleanField(_l("Tôi hiểu rằng dữ liệu cá nhân, nội dung và tệp đính kèm của phản ánh này sẽ bị xoá "
                              "vĩnh viễn và không thể khôi phục."),
                           validators=[DataRequired(_l("Vui lòng đánh dấu xác nhận để gửi yêu cầu xoá."))])


class ConfirmResendForm(FlaskForm):
    """The button confirming a new private link (the token is in the address)."""


class ResendLinkForm(FlaskForm):
    code = StringField(_l("Mã phản ánh, kiến nghị"), filters=[stripped], validators=[
        DataRequired(_l("Vui lòng nhập mã phản ánh, kiến nghị.")), Length(max=32)],
        render_kw={"placeholder": "PAKN.20260105.0001", "autocapitalize": "characters"})
    contact = StringField(_l("Thư điện tử hoặc số điện thoại đã dùng khi gửi"), filters=[stripped], validators=[
        DataRequired(_l("Vui lòng nhập thư điện tử hoặc số điện thoại đã dùng khi gửi.")), Length(max=255)])
