"""Operator commands."""
from sqlalchemy import func, select

from feedback.extensions import db
from feedback.models import Agency, ApiToken, Category, Procedure, User, hash_token


def test_seed_demo_is_idempotent(runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    def counts():
        return [
            db.session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Agency, Category, Procedure, User)
        ]

    before = counts()
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0
    assert counts() == before
    assert "desk@demo.haiphong.vn" in first.output
    desk = db.session.execute(select(Agency).where(Agency.is_desk.is_(True))).scalars().all()
    assert [a.code for a in desk] == ["VP-UBND"]
    roles = set(db.session.execute(select(User.role)).scalars())
    assert roles == {"citizen", "desk", "officer", "lead", "supervisor", "admin"}
    # Sample cases walked through the workflow, once.
    from feedback.models import Case

    statuses = db.session.execute(select(Case.status)).scalars().all()
    assert len(statuses) == 8 and {"submitted", "in_progress", "needs_info", "responded"} <= set(statuses)


def test_users_create_needs_agency_only_for_officer_and_lead(runner, make):
    agency = make.agency(code="SO-TP")
    officer = ["users", "create", "--email", "cb@hp.vn", "--password", "mat-khau-dai-du", "--role", "officer"]
    result = runner.invoke(args=officer)
    assert result.exit_code != 0 and "--agency" in result.output
    result = runner.invoke(args=[*officer, "--agency", "SO-TP"])
    assert result.exit_code == 0, result.output
    user = db.session.execute(select(User).where(User.email == "cb@hp.vn")).scalar_one()
    assert user.agency_id == agency.id and user.check_password("mat-khau-dai-du")
    supervisor = ["users", "create", "--email", "gs@hp.vn", "--password", "mat-khau-dai-du", "--role", "supervisor"]
    result = runner.invoke(args=supervisor)
    assert result.exit_code == 0, result.output


def test_users_create_refuses_duplicates_and_unknown_agency(runner, make):
    make.user(role="admin", email="a@hp.vn")
    dup = runner.invoke(
        args=["users", "create", "--email", "A@hp.vn", "--password", "mat-khau-dai-du", "--role", "admin"]
    )
    assert dup.exit_code != 0 and "already exists" in dup.output
    lead = ["users", "create", "--email", "x@hp.vn", "--password", "mat-khau-dai-du", "--role", "lead"]
    bad = runner.invoke(args=[*lead, "--agency", "NOPE"])
    assert bad.exit_code != 0 and "no agency" in bad.output


def test_tokens_create_prints_the_token_alone_on_the_last_line(runner, make):
    user = make.user(role="officer")
    result = runner.invoke(args=["tokens", "create", "--email", user.email])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert " " not in token and len(token) >= 40
    stored = db.session.execute(select(ApiToken)).scalar_one()
    assert stored.token_hash == hash_token(token) and stored.user_id == user.id
