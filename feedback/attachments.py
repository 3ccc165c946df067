"""Attachments: checked by their content, stored under random names outside
any static folder, and served only as downloads to those allowed to see them.

A file's name says nothing about what it is: a ``.pdf`` that starts with
``<html>`` or ``MZ`` is refused. Files reach the attachment storage
(:mod:`feedback.storage`) only after every check has passed, and are removed
again if the database transaction that records them does not commit (see
:func:`written_files`).
"""
from __future__ import annotations

import io
import re
import secrets
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import filetype
from flask import Response, abort, current_app, send_file
from flask_babel import gettext as _

from .extensions import db
from .models import Attachment, Case
from .storage import storage

# kind -> (extension, MIME type) for every accepted format.
ACCEPTED = {
    "pdf": ("pdf", "application/pdf"),
    "jpeg": ("jpg", "image/jpeg"),
    "png": ("png", "image/png"),
    "docx": ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}
ACCEPT_ATTRIBUTE = ".pdf,.jpg,.jpeg,.png,.docx,.xlsx," + ",".join(mime for _ext, mime in ACCEPTED.values())
# DOCX and XLSX are zip files; what is inside tells them apart from any other zip.
ZIP_MARKERS = {"word/document.xml": "docx", "xl/workbook.xml": "xlsx"}
_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")
_STORED_NAME = re.compile(r"[0-9a-f]{32}")


@dataclass
class Upload:
    """A checked file, not yet written: its display name, bytes and real type."""

    filename: str
    data: bytes
    content_type: str

    @property
    def size(self) -> int:
        return len(self.data)


def sniff(data: bytes) -> str | None:
    """The accepted kind (``pdf``, ``jpeg``, ``png``, ``docx``, ``xlsx``) that
    ``data`` really is, judged by its bytes, or None."""
    guess = filetype.guess(data[:8192]) if data else None
    if guess is None:
        return None
    if guess.extension in ("pdf", "png"):
        return guess.extension
    if guess.extension == "jpg":
        return "jpeg"
    if guess.extension in ("zip", "docx", "xlsx"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            return None
        for marker, kind in ZIP_MARKERS.items():
            if marker in names:
                return kind
    return None


def display_name(original: str, kind: str) -> str:
    """The name shown and used for downloads: the sender's own name without
    any path or control characters, with the extension of what it really is."""
    name = (original or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME_CHARS.sub("_", name).strip(" ._")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    extension = ACCEPTED[kind][0]
    return f"{(stem or _('tep-dinh-kem'))[:180]}.{extension}"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g}"


def check_uploads(files: Iterable) -> tuple[list[Upload], list[str]]:
    """Read and check the files a form received (werkzeug ``FileStorage``).

    Returns the accepted uploads and one clear message per refused file;
    empty file inputs are ignored. Nothing is written anywhere.
    """
    config = current_app.config
    limit, most = config["MAX_ATTACHMENT_BYTES"], config["MAX_ATTACHMENTS"]
    chosen = [f for f in files if f is not None and getattr(f, "filename", None)]
    uploads: list[Upload] = []
    errors: list[str] = []
    if len(chosen) > most:
        return [], [_("Chỉ được gửi tối đa %(n)s tệp đính kèm.", n=most)]
    for received in chosen:
        name = received.filename
        data = received.stream.read(limit + 1)
        if not data:
            errors.append(_("Tệp «%(name)s» không có nội dung.", name=name))
        elif len(data) > limit:
            errors.append(_("Tệp «%(name)s» lớn hơn %(mb)s MB.", name=name, mb=_megabytes(limit)))
        elif (kind := sniff(data)) is None:
            errors.append(_("Tệp «%(name)s» không phải là PDF, JPEG, PNG, DOCX hoặc XLSX "
                            "(hệ thống kiểm tra nội dung tệp, không dựa vào tên tệp).", name=name))
        else:
            uploads.append(Upload(display_name(name, kind), data, ACCEPTED[kind][1]))
    return uploads, errors


class AttachmentWriter:
    """Writes the files of one transaction and remembers them, so that they
    can be removed if the transaction does not commit."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def save(self, case: Case, uploads: Iterable[Upload], from_citizen: bool = True,
             event_id: int | None = None) -> list[Attachment]:
        """Store each upload under a random name and add its Attachment row."""
        store = storage()
        rows = []
        for upload in uploads:
            stored_name = secrets.token_hex(16)
            store.put(stored_name, upload.data)  # whole or not at all; never over another file
            self.names.append(stored_name)
            row = Attachment(case_id=case.id, event_id=event_id, filename=upload.filename,
                             stored_name=stored_name, content_type=upload.content_type,
                             size=upload.size, from_citizen=from_citizen)
            db.session.add(row)
            rows.append(row)
        return rows

    def discard(self) -> None:
        store = storage()
        for name in self.names:
            store.delete(name)
        self.names.clear()


@contextmanager
def written_files() -> Iterator[AttachmentWriter]:
    """``with written_files() as files: ...; files.save(...); db.session.commit()``:
    if anything in the block raises (the commit included), the files written
    in it are removed."""
    writer = AttachmentWriter()
    try:
        yield writer
    except BaseException:
        writer.discard()
        raise


def serve_attachment(attachment: Attachment) -> Response:
    """A download response for ``attachment``. The caller has already checked
    that the requester may see it (the private link holder, staff in scope)."""
    name = attachment.stored_name or ""
    store = storage()
    if not _STORED_NAME.fullmatch(name) or not store.exists(name):
        abort(404)
    # A file on this machine is sent as a file (no copy in memory); any
    # other backend hands over an open stream.
    body = store.path_of(name) or store.open(name)
    response = send_file(body, mimetype=attachment.content_type, as_attachment=True,
                         download_name=attachment.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
