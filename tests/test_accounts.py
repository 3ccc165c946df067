"""Citizen accounts: registration, e-mail verification and "my cases"."""
from sqlalchemy import select

from feedback import workflow as wf
from feedback.extensions import db
from feedback.mail import render_mail
from feedback.models import Notification, User


def register(client, email="hoa.pham@example.vn"):
    return client.post("/auth/register", data={"full_name": "Phạm Thị Hoa", "email": email,
                                               "password": "mat-khau-rat-dai", "confirm": "mat-khau-rat-dai"})


def verify_link() -> str:
    """The link as the mail carries it: the outbox row holds no link, it is signed at rendering."""
    row = db.session.execute(select(Notification).where(Notification.template == "verify_email")).scalar_one()
    text = render_mail(row).text
    start = text.index("/auth/verify/")
    return text[start:].split()[0]


def send_case(make, email: str, title: str):
    agency = make.agency()
    make.desk_agency()
    case, _ = wf.submit_case(wf.Submission(
        type="report", sender_kind="individual", sender_name="Phạm Thị Hoa", sender_address="Ngô Quyền",
        sender_phone="0912345678", sender_email=email, title=title, content="Nội dung đủ dài để gửi.",
        category_id=make.category(agency=agency).id))
    db.session.commit()
    return case


def test_registering_sends_a_verification_mail_and_my_cases_waits_for_it(client, make):
    earlier = send_case(make, "hoa.pham@example.vn", "Gửi trước khi đăng ký")
    assert register(client).status_code == 302
    user = db.session.execute(select(User).where(User.email == "hoa.pham@example.vn")).scalar_one()
    assert user.role == "citizen" and not user.email_verified
    page = client.get("/my-cases").get_data(as_text=True)
    assert earlier.code not in page and "Gửi lại thư xác minh" in page
    assert client.get(verify_link()).status_code == 303
    db.session.expire_all()
    assert db.session.get(User, user.id).email_verified
    assert earlier.code in client.get("/my-cases").get_data(as_text=True)


def test_a_tampered_verification_link_verifies_nothing(client, make):
    register(client)
    link = verify_link()
    assert client.get(link[:-3] + "xyz").status_code == 404
    assert not db.session.execute(select(User.email_verified)).scalar_one()


def test_cases_of_another_address_never_show_in_my_cases(client, make):
    other = send_case(make, "someone.else@example.vn", "Của người khác")
    register(client)
    client.get(verify_link())
    assert other.code not in client.get("/my-cases").get_data(as_text=True)


def test_a_second_registration_with_the_same_address_is_refused(client, make):
    register(client)
    client.post("/auth/logout")
    response = register(client, "HOA.PHAM@example.vn")
    assert response.status_code == 200
    assert "Thư điện tử này đã được đăng ký." in response.get_data(as_text=True)
    assert db.session.execute(select(User)).scalars().all().__len__() == 1
