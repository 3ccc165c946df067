"""Idempotent demo data: Hải Phòng's agencies as organised since 2025,
categories, a small procedure catalogue and one account per role.

The procedure codes are this demo's own (prefix DEMO-); the legal documents
are real national texts named by their numbers.
"""
from __future__ import annotations

from sqlalchemy import select

from .extensions import db
from .models import Agency, Category, Procedure, Role, User
from .text import fold

AGENCIES = [
    # code, name, English name, kind, parent, is_desk
    ("UBND-HP", "UBND thành phố Hải Phòng", "Hai Phong City People's Committee", "city", None, False),
    ("VP-UBND", "Văn phòng UBND thành phố", "City People's Committee Office", "city_office", "UBND-HP", True),
    ("SO-TP", "Sở Tư pháp", "Department of Justice", "department", "UBND-HP", False),
    ("SO-TC", "Sở Tài chính", "Department of Finance", "department", "UBND-HP", False),
    ("SO-XD", "Sở Xây dựng", "Department of Construction", "department", "UBND-HP", False),
    ("SO-NNMT", "Sở Nông nghiệp và Môi trường", "Department of Agriculture and Environment", "department", "UBND-HP", False),
    ("SO-NV", "Sở Nội vụ", "Department of Home Affairs", "department", "UBND-HP", False),
    ("SO-YT", "Sở Y tế", "Department of Health", "department", "UBND-HP", False),
    ("SO-GDDT", "Sở Giáo dục và Đào tạo", "Department of Education and Training", "department", "UBND-HP", False),
    ("SO-KHCN", "Sở Khoa học và Công nghệ", "Department of Science and Technology", "department", "UBND-HP", False),
    ("P-HONGBANG", "UBND phường Hồng Bàng", "Hong Bang Ward People's Committee", "commune", "UBND-HP", False),
    ("P-LECHAN", "UBND phường Lê Chân", "Le Chan Ward People's Committee", "commune", "UBND-HP", False),
    ("P-NGOQUYEN", "UBND phường Ngô Quyền", "Ngo Quyen Ward People's Committee", "commune", "UBND-HP", False),
    ("X-ANLAO", "UBND xã An Lão", "An Lao Commune People's Committee", "commune", "UBND-HP", False),
    ("DK-CATHAI", "UBND đặc khu Cát Hải", "Cat Hai Special Zone People's Committee", "special_zone", "UBND-HP", False),
    ("DK-BLV", "UBND đặc khu Bạch Long Vĩ", "Bach Long Vi Special Zone People's Committee", "special_zone", "UBND-HP", False),
]

CATEGORIES = [
    ("DAT-DAI", "Đất đai", "Land", "SO-NNMT"),
    ("CAP-PHEP-XD", "Cấp phép xây dựng", "Construction permits", "SO-XD"),
    ("DKKD", "Đăng ký kinh doanh", "Business registration", "SO-TC"),
    ("THUE-PHI", "Thuế, phí, lệ phí", "Taxes and fees", "SO-TC"),
    ("HO-TICH", "Hộ tịch", "Civil status", "SO-TP"),
    ("LAO-DONG", "Lao động, việc làm", "Labour and employment", "SO-NV"),
    ("GIAO-DUC", "Giáo dục", "Education", "SO-GDDT"),
    ("BHYT", "Bảo hiểm y tế", "Health insurance", "SO-YT"),
    ("GIAO-THONG", "Giao thông vận tải", "Transport", "SO-XD"),
    ("MOI-TRUONG", "Môi trường", "Environment", "SO-NNMT"),
    ("DVC-TT", "Dịch vụ công trực tuyến", "Online public services", "SO-KHCN"),
    ("KHAC", "Lĩnh vực khác", "Other", "VP-UBND"),
]

PROCEDURES = [
    ("DEMO-TTHC-DD-01", "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất", "procedure", "DAT-DAI"),
    ("DEMO-TTHC-DD-02", "Cấp Giấy chứng nhận quyền sử dụng đất lần đầu", "procedure", "DAT-DAI"),
    ("DEMO-TTHC-XD-01", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "procedure", "CAP-PHEP-XD"),
    ("DEMO-TTHC-KD-01", "Đăng ký thành lập doanh nghiệp tư nhân", "procedure", "DKKD"),
    ("DEMO-TTHC-HT-01", "Đăng ký khai sinh", "procedure", "HO-TICH"),
    ("DEMO-TTHC-HT-02", "Cấp bản sao trích lục hộ tịch", "procedure", "HO-TICH"),
    ("LAW-31-2024-QH15", "Luật Đất đai số 31/2024/QH15", "legal_document", "DAT-DAI"),
    ("ND-123-2015", "Nghị định 123/2015/NĐ-CP quy định chi tiết Luật Hộ tịch", "legal_document", "HO-TICH"),
    ("ND-20-2008", "Nghị định 20/2008/NĐ-CP về tiếp nhận, xử lý phản ánh, kiến nghị về quy định hành chính", "legal_document", "KHAC"),
]

USERS = [
    # e-mail, role, agency, full name
    ("admin@demo.haiphong.vn", Role.admin, None, "Quản trị hệ thống"),
    ("desk@demo.haiphong.vn", Role.desk, "VP-UBND", "Nguyễn Thị Tiếp Nhận"),
    ("officer@demo.haiphong.vn", Role.officer, "SO-NNMT", "Trần Văn Xử Lý"),
    ("lead@demo.haiphong.vn", Role.lead, "SO-NNMT", "Lê Văn Lãnh Đạo"),
    ("officer.tp@demo.haiphong.vn", Role.officer, "SO-TP", "Phạm Thị Tư Pháp"),
    ("supervisor@demo.haiphong.vn", Role.supervisor, "VP-UBND", "Hoàng Văn Giám Sát"),
    ("citizen@demo.haiphong.vn", Role.citizen, None, "Đỗ Thị Công Dân"),
]
DEMO_PASSWORD = "demo-2026-haiphong"


def staffing_users() -> list[tuple[str, Role, str, str]]:
    """An officer and a lead for every agency a category routes to, where
    USERS has none: a case assigned by default must reach somebody."""
    names = {code: name for code, name, _en, _kind, _parent, _desk in AGENCIES}
    desks = {code for code, *_rest, is_desk in AGENCIES if is_desk}
    have = {(agency, role) for _email, role, agency, _name in USERS}
    extra = []
    for agency in dict.fromkeys(code for *_c, code in CATEGORIES):
        if agency in desks:
            continue
        slug = agency.lower().replace("so-", "")
        for role, word in ((Role.officer, "Cán bộ"), (Role.lead, "Lãnh đạo")):
            if (agency, role) not in have:
                extra.append((f"{role.value}.{slug}@demo.haiphong.vn", role, agency, f"{word} {names[agency]}"))
    return extra


def _get_or_create(model, lookup: dict, **values):
    obj = db.session.execute(select(model).filter_by(**lookup)).scalar_one_or_none()
    if obj is None:
        obj = model(**lookup, **values)
        db.session.add(obj)
        db.session.flush()
    return obj


def seed_demo() -> list[tuple[str, str, str]]:
    """Create what is missing; return the demo accounts (e-mail, role, password)."""
    agencies: dict[str, Agency] = {}
    for code, name, name_en, kind, parent, is_desk in AGENCIES:
        agencies[code] = _get_or_create(
            Agency, {"code": code}, name=name, name_en=name_en, kind=kind,
            parent_id=agencies[parent].id if parent else None, is_desk=is_desk,
            requires_approval=code == "SO-NNMT",
        )
    categories: dict[str, Category] = {}
    for code, name, name_en, agency in CATEGORIES:
        categories[code] = _get_or_create(
            Category, {"code": code}, name=name, name_en=name_en, default_agency_id=agencies[agency].id
        )
    for code, title, kind, category in PROCEDURES:
        _get_or_create(
            Procedure, {"code": code}, title=title, kind=kind,
            category_id=categories[category].id, search_text=fold(f"{code} {title}"),
        )
    accounts = []
    for email, role, agency, full_name in USERS + staffing_users():
        user = db.session.execute(select(User).filter_by(email=email)).scalar_one_or_none()
        if user is None:
            user = User(email=email, role=role.value, full_name=full_name,
                        agency_id=agencies[agency].id if agency else None,
                        email_verified=True)
            user.set_password(DEMO_PASSWORD)
            db.session.add(user)
        if (email, role, agency, full_name) in USERS:  # one account per role is enough to print
            accounts.append((email, role.value, DEMO_PASSWORD))
    db.session.commit()
    return accounts


# Demo cases ---------------------------------------------------------------
# (title, category, type, working days ago received, steps to walk through)
DEMO_CASES = [
    ("Thời gian cấp Giấy chứng nhận quyền sử dụng đất lần đầu quá dài", "DAT-DAI", "report", 1, []),
    ("Đề nghị công khai danh mục hồ sơ cấp phép xây dựng nhà ở", "CAP-PHEP-XD", "recommendation", 7, []),
    ("Yêu cầu nộp bản sao công chứng giấy tờ đã có trên cơ sở dữ liệu dân cư", "DAT-DAI", "report", 4,
     ["assign", "accept"]),
    ("Phí thẩm định hồ sơ đất đai thu hai lần", "DAT-DAI", "report", 16, ["assign", "accept"]),
    ("Hồ sơ đăng ký biến động đất đai bị trả lại không nêu lý do", "DAT-DAI", "report", 6,
     ["assign", "accept", "request_info"]),
    ("Đề nghị rút ngắn thời hạn giải quyết thủ tục tách thửa", "DAT-DAI", "recommendation", 9,
     ["assign", "accept", "draft"]),
    ("Hệ thống một cửa điện tử không nhận tệp PDF có chữ ký số khi nộp hồ sơ đất đai", "DAT-DAI", "report", 12,
     ["assign", "accept", "answer", "publish"]),
    ("Thủ tục đăng ký khai sinh cho con sinh ở nước ngoài chưa rõ giấy tờ", "HO-TICH", "report", 25,
     ["assign", "accept", "answer", "rate"]),
]


def seed_demo_cases() -> int:
    """Walk a few sample cases through the workflow, dated in the past, so the
    demo shows every list. Only when the database has no case yet."""
    from datetime import timedelta

    from . import workflow as wf
    from .deadlines import load_calendar
    from .models import Case, utcnow
    from .ratings import rate_case
    from .submission import consent_wording

    if db.session.execute(select(Case.id).limit(1)).first():
        return 0
    users = {u.email.split("@")[0]: u for u in db.session.execute(select(User)).scalars()}
    desk, officer, lead = wf.Actor(users["desk"]), wf.Actor(users["officer"]), wf.Actor(users["lead"])
    officer_tp = wf.Actor(users["officer.tp"])
    categories = {c.code: c for c in db.session.execute(select(Category)).scalars()}
    calendar = load_calendar()
    now = utcnow()
    today = calendar.effective_date(now)
    for n, (title, category, case_type, days_ago, steps) in enumerate(DEMO_CASES, start=1):
        received_day = calendar.subtract_working_days(today, days_ago)
        at = calendar.close_of(received_day) - timedelta(hours=6, minutes=n * 7)
        case, _token = wf.submit_case(wf.Submission(
            type=case_type, sender_kind="individual", sender_name=f"Người dân mẫu {n}",
            sender_address=f"Số {n} đường Lạch Tray, phường Ngô Quyền, Hải Phòng",
            sender_phone=f"09123450{n:02d}", sender_email=f"nguoidan{n}@demo.haiphong.vn",
            title=title, content=f"{title}. Đây là phản ánh mẫu của bộ dữ liệu trình diễn.",
            category_id=categories[category].id, publish_consent=True, publish_consent_text=consent_wording("vi"),
        ), now=at)
        handler = officer_tp if category == "HO-TICH" else officer
        step_at = at
        for step in steps:
            # Each step on the next working day, mid-morning, never in the future.
            next_day = calendar.next_working_day(calendar.effective_date(step_at))
            step_at = min(calendar.close_of(next_day) - timedelta(hours=7, minutes=n), now)
            if step == "assign":
                wf.assign_case(case, desk, case.proposed_agency, now=step_at)
            elif step == "accept":
                wf.accept_case(case, handler, now=step_at)
            elif step == "request_info":
                wf.request_information(case, handler, "Đề nghị bổ sung bản sao thông báo trả hồ sơ.", now=step_at)
            elif step == "draft":
                wf.submit_answer(case, handler, "amend_rule", "Sở sẽ trình UBND thành phố rút ngắn thời hạn.",
                                 now=step_at)
            elif step == "answer":
                if case.agency.requires_approval:
                    wf.submit_answer(case, lead, "explained",
                                     "Hệ thống đã được nâng cấp để nhận tệp PDF có chữ ký số.", now=step_at)
                else:
                    wf.submit_answer(case, handler, "explained",
                                     "Giấy tờ cần nộp gồm tờ khai và giấy chứng sinh do nước ngoài cấp đã hợp pháp hoá.",
                                     now=step_at)
            elif step == "publish":
                wf.publish_case(case, desk, title, "Người dân phản ánh hệ thống không nhận tệp PDF có chữ ký số.",
                                now=step_at)
            elif step == "rate":
                rate_case(case, 5, "yes", "Trả lời rõ ràng.", now=step_at)
        db.session.commit()
    return len(DEMO_CASES)
