"""The submission as a web form, shared by the citizen's form (step 2) and
the desk's form for cases received by letter, phone, e-mail or in person.

Messages are Vietnamese first and name the field and the expected shape, so
the sender knows what to change. Text is kept as typed (outer spaces aside).
"""
from __future__ import annotations

import re
import secrets

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, HiddenField, RadioField, SelectField, StringField, TelField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, StopValidation, ValidationError

from .extensions import db
from .models import Agency, CaseType, Category, Procedure, SenderKind
from .submission import CITIZEN_ID, CONTENT_MAX, CONTENT_MIN, TAX_CODE, TITLE_MAX, normalise_phone, stripped
from .workflow import Submission

FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,100}")


def new_form_token() -> str:
    """A random one-time token for one filling-in of the submission form."""
    return secrets.token_urlsafe(32)


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
    full_name = StringField(_l("Họ và tên"), filters=[stripped], validators=[
        OnlyFor("individual", _l("Vui lòng nhập họ và tên.")),
        Length(max=255, message=_l("Họ và tên tối đa 255 ký tự."))],
        render_kw={"autocomplete": "name"})
    id_number = StringField(_l("Số định danh cá nhân (không bắt buộc)"), filters=[stripped],
                            validators=[OnlyFor("individual"), Optional(), valid_citizen_id],
                            render_kw={"inputmode": "numeric", "maxlength": 14})
    business_name = StringField(_l("Tên doanh nghiệp, tổ chức"), filters=[stripped], validators=[
        OnlyFor("business", _l("Vui lòng nhập tên doanh nghiệp, tổ chức.")),
        Length(max=255, message=_l("Tên doanh nghiệp tối đa 255 ký tự."))],
        render_kw={"autocomplete": "organization"})
    tax_code = StringField(_l("Mã số thuế"), filters=[stripped], validators=[
        OnlyFor("business", _l("Vui lòng nhập mã số thuế.")), valid_tax_code],
        render_kw={"inputmode": "numeric", "maxlength": 14})
    representative = StringField(_l("Người đại diện"), filters=[stripped], validators=[
        OnlyFor("business", _l("Vui lòng nhập họ tên người đại diện.")),
        Length(max=255, message=_l("Họ tên người đại diện tối đa 255 ký tự."))])
    address = StringField(_l("Địa chỉ"), filters=[stripped], validators=[
        DataRequired(_l("Vui lòng nhập địa chỉ liên hệ.")),
        Length(max=500, message=_l("Địa chỉ tối đa 500 ký tự."))],
        render_kw={"autocomplete": "street-address"})
    phone = TelField(_l("Số điện thoại"), filters=[stripped], validators=[
        DataRequired(_l("Vui lòng nhập số điện thoại.")), valid_phone],
        render_kw={"autocomplete": "tel", "inputmode": "tel"})
    email = EmailField(_l("Thư điện tử"), filters=[stripped], validators=[
        DataRequired(_l("Vui lòng nhập thư điện tử: phản ánh gửi trực tuyến cần có thư điện tử "
                        "để nhận mã và kết quả.")),
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
    title = StringField(_l("Tiêu đề"), filters=[stripped], validators=[
        DataRequired(_l("Vui lòng nhập tiêu đề.")),
        Length(max=TITLE_MAX, message=_l("Tiêu đề tối đa %(max)d ký tự (hiện có %(length)d ký tự)."))],
        render_kw={"maxlength": TITLE_MAX})
    content = TextAreaField(_l("Nội dung"), filters=[stripped], validators=[
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
            SelectChoice(str(c.id), c.local_name) for c in active(Category, Category.name)]
        self.procedure_id.choices = [SelectChoice("", _l("— Không chọn —"))] + [
            SelectChoice(str(p.id), p.title, optgroup=p.category.local_name if p.category else str(_l("Khác")))
            for p in active(Procedure, Procedure.category_id, Procedure.title)]
        self.agency_id.choices = [SelectChoice("", _l("— Không chọn —"))] + [
            SelectChoice(str(a.id), a.local_name, optgroup=str(AGENCY_GROUPS.get(a.kind, _l("Cơ quan khác"))))
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
