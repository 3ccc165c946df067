"""Where attachment files live (feedback/storage.py): a citizen's file goes
into the configured storage and comes back identical, whichever backend holds
it; a stored file is never overwritten, a crash mid-write leaves nothing
behind, a submission that does not commit leaves no file, and an unknown
backend stops the app before it serves anything."""
from __future__ import annotations

import errno
import io
import os
import re
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from sqlalchemy import func, select

from config import TestConfig
from feedback import create_app
from feedback.extensions import db
from feedback.models import Attachment, Case, Notification, SubmissionKey
from feedback.public import intake
from feedback.storage import EXTENSION, LocalFolderStorage, StorageConfigError, storage

from .helpers import PDF_BYTES, PNG_BYTES, Factory, mailed_private_url, online_form, submit
from .test_backup import app_for, attach, flask_upgrade, pushed
from .test_intake import send
from .test_journey_fixes import submit_through_the_form

ROOT = Path(__file__).resolve().parent.parent
NAME = "0123456789abcdef0123456789abcdef"


class MemoryStorage:
    """A backend with no files on this machine, as an object store would be."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, name: str, data: bytes, *, replace: bool = False) -> None:
        if name in self.blobs and not replace:
            raise FileExistsError(name)
        self.blobs[name] = bytes(data)

    def open(self, name: str) -> BinaryIO:
        return io.BytesIO(self.read(name))

    def read(self, name: str) -> bytes:
        if name not in self.blobs:
            raise FileNotFoundError(name)
        return self.blobs[name]

    def exists(self, name: str) -> bool:
        return name in self.blobs

    def size(self, name: str) -> int:
        return len(self.read(name))

    def delete(self, name: str) -> None:
        self.blobs.pop(name, None)

    def names(self) -> Iterator[str]:
        yield from sorted(self.blobs)

    def path_of(self, name: str) -> Path | None:
        return None


@pytest.fixture
def land(make):
    make.desk_agency()
    department = make.agency(code="SO-NNMT", name="Sở Nông nghiệp và Môi trường")
    return make.category(agency=department, name="Đất đai")


@pytest.fixture(params=["local folder", "object store"])
def store(request, app, tmp_path, monkeypatch):
    """The app's attachment storage, empty: a folder of its own, or a backend
    without files on disk (what an S3-compatible one would be)."""
    backend = LocalFolderStorage(tmp_path / "uploads") if request.param == "local folder" else MemoryStorage()
    monkeypatch.setitem(app.extensions, EXTENSION, backend)
    return backend


@pytest.fixture
def folder(app, tmp_path, monkeypatch) -> LocalFolderStorage:
    """The local-folder backend on an empty folder of its own."""
    backend = LocalFolderStorage(tmp_path / "uploads")
    monkeypatch.setitem(app.extensions, EXTENSION, backend)
    return backend


def everything_in(path: Path) -> list[str]:
    """Every entry of the folder, hidden temporary files included."""
    return sorted(p.name for p in path.iterdir()) if path.exists() else []


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def downloads_on_the_private_page(client, case: Case) -> dict[str, bytes]:
    """Open the private link mailed with the receipt and download every file it offers."""
    receipt = db.session.execute(select(Notification).where(
        Notification.case_id == case.id, Notification.template == "receipt")).scalar_one()
    private = mailed_private_url(receipt).split("://", 1)[1].split("/", 1)[1]
    page = client.get(f"/{private}").get_data(as_text=True)
    links = re.findall(r'<a href="(/c/[\w-]+/files/\d+)" download>([^<]+)</a>', page)
    assert links, "the private page offers no file"
    return {name: client.get(href).data for href, name in links}


# Through the pages ------------------------------------------------------------------


def test_a_citizens_upload_lands_in_the_storage_and_downloads_back_identical(client, land, store):
    files = [("Biên bản.pdf", PDF_BYTES), ("ảnh hiện trường.png", PNG_BYTES)]
    case = submit_through_the_form(client, land, consent=False, files=files)

    rows = db.session.execute(select(Attachment).where(Attachment.case_id == case.id)).scalars().all()
    assert sorted(store.names()) == sorted(row.stored_name for row in rows)
    assert {row.filename: store.read(row.stored_name) for row in rows} == dict(files)
    assert all(store.size(row.stored_name) == row.size for row in rows)
    assert downloads_on_the_private_page(client, case) == dict(files)


def test_a_disk_failing_mid_upload_leaves_no_case_and_no_file(client, land, folder, monkeypatch):
    real_fsync, calls = os.fsync, []

    def fails_on_the_second_file(descriptor):
        if stat.S_ISREG(os.fstat(descriptor).st_mode):
            calls.append(descriptor)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fails_on_the_second_file)
    with pytest.raises(OSError, match="Input/output error"):
        submit_through_the_form(client, land, consent=False, files=[("a.pdf", PDF_BYTES), ("b.png", PNG_BYTES)])
    db.session.rollback()
    assert count(Case) == 0 and count(Attachment) == 0
    assert everything_in(folder.folder) == []


def test_a_submission_that_does_not_commit_removes_the_files_it_wrote(client, land, store, monkeypatch):
    """A double click whose second request passed the one-time-token check
    before the first committed: its commit fails on the token, its files go,
    and the citizen lands on the first submission's receipt."""
    first = submit_through_the_form(client, land, consent=False, files=[("a.pdf", PDF_BYTES)])
    kept = set(store.names())
    real_lookup, lookups = intake._case_for_key, []

    def not_committed_yet(key):
        lookups.append(key)
        return None if len(lookups) == 1 else real_lookup(key)

    monkeypatch.setattr(intake, "_case_for_key", not_committed_yet)
    form_token = db.session.execute(select(SubmissionKey.key)).scalar_one()
    again = send(client, online_form(land, form_token=form_token), files=[("b.png", PNG_BYTES)])
    assert again.status_code == 303 and again.headers["Location"].endswith("/submit/receipt")
    assert len(lookups) == 2  # the second request went as far as the commit
    assert count(Case) == 1 and db.session.execute(select(Case)).scalar_one().id == first.id
    assert set(store.names()) == kept


# The local-folder backend -------------------------------------------------------------


def test_a_stored_file_is_never_overwritten(folder):
    folder.put(NAME, b"the first citizen's file")
    with pytest.raises(FileExistsError):
        folder.put(NAME, b"someone else's file")
    assert folder.read(NAME) == b"the first citizen's file"
    assert everything_in(folder.folder) == [NAME]


@pytest.mark.parametrize("failing", ["write", "fsync", "link"])
def test_a_crash_mid_write_leaves_no_file_under_the_name_and_no_temporary_file(folder, monkeypatch, failing):
    def crash(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    real_write = os.write

    def half_then_crash(descriptor, data):
        real_write(descriptor, bytes(data[:len(data) // 2]))
        crash()

    monkeypatch.setattr(os, failing, half_then_crash if failing == "write" else crash)
    with pytest.raises(OSError, match="No space left"):
        folder.put(NAME, PDF_BYTES)
    monkeypatch.undo()
    assert not folder.exists(NAME)
    assert everything_in(folder.folder) == []


def test_the_folder_is_read_and_emptied_only_through_stored_names(folder):
    assert list(folder.names()) == [] and not folder.folder.exists()  # nothing created before the first file
    folder.put(NAME, PDF_BYTES)
    (folder.folder / ".left-by-a-power-cut.tmp").write_bytes(b"half")
    assert list(folder.names()) == [NAME]
    assert folder.size(NAME) == len(PDF_BYTES) and folder.open(NAME).read() == PDF_BYTES
    for name in ("../secret_key", "sub/dir", ".hidden", ""):
        with pytest.raises(ValueError):
            folder.put(name, b"x")
        assert not folder.exists(name)
    folder.delete(NAME)
    folder.delete(NAME)  # already gone: not an error
    assert list(folder.names()) == []


# Configuration ---------------------------------------------------------------------------


def test_the_configured_backend_is_the_local_folder_by_default(app):
    assert isinstance(storage(), LocalFolderStorage)
    assert storage().folder == Path(app.config["UPLOAD_FOLDER"])


def test_an_unknown_backend_stops_the_app_with_a_clear_message():
    class Config(TestConfig):
        ATTACHMENT_STORAGE = "s3"

    with pytest.raises(StorageConfigError) as refused:
        create_app(Config)
    assert "FEEDBACK_ATTACHMENT_STORAGE='s3' is not a known attachment storage backend (known: local)" \
        in str(refused.value)


def test_an_operator_who_misspells_the_backend_sees_why_the_app_does_not_start(tmp_path):
    env = {**os.environ, "FEEDBACK_ATTACHMENT_STORAGE": "nfs", "SECRET_KEY": secrets.token_urlsafe(48),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'feedback.db'}", "FEEDBACK_UPLOAD_FOLDER": str(tmp_path / "up")}
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "routes"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "FEEDBACK_ATTACHMENT_STORAGE='nfs' is not a known attachment storage backend" in result.stderr
    assert not (tmp_path / "up").exists()


# Backup and restore ----------------------------------------------------------------------


@pytest.mark.usefixtures("_app_and_schema")  # the suite's app sets up the rate limiter these apps share
def test_backup_and_restore_read_and_write_only_through_the_storage(tmp_path):
    """With a backend that has no folder (an object store), the archive still
    holds every stored file and the restore puts them back into the storage."""
    source_url, target_url = f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'target.db'}"
    flask_upgrade(source_url)
    source, kept = app_for(source_url, tmp_path / "no-uploads-here", tmp_path / "mail"), MemoryStorage()
    source.extensions[EXTENSION] = kept
    with pushed(source):
        make = Factory()
        make.desk_agency()
        case, _token = submit(make.category())
        attach(case, "a.pdf", PDF_BYTES, "application/pdf")
        attach(case, "b.png", PNG_BYTES, "image/png")
        result = source.test_cli_runner().invoke(args=["backup", "create", "--to", str(tmp_path / "backups")])
        assert result.exit_code == 0, result.output
    (archive,) = (tmp_path / "backups").glob("*.tar.gz")

    target, restored = app_for(target_url, tmp_path / "no-uploads-here", tmp_path / "mail"), MemoryStorage()
    target.extensions[EXTENSION] = restored
    with pushed(target):
        result = target.test_cli_runner().invoke(args=["backup", "restore", str(archive), "--yes"])
        assert result.exit_code == 0, result.output
        assert "2 upload(s)" in result.output
    assert len(kept.blobs) == 2 and restored.blobs == kept.blobs
    assert not (tmp_path / "no-uploads-here").exists()


def test_a_restore_replaces_a_stored_file_in_one_step(folder, monkeypatch):
    """``replace=True`` (only a restore asks for it) swaps the bytes with one
    rename: at no moment is the name missing, and no temporary file stays."""
    folder.put(NAME, b"what the disk held")
    renames = []
    real_replace = os.replace

    def watched_replace(source, target):
        assert folder.read(NAME) == b"what the disk held"  # still there until the swap
        renames.append(target)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", watched_replace)
    folder.put(NAME, b"what the backup held", replace=True)
    assert folder.read(NAME) == b"what the backup held" and len(renames) == 1
    assert everything_in(folder.folder) == [NAME]
