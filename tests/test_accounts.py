"""Citizen accounts: registration, e-mail verification and "my cases"."""
from sqlalchemy import delete, select

from feedback import workflow as wf
from feedback.extensions import db
from feedback.mail import render_mail
from feedback.models import Notification, User


def register(client, email="hoa.pham@example.vn", password="mat-khau-rat-dai"):
    return client.post("/auth/register", data={"full_name": "Phạm Thị Hoa", "email": email,
                                               "password": password, "confirm": password})


def register_and_log_in(client, email="hoa.pham@example.vn"):
    """Registering does not log in (the answer must not say whether the
    address was new); the citizen logs in with the password just chosen."""
    assert register(client, email).status_code == 303
    return client.post("/auth/login", data={"email": email, "password": "mat-khau-rat-dai"})


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
    assert register_and_log_in(client).status_code == 302
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
    register_and_log_in(client)
    client.get(verify_link())
    assert other.code not in client.get("/my-cases").get_data(as_text=True)


def test_registering_answers_the_same_for_a_known_and_an_unknown_address_and_mails_the_owner(client, make):
    client.get(register(client).headers["Location"])
    db.session.execute(delete(Notification))
    db.session.commit()

    known = register(client, "HOA.PHAM@example.vn", password="mot-mat-khau-khac")
    known_page = client.get(known.headers["Location"]).get_data(as_text=True)
    unknown = register(client, "lan.tran@example.vn")
    unknown_page = client.get(unknown.headers["Location"]).get_data(as_text=True)
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"]
    assert known_page.replace("hoa.pham@example.vn", "@") == unknown_page.replace("lan.tran@example.vn", "@")
    assert "đã được đăng ký" not in known_page

    assert len(db.session.execute(select(User)).scalars().all()) == 2  # no second account for Hoa
    mails = {n.recipient: n.template for n in db.session.execute(select(Notification)).scalars()}
    assert mails == {"hoa.pham@example.vn": "account_exists", "lan.tran@example.vn": "verify_email"}
    # The someone who tried Hoa's address did not change her password.
    assert client.post("/auth/login", data={"email": "hoa.pham@example.vn",
                                            "password": "mat-khau-rat-dai"}).status_code == 302
