"""The desk's form for cases received by letter, phone, e-mail or in person."""
from datetime import datetime

from flask_babel import lazy_gettext as _l
from wtforms import DateTimeLocalField, EmailField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from ..deadlines import OFFICE_TZ
from ..labels import CHANNEL
from ..models import Channel, utcnow
from ..submission import stripped
from ..submission_forms import DetailsForm

OFFLINE_CHANNELS = [c.value for c in Channel if c not in (Channel.online, Channel.api, Channel.open311)]


class RecordCaseForm(DetailsForm):
    """DetailsForm with the channel and the real date of receipt; e-mail is
    optional here since a letter or a call may come without one."""

    channel = SelectField(_l("Kênh tiếp nhận"),
                          choices=[SelectChoice("", _l("— Chọn kênh —"))]
                          + [SelectChoice(c, CHANNEL[c]) for c in OFFLINE_CHANNELS],
                          validators=[DataRequired(_l("Vui lòng chọn kênh tiếp nhận."))])
    received_at = DateTimeLocalField(_l("Thời điểm tiếp nhận thực tế (giờ Việt Nam)"),
                                     format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                     validators=[DataRequired(_l("Vui lòng nhập thời điểm tiếp nhận."))])
    email = EmailField(_l("Thư điện tử (nếu có: người dân nhận mã và đường dẫn riêng)"), filters=[stripped],
                       validators=[Optional(), Email(_l("Địa chỉ thư điện tử không hợp lệ (ví dụ: ten@example.vn).")),
                                   Length(max=255)])

    def validate_received_at(self, field):
        if field.data and field.data.replace(tzinfo=OFFICE_TZ) > utcnow():
            raise ValidationError(_l("Thời điểm tiếp nhận không được ở tương lai."))

    def received_at_utc(self) -> datetime:
        return self.received_at.data.replace(tzinfo=OFFICE_TZ)


def check_assign_form(action: str, form) -> None:
    """What the case page's assign and transfer forms need before the
    workflow runs: an explicit classification (no silent default), a chosen
    agency, and, for an agency with no active officer or lead, the desk's
    confirmation that it sends the case there anyway."""
    from ..staffing import is_unstaffed
    from ..workflow import InvalidInput

    if action not in ("assign", "transfer"):
        return
    errors = {}
    if action == "assign" and not (form.get("classification") or "").strip():
        errors["classification"] = str(_l("Vui lòng chọn phân loại."))
    agency = (form.get("agency") or "").strip()
    if not agency:
        errors["agency"] = str(_l("Vui lòng chọn cơ quan xử lý."))
    elif action == "assign" and is_unstaffed(agency) and form.get("confirm_unstaffed") != "1":
        errors["confirm_unstaffed"] = str(_l("Cơ quan này chưa có cán bộ hoặc lãnh đạo nào đang hoạt động để xử lý. "
                                              "Đánh dấu xác nhận nếu vẫn chuyển đến cơ quan này."))
    if errors:
        raise InvalidInput(_l("Vui lòng kiểm tra lại: %(problems)s", problems=" ".join(errors.values())), errors)
