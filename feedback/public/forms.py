"""Forms of the public side: the submission (in two steps), adding
information, withdrawing, and asking for a new private link.

Messages are Vietnamese first and name the field and the expected shape, so
the sender knows what to change. Text is kept as typed (outer spaces aside);
phone numbers are stored in their national form (0912345678).
"""
from __future__ import annotations

import re
import secrets

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from sqlalchemy import select
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, StopValidation, ValidationError

from ..attachments import ACCEPT_ATTRIBUTE, check_uploads
from ..extensions import db
from ..models import Agency, CaseType, Category, Procedure, SenderKind
from ..workflow import Submission

TITLE_MAX = 255
CONTENT_MIN, CONTENT_MAX = 20, 10000
FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,100}")
PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
MOBILE = re.compile(r"0[35789]\d{8}")
LANDLINE = re.compile(r"02\d{8,9}")
TAX_CODE = re.compile(r"\d{10}(-\d{3})?")
CITIZEN_ID = re.compile(r"\d{12}")


def new_form_token() -> str:
    """A random one-time token for one filling-in of the submission form."""
    return secrets.token_urlsafe(32)


def normalise_phone(value: str | None) -> str | None:
    """``+84 912.345.678`` → ``0912345678``; None unless it is a Vietnamese
    mobile (0 + 9 digits) or landline (02 + 8 or 9 digits) number."""
    digits = PHONE_SEPARATORS.sub("", value or "")
    for prefix in ("+84", "0084"):
        if digits.startswith(prefix):
            digits = "0" + digits[len(prefix):]
    if MOBILE.fullmatch(digits) or LANDLINE.fullmatch(digits):
        return digits
    return None


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _optional_int(value):
    if value in (None, "", "None"):
        return None
    return int(value)


# Validators ---------------------------------------------------------------


class OnlyFor:
    """Skip the field entirely unless the sender is of ``kind``."""

    def __init__(self, kind: str, required_message=None):
        self.kind = kind
        self.required_message = required_message
        self.field_flags = {"required": True} if required_message else {}

    def __call__(self, form, field):
        if form.sender_kind.data != self.kind:
            field.errors[:] = []
            raise StopValidation()
        if self.required_message and not (field.data or "").strip():
            raise StopValidation(self.required_message)


def valid_phone(form, field):
    if normalise_phone(field.data) is None:
        raise ValidationError(_l("Số điện thoại không hợp lệ. Nhập số di động 10 chữ số (ví dụ 0912 345 678) "
                                 "hoặc số cố định có mã vùng (ví dụ 0225 3842 123); có thể bắt đầu bằng +84."))


def valid_tax_code(form, field):
    if not TAX_CODE.fullmatch(field.data or ""):
        raise ValidationError(_l("Mã số thuế gồm 10 chữ số, hoặc 10 chữ số, dấu gạch ngang và 3 chữ số "
                                 "(ví dụ 0201234567-001)."))


def valid_citizen_id(form, field):
    if not CITIZEN_ID.fullmatch((field.data or "").replace(" ", "")):
        raise ValidationError(_l("Số định danh cá nhân (số căn cước) gồm đúng 12 chữ số."))


# The submission -------------------------------------------------------------

# How the agency picker groups agencies, by Agency.kind.
AGENCY_GROUPS = {
    "city": _l("Thành phố"),
    "city_office": _l("Thành phố"),
    "department": _l("Sở, ban, ngành"),
    "commune": _l("UBND phường, xã"),
    "special_zone": _l("UBND đặc khu"),
}


def active(model, *order_by):
    """The active rows of ``model`` (agencies, categories, procedures) to choose from."""
    return db.session.execute(select(model).where(model.active.is_(True)).order_by(*order_by)).scalars().all()


class DetailsForm(FlaskForm):
    """Step 2 of the submission: who sends, what about, and the text."""

    form_token = HiddenField(default=new_form_token)
    sender_kind = RadioField(
        _l("Người gửi là"), default=SenderKind.individual.value,
        choices=[SelectChoice(SenderKind.individual.value, _l("Cá nhân")),
                 SelectChoice(SenderKind.business.value, _l("Doanh nghiệp, tổ chức"))],
        invalid_choice_message=_l("Vui lòng chọn người gửi là cá nhân hay doanh nghiệp, tổ chức."))
    full_name = StringField(_l("Họ và tên"), filters=[_strip], validators=[
        OnlyFor("individual", _l("Vui lòng nhập họ và tên.")),
        Length(max=255, message=_l("Họ và tên tối đa 255 ký tự."))],
        render_kw={"autocomplete": "name"})
    id_number = StringField(_l("Số định danh cá nhân (không bắt buộc)"), filters=[_strip],
                            validators=[OnlyFor("individual"), Optional(), valid_citizen_id],
                            render_kw={"inputmode": "numeric", "maxlength": 14})
    business_name = StringField(_l("Tên doanh nghiệp, tổ chức"), filters=[_strip], validators=[
        OnlyFor("business", _l("Vui lòng nhập tên doanh nghiệp, tổ chức.")),
        Length(max=255, message=_l("Tên doanh nghiệp tối đa 255 ký tự."))],
        render_kw={"autocomplete": "organization"})
    tax_code = StringField(_l("Mã số thuế"), filters=[_strip], validators=[
        OnlyFor("business", _l("Vui lòng nhập mã số thuế.")), valid_tax_code],
        render_kw={"inputmode": "numeric", "maxlength": 14})
    representative = StringField(_l("Người đại diện"), filters=[_strip], validators=[
        OnlyFor("business", _l("Vui lòng nhập họ tên người đại diện.")),
        Length(max=255, message=_l("Họ tên người đại diện tối đa 255 ký tự."))])
    address = StringField(_l("Địa chỉ"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập địa chỉ liên hệ.")),
        Length(max=500, message=_l("Địa chỉ tối đa 500 ký tự."))],
        render_kw={"autocomplete": "street-address"})
    phone = TelField(_l("Số điện thoại"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập số điện thoại.")), valid_phone],
        render_kw={"autocomplete": "tel", "inputmode": "tel"})
    email = EmailField(_l("Thư điện tử"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập thư điện tử: phản ánh gửi trực tuyến cần có thư điện tử để nhận mã và kết quả.")),
        Email(_l("Địa chỉ thư điện tử không hợp lệ (ví dụ: ten@example.vn).")),
        Length(max=255, message=_l("Thư điện tử tối đa 255 ký tự."))],
        render_kw={"autocomplete": "email"})
    type = RadioField(
        _l("Bạn muốn gửi"),
        choices=[SelectChoice(CaseType.report.value, _l("Phản ánh")),
                 SelectChoice(CaseType.recommendation.value, _l("Kiến nghị"))],
        invalid_choice_message=_l("Vui lòng chọn gửi phản ánh hay kiến nghị."))
    category_id = SelectField(_l("Lĩnh vực"), coerce=_optional_int,
                              validators=[DataRequired(_l("Vui lòng chọn lĩnh vực."))],
                              invalid_choice_message=_l("Lĩnh vực không hợp lệ, vui lòng chọn lại."))
    procedure_id = SelectField(_l("Thủ tục hành chính hoặc văn bản liên quan (không bắt buộc)"),
                               coerce=_optional_int,
                               invalid_choice_message=_l("Thủ tục không hợp lệ, vui lòng chọn lại."))
    agency_id = SelectField(_l("Cơ quan bạn cho là có trách nhiệm (không bắt buộc)"), coerce=_optional_int,
                            invalid_choice_message=_l("Cơ quan không hợp lệ, vui lòng chọn lại."))
    title = StringField(_l("Tiêu đề"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập tiêu đề.")),
        Length(max=TITLE_MAX, message=_l("Tiêu đề tối đa %(max)d ký tự (hiện có %(length)d ký tự)."))],
        render_kw={"maxlength": TITLE_MAX})
    content = TextAreaField(_l("Nội dung"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập nội dung phản ánh, kiến nghị.")),
        Length(min=CONTENT_MIN, max=CONTENT_MAX,
               message=_l("Nội dung cần từ %(min)d đến %(max)d ký tự (hiện có %(length)d ký tự)."))],
        render_kw={"maxlength": CONTENT_MAX, "rows": 10})

    # The fields carried, hidden, from step 2 to step 3.
    DETAILS = ("sender_kind", "full_name", "id_number", "business_name", "tax_code", "representative",
               "address", "phone", "email", "type", "category_id", "procedure_id", "agency_id", "title", "content")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category_id.choices = [SelectChoice("", _l("— Chọn lĩnh vực —"))] + [
            SelectChoice(str(c.id), c.name) for c in active(Category, Category.name)]
        self.procedure_id.choices = [SelectChoice("", _l("— Không chọn —"))] + [
            SelectChoice(str(p.id), p.title, optgroup=p.category.name if p.category else str(_l("Khác")))
            for p in active(Procedure, Procedure.category_id, Procedure.title)]
        self.agency_id.choices = [SelectChoice("", _l("— Không chọn —"))] + [
            SelectChoice(str(a.id), a.name, optgroup=str(AGENCY_GROUPS.get(a.kind, _l("Cơ quan khác"))))
            for a in active(Agency, Agency.kind, Agency.name) if not a.is_desk]
        if not FORM_TOKEN.fullmatch(self.form_token.data or ""):
            self.form_token.data = new_form_token()

    def carried(self) -> list[tuple[str, str]]:
        """The step-2 answers exactly as sent, to carry as hidden fields."""
        return [(name, self[name].raw_data[0] if self[name].raw_data else "") for name in self.DETAILS]

    def to_submission(self, citizen_id: int | None = None) -> Submission:
        """The validated answers as the workflow's Submission."""
        business = self.sender_kind.data == SenderKind.business.value
        return Submission(
            type=self.type.data, sender_kind=self.sender_kind.data,
            sender_name=self.business_name.data if business else self.full_name.data,
            sender_address=self.address.data, sender_phone=normalise_phone(self.phone.data),
            sender_email=self.email.data, title=self.title.data, content=self.content.data,
            category_id=self.category_id.data, procedure_id=self.procedure_id.data,
            proposed_agency_id=self.agency_id.data,
            sender_id_number="" if business else (self.id_number.data or "").replace(" ", ""),
            sender_tax_code=self.tax_code.data if business else "",
            sender_representative=self.representative.data if business else "",
            citizen_id=citizen_id,
        )


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
    publish_consent = BooleanField(_l("Tôi đồng ý để nội dung phản ánh, sau khi đã xoá thông tin cá nhân, "
                                      "được công khai cùng câu trả lời trên cổng thông tin của thành phố."))

    def to_submission(self, citizen_id: int | None = None) -> Submission:
        """The step-2 answers plus this step's consent to publish."""
        submission = super().to_submission(citizen_id)
        submission.publish_consent = bool(self.publish_consent.data)
        return submission


# The private page -------------------------------------------------------------


class ProvideInformationForm(AttachmentsMixin, FlaskForm):
    """What the sender adds when the agency asks for more information."""

    version = IntegerField(widget=HiddenField.widget, validators=[Optional()])
    message = TextAreaField(_l("Thông tin bổ sung"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập nội dung bổ sung.")),
        Length(max=CONTENT_MAX, message=_l("Nội dung bổ sung tối đa %(max)d ký tự."))],
        render_kw={"rows": 6, "maxlength": CONTENT_MAX})
    attachments = MultipleFileField(_l("Tài liệu bổ sung (không bắt buộc)"), render_kw={"accept": ACCEPT_ATTRIBUTE})


class WithdrawForm(FlaskForm):
    version = IntegerField(widget=HiddenField.widget, validators=[Optional()])
    reason = TextAreaField(_l("Lý do rút (không bắt buộc)"), filters=[_strip], validators=[
        Length(max=2000, message=_l("Lý do tối đa %(max)d ký tự."))], render_kw={"rows": 3})


class ResendLinkForm(FlaskForm):
    code = StringField(_l("Mã phản ánh, kiến nghị"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập mã phản ánh, kiến nghị.")), Length(max=32)],
        render_kw={"placeholder": "PAKN.20260105.0001", "autocapitalize": "characters"})
    contact = StringField(_l("Thư điện tử hoặc số điện thoại đã dùng khi gửi"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập thư điện tử hoặc số điện thoại đã dùng khi gửi.")), Length(max=255)])
