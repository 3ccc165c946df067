from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from ..labels import ROLE


class UserForm(FlaskForm):
    email = EmailField(_l("Thư điện tử"), validators=[DataRequired(_l("Vui lòng nhập thư điện tử.")), Email(_l("Địa chỉ thư điện tử không hợp lệ."))])
    full_name = StringField(_l("Họ và tên"), validators=[DataRequired(_l("Vui lòng nhập họ và tên.")), Length(max=255)])
    password = PasswordField(_l("Mật khẩu ban đầu"), validators=[DataRequired(_l("Vui lòng nhập mật khẩu.")), Length(min=10, message=_l("Mật khẩu cần ít nhất 10 ký tự."))])
    role = SelectField(_l("Vai trò"), choices=[(k, v) for k, v in ROLE.items()])
    agency_id = SelectField(_l("Cơ quan"), coerce=int, validators=[Optional()])


class OverrideForm(FlaskForm):
    day = DateField(_l("Ngày"), validators=[DataRequired(_l("Vui lòng chọn ngày."))])
    is_working = BooleanField(_l("Là ngày làm việc (làm bù)"))
    name = StringField(_l("Ghi chú"), validators=[DataRequired(_l("Vui lòng nhập ghi chú, ví dụ số văn bản công bố.")), Length(max=255)])
