"""Administration forms. They check the shape of the input; the rules of
the domain (cycles, the one desk, agencies for officers) live in operations."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from ..extensions import db
from ..labels import ROLE
from ..models import Agency, Category
from ..passwords import PasswordPolicy
from ..text import fold
from .operations import MAX_TOKEN_DAYS, POLICY_DAYS_MAX, POLICY_DAYS_MIN, policy_defaults
from .tree import subtree_ids, walk

AGENCY_KINDS = {
    "city": _l("UBND thành phố"),
    "city_office": _l("Văn phòng UBND thành phố"),
    "department": _l("Sở, ban, ngành"),
    "commune": _l("UBND phường, xã"),
    "special_zone": _l("UBND đặc khu"),
    "other": _l("Đơn vị khác"),
}
PROCEDURE_KINDS = {
    "procedure": _l("Thủ tục hành chính"),
    "legal_document": _l("Văn bản quy phạm pháp luật"),
}
KIND_ORDER = {kind: n for n, kind in enumerate(AGENCY_KINDS)}
CODE = Regexp(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
              message=_l("Mã chỉ gồm chữ không dấu, chữ số và các dấu . _ / -, không có khoảng trắng."))


def at_most(n: int) -> Length:
    return Length(max=n, message=_l("Tối đa %(max)d ký tự (hiện có %(length)d ký tự)."))


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def optional_int(value):
    """Blank is None; text that is not a number stays as sent, matches no
    choice and so gets the field's own "not a valid choice" message."""
    if value in (None, "", "None"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def agency_sort_key(agency: Agency):
    return (KIND_ORDER.get(agency.kind, len(KIND_ORDER)), fold(agency.name))


def category_sort_key(category: Category):
    return fold(category.name)


def indented(label: str, depth: int) -> str:
    return f"{'— ' * depth}{label}"


def agency_choices(blank_label, keep_id: int | None = None, exclude_below: int | None = None) -> list[SelectChoice]:
    """Active agencies in tree order (plus ``keep_id``, the current value,
    even if inactive). Agencies under ``exclude_below`` are shown disabled:
    choosing one as a parent would make a loop."""
    agencies = db.session.execute(select(Agency)).scalars().all()
    blocked: set[int] = set()
    if exclude_below is not None:
        blocked = subtree_ids(exclude_below, {a.id: a.parent_id for a in agencies})
    choices = [SelectChoice("", blank_label)]
    for agency, depth in walk(agencies, agency_sort_key):
        if not agency.active and agency.id != keep_id:
            continue
        label = indented(agency.name, depth)
        if not agency.active:
            label += f" ({_l('ngừng hoạt động')})"
        render_kw = {"disabled": True} if agency.id in blocked else {}
        choices.append(SelectChoice(str(agency.id), label, render_kw=render_kw))
    return choices


def category_choices(blank_label, exclude_below: int | None = None) -> list[SelectChoice]:
    categories = db.session.execute(select(Category)).scalars().all()
    blocked: set[int] = set()
    if exclude_below is not None:
        blocked = subtree_ids(exclude_below, {c.id: c.parent_id for c in categories})
    choices = [SelectChoice("", blank_label)]
    for category, depth in walk(categories, category_sort_key):
        label = indented(category.name, depth) + ("" if category.active else f" ({_l('ngừng sử dụng')})")
        choices.append(SelectChoice(str(category.id), label,
                                    render_kw={"disabled": True} if category.id in blocked else {}))
    return choices


class DaysField(IntegerField):
    """Working days, blank meaning "the configured default"."""

    message = _l("Nhập số nguyên từ %(lo)d đến %(hi)d, hoặc để trống để dùng mặc định.",
                 lo=POLICY_DAYS_MIN, hi=POLICY_DAYS_MAX)

    def process_formdata(self, valuelist):
        raw = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if raw:
            try:
                self.data = int(raw)
            except ValueError:
                raise ValueError(str(self.message)) from None

    def pre_validate(self, form):
        if self.data is not None and not POLICY_DAYS_MIN <= self.data <= POLICY_DAYS_MAX:
            raise ValidationError(str(self.message))


# Agencies -------------------------------------------------------------------


class AgencyForm(FlaskForm):
    name = StringField(_l("Tên cơ quan"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập tên cơ quan.")), at_most(255)])
    name_en = StringField(_l("Tên tiếng Anh"), filters=[_strip], validators=[at_most(255)])
    kind = SelectField(_l("Loại cơ quan"), invalid_choice_message=_l("Loại cơ quan không hợp lệ."))
    parent_id = SelectField(_l("Cơ quan cấp trên"), coerce=optional_int,
                            invalid_choice_message=_l("Cơ quan cấp trên không hợp lệ."))
    is_desk = BooleanField(_l("Là bộ phận tiếp nhận (chỉ một cơ quan; chọn ở đây sẽ chuyển từ cơ quan hiện tại)"))
    requires_approval = BooleanField(_l("Câu trả lời phải được lãnh đạo cơ quan phê duyệt trước khi gửi"))

    def __init__(self, *args, agency: Agency | None = None, **kwargs):
        super().__init__(*args, obj=agency, **kwargs)
        kinds = dict(AGENCY_KINDS)
        if agency is not None and agency.kind not in kinds:  # a kind added outside the app
            kinds[agency.kind] = agency.kind
        self.kind.choices = [SelectChoice(k, label) for k, label in kinds.items()]
        self.parent_id.choices = agency_choices(
            _l("— Không có (cấp cao nhất) —"), keep_id=agency.parent_id if agency else None,
            exclude_below=agency.id if agency else None)


class NewAgencyForm(AgencyForm):
    code = StringField(_l("Mã cơ quan"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập mã cơ quan.")), at_most(40), CODE])


# Categories -----------------------------------------------------------------


class CategoryForm(FlaskForm):
    name = StringField(_l("Tên lĩnh vực"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập tên lĩnh vực.")), at_most(255)])
    name_en = StringField(_l("Tên tiếng Anh"), filters=[_strip], validators=[at_most(255)])
    parent_id = SelectField(_l("Lĩnh vực cha"), coerce=optional_int,
                            invalid_choice_message=_l("Lĩnh vực cha không hợp lệ."))
    default_agency_id = SelectField(_l("Cơ quan xử lý mặc định"), coerce=optional_int,
                                    invalid_choice_message=_l("Cơ quan không hợp lệ."))
    classify_days = DaysField(_l("Hạn phân loại, chuyển xử lý (ngày làm việc)"))
    report_answer_days = DaysField(_l("Hạn trả lời phản ánh (ngày làm việc)"))
    recommendation_answer_days = DaysField(_l("Hạn trả lời kiến nghị (ngày làm việc)"))
    extension_max_days = DaysField(_l("Gia hạn tối đa (ngày làm việc)"))
    info_reply_days = DaysField(_l("Hạn người dân bổ sung thông tin (ngày làm việc)"))
    active = BooleanField(_l("Đang sử dụng (hiện trên biểu mẫu gửi phản ánh)"), default=True)

    DAYS = ("classify_days", "report_answer_days", "recommendation_answer_days",
            "extension_max_days", "info_reply_days")

    def __init__(self, *args, category: Category | None = None, **kwargs):
        super().__init__(*args, obj=category, **kwargs)
        self.parent_id.choices = category_choices(_l("— Không có —"),
                                                  exclude_below=category.id if category else None)
        self.default_agency_id.choices = agency_choices(
            _l("— Để bộ phận tiếp nhận xác định —"),
            keep_id=category.default_agency_id if category else None)
        self.defaults = policy_defaults()
        for name in self.DAYS:
            self[name].render_kw = {"placeholder": str(self.defaults[name]), "min": POLICY_DAYS_MIN,
                                    "max": POLICY_DAYS_MAX, "inputmode": "numeric"}

    def days(self) -> dict[str, int | None]:
        return {name: self[name].data for name in self.DAYS}


class NewCategoryForm(CategoryForm):
    code = StringField(_l("Mã lĩnh vực"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập mã lĩnh vực.")), at_most(40), CODE])


# Procedures and legal documents ---------------------------------------------


class ProcedureForm(FlaskForm):
    code = StringField(_l("Mã (mã thủ tục hoặc số hiệu văn bản)"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập mã.")), at_most(60), CODE])
    title = StringField(_l("Tên thủ tục hoặc trích yếu văn bản"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập tên.")), at_most(500)])
    kind = SelectField(_l("Loại"), choices=[SelectChoice(k, v) for k, v in PROCEDURE_KINDS.items()],
                       invalid_choice_message=_l("Loại không hợp lệ."))
    category_id = SelectField(_l("Lĩnh vực"), coerce=optional_int,
                              invalid_choice_message=_l("Lĩnh vực không hợp lệ."))
    agency_id = SelectField(_l("Cơ quan thực hiện"), coerce=optional_int,
                            invalid_choice_message=_l("Cơ quan không hợp lệ."))
    legal_document = StringField(_l("Văn bản pháp lý"), filters=[_strip], validators=[at_most(500)])
    url = StringField(_l("Đường dẫn trên Cổng dịch vụ công"), filters=[_strip], validators=[
        at_most(500), Optional(), Regexp(r"^https?://\S+$", message=_l(
            "Đường dẫn phải bắt đầu bằng http:// hoặc https:// (tối đa 500 ký tự)."))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category_id.choices = category_choices(_l("— Không xác định —"))
        procedure = kwargs.get("obj")
        self.agency_id.choices = agency_choices(_l("— Không xác định —"),
                                                keep_id=procedure.agency_id if procedure else None)


class ProcedureImportForm(FlaskForm):
    """The CSV file, sent again with "apply" after the preview; ``previewed``
    is the digest of the file the preview was made of."""

    file = FileField(_l("Tệp CSV (UTF-8): code, title, category, agency, legal_document, link"), validators=[
        FileRequired(_l("Vui lòng chọn tệp CSV."))])
    previewed = HiddenField()


# Accounts -------------------------------------------------------------------


def role_choices() -> list[SelectChoice]:
    return [SelectChoice(k, v) for k, v in ROLE.items()]


class UserForm(FlaskForm):
    email = EmailField(_l("Thư điện tử"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập thư điện tử.")), Email(_l("Địa chỉ thư điện tử không hợp lệ.")),
        at_most(255)])
    full_name = StringField(_l("Họ và tên"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập họ và tên.")), at_most(255)])
    password = PasswordField(_l("Mật khẩu ban đầu (người dùng phải đổi khi đăng nhập lần đầu)"), validators=[
        DataRequired(_l("Vui lòng nhập mật khẩu.")), PasswordPolicy(email_field="email")])
    role = SelectField(_l("Vai trò"), invalid_choice_message=_l("Vai trò không hợp lệ."))
    agency_id = SelectField(_l("Cơ quan"), coerce=optional_int,
                            invalid_choice_message=_l("Cơ quan không hợp lệ."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = role_choices()
        self.agency_id.choices = agency_choices(_l("— Không thuộc cơ quan nào —"))


class EditUserForm(FlaskForm):
    full_name = StringField(_l("Họ và tên"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập họ và tên.")), at_most(255)])
    role = SelectField(_l("Vai trò"), invalid_choice_message=_l("Vai trò không hợp lệ."))
    agency_id = SelectField(_l("Cơ quan"), coerce=optional_int,
                            invalid_choice_message=_l("Cơ quan không hợp lệ."))
    active = BooleanField(_l("Tài khoản đang hoạt động (bỏ chọn để khoá đăng nhập)"))
    new_password = PasswordField(_l("Đặt lại mật khẩu (để trống nếu không đổi; người dùng phải đổi khi đăng nhập)"),
                                 validators=[Optional(), PasswordPolicy(email=lambda: "")])

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, obj=user, **kwargs)
        self.new_password.validators = [Optional(), PasswordPolicy(email=lambda: user.email)]
        self.role.choices = role_choices()
        self.agency_id.choices = agency_choices(_l("— Không thuộc cơ quan nào —"), keep_id=user.agency_id)


class ApiTokenForm(FlaskForm):
    name = StringField(_l("Tên gợi nhớ (hệ thống sẽ dùng khoá)"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng đặt tên cho khoá, ví dụ: Cổng dịch vụ công quốc gia.")), at_most(100)])
    scope = SelectField(_l("Quyền của khoá"), default="read", choices=[
        SelectChoice("read", _l("Chỉ đọc")), SelectChoice("write", _l("Đọc và ghi (gửi phản ánh, xử lý hồ sơ)"))],
        invalid_choice_message=_l("Phạm vi khoá không hợp lệ."))
    agency_id = SelectField(_l("Chỉ xem hồ sơ của cơ quan"), coerce=optional_int,
                            invalid_choice_message=_l("Cơ quan không hợp lệ."))
    expires_in_days = IntegerField(_l("Hết hạn sau (số ngày, để trống nếu không hết hạn)"), validators=[
        Optional(), NumberRange(min=1, max=MAX_TOKEN_DAYS, message=_l("Số ngày hiệu lực phải từ 1 đến %(max)s.",
                                                                      max=MAX_TOKEN_DAYS))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.agency_id.choices = agency_choices(_l("— Mọi hồ sơ tài khoản được xem —"))


# Holiday calendar -------------------------------------------------------------


class DayField(DateField):
    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(str(_l("Ngày không hợp lệ, vui lòng chọn lại."))) from None


class OverrideForm(FlaskForm):
    day = DayField(_l("Ngày"), validators=[DataRequired(_l("Vui lòng chọn ngày."))])
    is_working = BooleanField(_l("Là ngày làm việc (làm bù)"))
    name = StringField(_l("Ghi chú"), filters=[_strip], validators=[
        DataRequired(_l("Vui lòng nhập ghi chú, ví dụ số văn bản công bố.")), at_most(255)])


class ConfirmForm(FlaskForm):
    """No fields: the CSRF token of a confirmation step."""
