"""`flask backup create` / `flask backup restore`: a populated system restored
into an empty database and an empty uploads folder comes back identical, on
SQLite and on PostgreSQL; a damaged archive or a database at another revision
is refused."""
from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys
import tarfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select, text

from config import TestConfig
from feedback import create_app
from feedback import workflow as wf
from feedback.extensions import db
from feedback.models import Attachment, Case, CaseEvent, Rating

from .conftest import scratch_databases
from .helpers import PDF_BYTES, PNG_BYTES, Factory, submit

ROOT = Path(__file__).resolve().parent.parent
# The suite's app first: it sets up the shared rate limiter the other apps here reuse.
pytestmark = pytest.mark.usefixtures("_app_and_schema")


def flask_upgrade(url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": secrets.token_urlsafe(48)}
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr


def app_for(url: str, uploads: Path, mail: Path):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url
        UPLOAD_FOLDER = str(uploads)
        MAIL_FOLDER = str(mail)

    return create_app(Config)


@contextmanager
def pushed(app):
    with app.app_context():
        try:
            yield
        finally:
            db.session.remove()
            db.engine.dispose()


def attach(case, name: str, content: bytes, content_type: str):
    from feedback.attachments import Upload, written_files

    with written_files() as files:
        files.save(case, [Upload(name, content, content_type)], from_citizen=True)
        db.session.commit()


def populate() -> None:
    """Cases with attachments, some walked through the workflow and rated."""
    from feedback import ratings

    make = Factory()
    desk_agency = make.desk_agency()
    justice = make.agency(code="SO-TP", name="Sở Tư pháp")
    category = make.category(agency=justice)
    desk = wf.Actor(make.user("desk", agency=desk_agency))
    officer = wf.Actor(make.user("officer", agency=justice))
    cases = []
    for n in range(4):
        case, _token = submit(category, title=f"Phản ánh số {n} về hộ tịch", sender_email=f"dan{n}@example.vn")
        attach(case, f"giay-to-{n}.pdf", PDF_BYTES + f"% case {n}\n".encode(), "application/pdf")
        if n % 2:
            attach(case, f"anh-{n}.png", PNG_BYTES, "image/png")
        cases.append(case)
    for case in cases[:3]:
        wf.assign_case(case, desk, justice)
        wf.accept_case(case, officer)
    for case, (level, resolved) in zip(cases[:2], [(5, "yes"), (2, "no")], strict=True):
        wf.submit_answer(case, officer, "explained", "Hồ sơ đã được giải quyết theo quy định.")
        db.session.commit()
        ratings.rate_case(case, level, resolved, "Ý kiến của người dân")
    db.session.commit()


def snapshot() -> dict[str, list[dict]]:
    """Every row of every table (and the Alembic revision), in key order."""
    tables = {}
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            tables[table.name] = [dict(row._mapping) for row in connection.execute(select(table).order_by(*order))]
        tables["alembic_version"] = [dict(row._mapping) for row in
                                     connection.execute(text("SELECT version_num FROM alembic_version"))]
    return tables


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def round_trip(source_url: str, target_url: str, tmp_path: Path) -> None:
    flask_upgrade(source_url)
    source_uploads, target_uploads = tmp_path / "uploads-src", tmp_path / "uploads-dst"
    source = app_for(source_url, source_uploads, tmp_path / "mail")
    with pushed(source):
        populate()
        before = snapshot()
        assert {name: len(rows) for name, rows in before.items() if name in ("case", "attachment", "rating")} \
            == {"case": 4, "attachment": 6, "rating": 2}
        assert len(before["case_event"]) > 10
        result = source.test_cli_runner().invoke(args=["backup", "create", "--to", str(tmp_path / "backups")])
        assert result.exit_code == 0, result.output
    (archive,) = (tmp_path / "backups").glob("feedback-backup-*.tar.gz")
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["database"]["alembic_revision"] == before["alembic_version"][0]["version_num"]
    assert len([f for f in manifest["files"] if f["path"].startswith("uploads/")]) == 6
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in manifest["files"])

    target = app_for(target_url, target_uploads, tmp_path / "mail")
    with pushed(target):
        declined = target.test_cli_runner().invoke(args=["backup", "restore", str(archive)], input="n\n")
        assert declined.exit_code != 0 and "cancelled" in declined.output
        assert not target_uploads.exists() or not files_in(target_uploads)
        result = target.test_cli_runner().invoke(args=["backup", "restore", str(archive), "--yes"])
        assert result.exit_code == 0, result.output
        after = snapshot()
        for name in before:
            assert after[name] == before[name], f"table {name} differs after the restore"
        restored = files_in(target_uploads)
        assert restored == files_in(source_uploads)
        for attachment in db.session.execute(select(Attachment)).scalars():
            assert (target_uploads / attachment.stored_name).exists() or any(
                path.endswith(attachment.stored_name) for path in restored)
        assert db.session.execute(select(Rating)).scalars().all()
        assert len(db.session.execute(select(Case)).scalars().all()) == 4
        assert db.session.execute(select(CaseEvent)).scalars().first() is not None


def test_backup_and_restore_into_an_empty_sqlite_database(tmp_path):
    round_trip(f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'target.db'}", tmp_path)


def test_backup_and_restore_into_an_empty_postgresql_database(tmp_path):
    with scratch_databases("backup", 2) as (source, target):
        round_trip(source, target, tmp_path)


@pytest.fixture
def sqlite_archive(tmp_path):
    """A migrated SQLite system with one case and a file, and its backup."""
    url = f"sqlite:///{tmp_path / 'source.db'}"
    flask_upgrade(url)
    app = app_for(url, tmp_path / "uploads", tmp_path / "mail")
    with pushed(app):
        make = Factory()
        make.desk_agency()
        case, _ = submit(make.category())
        attach(case, "a.pdf", PDF_BYTES, "application/pdf")
        result = app.test_cli_runner().invoke(args=["backup", "create", "--to", str(tmp_path / "backups")])
        assert result.exit_code == 0, result.output
    (archive,) = (tmp_path / "backups").glob("*.tar.gz")
    return archive


def rewrite(archive: Path, out: Path, change) -> Path:
    """A copy of ``archive`` with ``change(name, data) -> data`` applied to each member."""
    with tarfile.open(archive) as source, tarfile.open(out, "w:gz") as target:
        for member in source.getmembers():
            data = change(member.name, source.extractfile(member).read())
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    return out


def test_a_tampered_archive_is_refused_before_anything_changes(sqlite_archive, tmp_path):
    tampered = rewrite(sqlite_archive, tmp_path / "tampered.tar.gz",
                       lambda name, data: data.replace(b"%%EOF", b"%%EOX") if name.startswith("uploads/") else data)
    target = app_for(f"sqlite:///{tmp_path / 'target.db'}", tmp_path / "uploads-dst", tmp_path / "mail")
    with pushed(target):
        result = target.test_cli_runner().invoke(args=["backup", "restore", str(tampered), "--yes"])
        assert result.exit_code != 0
        assert "damaged or was altered" in result.output and "checksum mismatch" in result.output
        assert not db.inspect(db.engine).get_table_names()
    assert not (tmp_path / "uploads-dst").exists()


def test_a_database_at_another_revision_is_refused_unless_empty(sqlite_archive, tmp_path):
    url = f"sqlite:///{tmp_path / 'other.db'}"
    target = app_for(url, tmp_path / "uploads-dst", tmp_path / "mail")
    with pushed(target):
        db.create_all()
        with db.engine.begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version VALUES ('0000older')"))
        result = target.test_cli_runner().invoke(args=["backup", "restore", str(sqlite_archive), "--yes"])
        assert result.exit_code != 0 and "revision 0000older" in result.output
        assert "empty database" in result.output


def test_an_older_archive_with_a_stray_file_in_uploads_restores_and_says_what_it_left_out(sqlite_archive, tmp_path):
    """Backups before the attachment storage copied the whole uploads folder,
    stray files included: such an archive restores its attachments and names
    what it left out, instead of being refused."""
    import hashlib

    stray = b"a note an operator left in the folder"
    older = tmp_path / "older.tar.gz"
    with tarfile.open(sqlite_archive) as source, tarfile.open(older, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else None
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["files"].append({"path": "uploads/.gitkeep", "size": len(stray),
                                          "sha256": hashlib.sha256(stray).hexdigest()})
                data = json.dumps(manifest).encode()
                member.size = len(data)
            target.addfile(member, io.BytesIO(data) if data is not None else None)
        info = tarfile.TarInfo("uploads/.gitkeep")
        info.size = len(stray)
        target.addfile(info, io.BytesIO(stray))

    target = app_for(f"sqlite:///{tmp_path / 'target.db'}", tmp_path / "uploads-dst", tmp_path / "mail")
    with pushed(target):
        result = target.test_cli_runner().invoke(args=["backup", "restore", str(older), "--yes"])
        assert result.exit_code == 0, result.output
        assert "left out 1 file(s)" in result.output and ".gitkeep" in result.output
        stored = {attachment.stored_name for attachment in db.session.execute(select(Attachment)).scalars()}
    assert stored and set(files_in(tmp_path / "uploads-dst")) == stored
