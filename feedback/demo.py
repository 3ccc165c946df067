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
    for email, role, agency, full_name in USERS:
        user = db.session.execute(select(User).filter_by(email=email)).scalar_one_or_none()
        if user is None:
            user = User(email=email, role=role.value, full_name=full_name,
                        agency_id=agencies[agency].id if agency else None,
                        email_verified=True)
            user.set_password(DEMO_PASSWORD)
            db.session.add(user)
        accounts.append((email, role.value, DEMO_PASSWORD))
    db.session.commit()
    return accounts
