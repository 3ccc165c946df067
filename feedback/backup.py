"""Backups: the database and the uploads folder in one ``.tar.gz``.

``flask backup create [--to DIR]`` writes ``feedback-backup-<UTC time>.tar.gz``
holding ``manifest.json`` (creation time, database kind, Alembic revision,
every file with its size and SHA-256), the database (PostgreSQL:
``database.pgdump``, ``pg_dump --format=custom``; SQLite: ``database.sqlite3``,
copied with SQLite's online backup API) and ``uploads/`` (the attachments, read
through the attachment storage, :mod:`feedback.storage`, whichever backend it is).

``flask backup restore ARCHIVE [--yes]`` checks every checksum before it
touches anything, refuses a database at another Alembic revision unless that
database is empty, then restores the database (``pg_restore --clean
--if-exists --no-owner``, or SQLite's backup API the other way) and writes the
uploads back into the attachment storage.

The PostgreSQL password goes to ``pg_dump``/``pg_restore`` in ``PGPASSWORD``,
never on the command line.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url

from .extensions import db
from .storage import storage, valid_name

MANIFEST = "manifest.json"
FORMAT = 1
UPLOADS = "uploads"
DUMP_NAMES = {"postgresql": "database.pgdump", "sqlite": "database.sqlite3"}
PG_TIMEOUT = 3600


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why."""


@dataclass
class Manifest:
    data: dict
    # Set by a restore: files of the archive's uploads/ that were not
    # attachments and were left out.
    skipped_uploads: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.data["database"]["kind"]

    @property
    def revision(self) -> str | None:
        return self.data["database"]["alembic_revision"]

    @property
    def files(self) -> list[dict]:
        return self.data["files"]


# Helpers ------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def database_url() -> URL:
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def database_kind(url: URL | None = None) -> str:
    backend = (url or database_url()).get_backend_name()
    if backend not in DUMP_NAMES:
        raise BackupError(f"backups support PostgreSQL and SQLite, not {backend}")
    return backend


def alembic_revision() -> str | None:
    """The database's Alembic revision, or None (no ``alembic_version`` table)."""
    if "alembic_version" not in inspect(db.engine).get_table_names():
        return None
    return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()


def database_is_empty() -> bool:
    return not inspect(db.engine).get_table_names()


def pg_binary(name: str) -> str:
    """``pg_dump``/``pg_restore``: the newest under /usr/lib/postgresql/*/bin
    (Debian's layout; a newer client reads older servers), else on PATH."""
    def version(path: str) -> tuple[int, ...]:
        part = Path(path).parent.parent.name
        return tuple(int(piece) for piece in part.split(".") if piece.isdigit())

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=version, reverse=True)
    binary = found[0] if found else shutil.which(name)
    if not binary:
        raise BackupError(f"{name} not found: install postgresql-client (apt-get install postgresql-client)")
    return binary


def pg_environment(url: URL) -> dict[str, str]:
    """libpq variables for ``url``: the password in PGPASSWORD, not in argv."""
    env = dict(os.environ)
    values = {"PGHOST": url.host, "PGPORT": url.port, "PGUSER": url.username, "PGPASSWORD": url.password,
              "PGDATABASE": url.database}
    query = dict(url.query)
    for key, variable in (("host", "PGHOST"), ("port", "PGPORT"), ("sslmode", "PGSSLMODE"),
                          ("sslrootcert", "PGSSLROOTCERT")):
        if query.get(key):
            values[variable] = query[key] if isinstance(query[key], str) else query[key][0]
    for variable, value in values.items():
        if value not in (None, ""):
            env[variable] = str(value)
    return env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=PG_TIMEOUT)
    if result.returncode != 0:
        raise BackupError(f"{what} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")


def _sqlite_path(url: URL) -> str:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return url.database


# Create ---------------------------------------------------------------------------


def create_backup(to_dir: str | os.PathLike, now: datetime | None = None) -> Path:
    """Write a backup archive into ``to_dir``; returns its path."""
    now = now or datetime.now(UTC)
    url = database_url()
    kind = database_kind(url)
    target_dir = Path(to_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    revision = alembic_revision()
    with tempfile.TemporaryDirectory(prefix="feedback-backup-") as work:
        dump = Path(work) / DUMP_NAMES[kind]
        if kind == "postgresql":
            _run([pg_binary("pg_dump"), "--format=custom", "--no-password", "--file", str(dump)],
                 pg_environment(url), "pg_dump")
        else:
            db.session.remove()
            source = sqlite3.connect(_sqlite_path(url))
            copy = sqlite3.connect(dump)
            try:
                with copy:
                    source.backup(copy)
            finally:
                copy.close()
                source.close()
        members: list[tuple[str, Path]] = [(dump.name, dump), *_stored_uploads(Path(work))]
        files = [{"path": name, "size": path.stat().st_size, "sha256": sha256_of(path)} for name, path in members]
        manifest = {
            "format": FORMAT, "application": "feedback",
            "created_at": now.isoformat(timespec="seconds"),
            "database": {"kind": kind, "alembic_revision": revision, "file": dump.name},
            "uploads": sum(1 for name, _ in members if name.startswith("uploads/")),
            "files": files,
        }
        manifest_path = Path(work) / MANIFEST
        manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        archive = target_dir / f"feedback-backup-{now.strftime('%Y%m%dT%H%M%SZ')}.tar.gz"
        partial = archive.with_name(archive.name + ".part")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(manifest_path, arcname=MANIFEST)
            for name, path in members:
                tar.add(path, arcname=name, recursive=False)
        os.replace(partial, archive)
    return archive


def _stored_uploads(work: Path) -> list[tuple[str, Path]]:
    """(name in the archive, file) for every stored attachment: the file itself
    when the storage keeps it on this machine, else a copy read through the
    storage into ``work``."""
    store = storage()
    members = []
    for name in store.names():
        path = store.path_of(name)
        if path is None:
            path = work / UPLOADS / name
            path.parent.mkdir(exist_ok=True)
            with store.open(name) as source, path.open("wb") as target:
                shutil.copyfileobj(source, target)
        members.append((f"{UPLOADS}/{name}", path))
    return members


# Restore --------------------------------------------------------------------------


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and name not in ("", ".")


def read_archive(archive: str | os.PathLike, into: Path) -> Manifest:
    """Unpack ``archive`` into ``into`` and check it against its manifest:
    every listed file present with its size and SHA-256, nothing else."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                if not (member.isfile() or member.isdir()) or not _safe_name(member.name):
                    raise BackupError(f"refused: unexpected entry {member.name!r} in the archive")
            tar.extractall(into, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"not a readable backup archive: {exc}") from None
    manifest_path = into / MANIFEST
    if not manifest_path.is_file():
        raise BackupError("not a backup archive: manifest.json is missing")
    try:
        manifest = Manifest(json.loads(manifest_path.read_text(encoding="utf-8")))
        listed = {entry["path"]: entry for entry in manifest.files}
        kind = manifest.kind
    except (ValueError, KeyError, TypeError):
        raise BackupError("manifest.json is damaged") from None
    problems = []
    for name, entry in listed.items():
        path = into / name
        if not _safe_name(name) or not path.is_file():
            problems.append(f"{name}: missing")
        elif path.stat().st_size != entry["size"] or sha256_of(path) != entry["sha256"]:
            problems.append(f"{name}: checksum mismatch")
    present = {p.relative_to(into).as_posix() for p in into.rglob("*") if p.is_file()} - {MANIFEST}
    problems += [f"{name}: not in the manifest" for name in sorted(present - set(listed))]
    if DUMP_NAMES.get(kind) not in listed:
        problems.append("the database dump is not listed")
    if problems:
        raise BackupError("refused: the archive is damaged or was altered; nothing was restored. "
                          + "; ".join(problems[:10]) + (" …" if len(problems) > 10 else ""))
    return manifest


def check_target(manifest: Manifest) -> None:
    """Refuse a restore the database cannot take."""
    kind = database_kind()
    if manifest.kind != kind:
        raise BackupError(f"refused: the archive holds a {manifest.kind} database, DATABASE_URL is {kind}")
    if database_is_empty():
        return
    current = alembic_revision()
    if current != manifest.revision:
        raise BackupError(
            f"refused: the database is at revision {current or 'none'}, the archive at {manifest.revision or 'none'}. "
            "Restore into an empty database, or bring this one to the archive's revision first "
            "(flask db upgrade/downgrade).")


def restore_backup(archive: str | os.PathLike, confirm=None) -> Manifest:
    """Verify ``archive``, check the target, ask ``confirm(manifest)`` (if
    given; a false answer stops), then restore the database and the uploads."""
    with tempfile.TemporaryDirectory(prefix="feedback-restore-") as work:
        unpacked = Path(work)
        manifest = read_archive(archive, unpacked)
        check_target(manifest)
        if confirm is not None and not confirm(manifest):
            raise BackupError("restore cancelled; nothing was changed")
        dump = unpacked / DUMP_NAMES[manifest.kind]
        url = database_url()
        db.session.remove()
        if manifest.kind == "postgresql":
            db.engine.dispose()
            _run([pg_binary("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
                  "--single-transaction", "--exit-on-error", "--no-password", "--dbname", url.database or "",
                  str(dump)], pg_environment(url), "pg_restore")
        else:
            db.engine.dispose()
            source = sqlite3.connect(dump)
            target = sqlite3.connect(_sqlite_path(url))
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
        db.engine.dispose()
        manifest.skipped_uploads = _restore_uploads(unpacked / UPLOADS)
    return manifest


def _restore_uploads(source: Path) -> list[str]:
    """Put every attachment of the archive's ``uploads/`` into the attachment
    storage. A file already stored with other bytes is replaced by the
    archive's in one step (the restored database refers to those). Files
    that are not attachments (an older backup copied the whole uploads
    folder, stray files included) are left out; their names are returned."""
    if not source.is_dir():
        return []
    store, skipped = storage(), []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        name = path.relative_to(source).as_posix()
        if not valid_name(name):
            skipped.append(name)
            continue
        data = path.read_bytes()
        if store.exists(name):
            if store.read(name) == data:
                continue
            store.put(name, data, replace=True)
        else:
            store.put(name, data)
    return skipped


# Commands ---------------------------------------------------------------------------

backup_cli = AppGroup("backup", help="Back up and restore the database and the attachments.")


def _where(url: URL) -> str:
    return url.render_as_string(hide_password=True)


@backup_cli.command("create")
@click.option("--to", "to_dir", default="backups", show_default=True, type=click.Path(file_okay=False),
              help="Folder to write the archive into.")
def backup_create(to_dir: str) -> None:
    """Write the database and the uploads into one .tar.gz with checksums."""
    try:
        archive = create_backup(to_dir)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backup written: {archive} ({archive.stat().st_size} bytes)")


@backup_cli.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def backup_restore(archive: str, yes: bool) -> None:
    """Replace the database and restore the uploads from ARCHIVE."""
    def confirm(manifest: Manifest) -> bool:
        click.echo(f"archive: created {manifest.data['created_at']}, {manifest.kind} database at revision "
                   f"{manifest.revision or 'none'}, {manifest.data.get('uploads', 0)} upload(s)")
        click.echo(f"target:  {_where(database_url())}, uploads into {storage()!r}")
        return yes or click.confirm("This replaces everything in the target database. Continue?", default=False)

    try:
        manifest = restore_backup(archive, confirm=confirm)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored the database (revision {manifest.revision or 'none'}) "
               f"and {manifest.data.get('uploads', 0)} upload(s)")
    if manifest.skipped_uploads:
        click.echo(f"left out {len(manifest.skipped_uploads)} file(s) of the archive's uploads that are not "
                   f"attachments: {', '.join(manifest.skipped_uploads[:10])}")
