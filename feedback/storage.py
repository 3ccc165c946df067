"""Where attachment files live: one interface, chosen by configuration.

Every part of the application that touches an attachment's bytes (the
upload, the download, erasure, backup and restore) goes through
:class:`AttachmentStorage`, keyed by the attachment's random stored name.
Nothing else knows whether the bytes sit in a folder or elsewhere, so a
backend for an S3-compatible object store is one more class registered in
:data:`BACKENDS`, with no change to its callers.

``ATTACHMENT_STORAGE`` (``FEEDBACK_ATTACHMENT_STORAGE``) names the backend;
``local``, the only one shipped, keeps the files in ``UPLOAD_FOLDER``. With
several web nodes that folder is a shared volume mounted at the same path on
every node and worker (docs/operations.md, "Growing past one machine").
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from flask import Flask, current_app

EXTENSION = "attachment_storage"
# A stored name is one plain file name: no separators, no leading dot (the
# local backend's temporary files start with one), nothing a shell or an
# object store would read differently. Attachments use 32 hex digits.
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")


class StorageConfigError(RuntimeError):
    """The configured attachment storage cannot be used; the message says why."""


def valid_name(name: str) -> bool:
    """Whether ``name`` may key a stored file (a path can never be one)."""
    return bool(_NAME.fullmatch(name or ""))


class AttachmentStorage(Protocol):
    """Stored attachment files, each under the random name its row records.

    Files are written once and never changed: ``put`` refuses a name already
    taken, so one attachment can never replace another's bytes.
    """

    def put(self, name: str, data: bytes, *, replace: bool = False) -> None:
        """Store ``data`` under ``name``, whole or not at all; ``FileExistsError``
        if the name is taken, unless ``replace`` (only a restore does that): then
        the old bytes are swapped for the new in one step, never missing."""

    def open(self, name: str) -> BinaryIO:
        """The file for reading; ``FileNotFoundError`` if there is none."""

    def read(self, name: str) -> bytes:
        """All of the file's bytes; ``FileNotFoundError`` if there is none."""

    def exists(self, name: str) -> bool:
        """Whether a file is stored under ``name``."""

    def size(self, name: str) -> int:
        """The file's size in bytes; ``FileNotFoundError`` if there is none."""

    def delete(self, name: str) -> None:
        """Remove the file; a file already gone is not an error."""

    def names(self) -> Iterator[str]:
        """Every stored name, in order (what a backup copies)."""

    def path_of(self, name: str) -> Path | None:
        """The file's path on this machine, for backends that have one (the
        web server then sends it without reading it into memory); None else."""


class LocalFolderStorage:
    """Files in one folder (``UPLOAD_FOLDER``), on a local disk or on a shared
    volume (NFS, CephFS) mounted at the same path on every node.

    A file is written under a temporary name in the same folder, flushed to
    disk, then hard-linked to its real name, which fails if that name exists:
    a crash or a full disk never leaves a half-written file under a real name,
    and two writers can never replace each other's file.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        # The folder is created by the first write, not here: building the app
        # (a refused restore, a CLI command) leaves the disk as it was.
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"LocalFolderStorage({str(self.folder)!r})"

    def _path(self, name: str) -> Path:
        if not valid_name(name):
            raise ValueError(f"not a stored attachment name: {name!r}")
        return self.folder / name

    def put(self, name: str, data: bytes, *, replace: bool = False) -> None:
        final = self._path(name)
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".{name}.{secrets.token_hex(4)}.tmp"
        # Created like any new file (0666 less the umask), so every node's
        # processes read it as they read the files they wrote themselves.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            try:
                _write_all(descriptor, data)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            if replace:
                os.replace(temporary, final)  # atomic: the old file or the new, never neither
            else:
                os.link(temporary, final)  # FileExistsError: never overwrite another file
        finally:
            temporary.unlink(missing_ok=True)
        self._sync_folder()

    def _sync_folder(self) -> None:
        """Make the new name itself durable (where the file system allows)."""
        with contextlib.suppress(OSError):
            descriptor = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)

    def open(self, name: str) -> BinaryIO:
        return self._path(name).open("rb")

    def read(self, name: str) -> bytes:
        return self._path(name).read_bytes()

    def exists(self, name: str) -> bool:
        return valid_name(name) and self._path(name).is_file()

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def names(self) -> Iterator[str]:
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.iterdir()):
            if valid_name(path.name) and path.is_file() and not path.is_symlink():
                yield path.name

    def path_of(self, name: str) -> Path | None:
        return self._path(name)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


# name -> how to build that backend from the app's configuration.
BACKENDS: dict[str, Callable[[Mapping[str, Any]], AttachmentStorage]] = {
    "local": lambda config: LocalFolderStorage(config["UPLOAD_FOLDER"]),
}


def build_storage(config: Mapping[str, Any]) -> AttachmentStorage:
    """The backend ``config["ATTACHMENT_STORAGE"]`` names, or ``StorageConfigError``."""
    name = str(config.get("ATTACHMENT_STORAGE") or "local").strip().lower()
    if name not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise StorageConfigError(
            f"FEEDBACK_ATTACHMENT_STORAGE={name!r} không phải là nơi lưu tệp đính kèm đã biết (có: {known}). "
            f"/ FEEDBACK_ATTACHMENT_STORAGE={name!r} is not a known attachment storage backend "
            f"(known: {known}).")
    return BACKENDS[name](config)


def init_app(app: Flask) -> None:
    """Build the configured backend when the app starts, so a wrong setting
    stops the web nodes and workers at once rather than the first upload."""
    app.extensions[EXTENSION] = build_storage(app.config)


def storage() -> AttachmentStorage:
    """The current app's attachment storage."""
    return current_app.extensions[EXTENSION]
