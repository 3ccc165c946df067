"""Secrets the outbox must keep until delivery, encrypted at rest.

A receipt or a new-link mail carries the case's private link, and the case
stores only that link's hash. The outbox row would otherwise be the one place
in the database where the link can be read, so its secret parts are sealed
with Fernet under a key derived from the app's secret key and a purpose
label, opened only when the mail is rendered, and dropped from the row once
it is delivered or has failed for good (see :func:`drop_sealed`).

Links that can be signed at rendering time (rating, request for information,
password reset, e-mail verification) are not stored at all; see
``feedback.mail_links``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

# Payload keys whose values are bearer secrets; ``feedback.notifications``
# seals them when it writes a row.
SECRET_PAYLOAD_KEYS = ("private_url",)
SEALED = "sealed"
# Set on a row whose secrets were dropped, so the mail can say so.
DROPPED = "sealed_dropped"
PURPOSE = "feedback.outbox-secrets"


class SealBroken(Exception):
    """A sealed value that the current secret key cannot open."""


def _fernet(purpose: str) -> Fernet:
    # HKDF-extract-and-expand with SHA-256, one block: the key depends on the
    # secret key and the purpose, so it is read at call time, never at import.
    secret = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    prk = hmac.new(b"feedback.sealing", secret, hashlib.sha256).digest()
    okm = hmac.new(prk, purpose.encode("utf-8") + b"\x01", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(okm))


def seal(value: str, purpose: str = PURPOSE) -> str:
    return _fernet(purpose).encrypt(value.encode("utf-8")).decode("ascii")


def unseal(sealed: str, purpose: str = PURPOSE) -> str:
    try:
        return _fernet(purpose).decrypt(sealed.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError, UnicodeError) as exc:
        raise SealBroken("sealed value cannot be opened with this secret key") from exc


def seal_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with its secret keys moved, encrypted, under ``sealed``."""
    data = dict(payload)
    secrets = {key: data.pop(key) for key in SECRET_PAYLOAD_KEYS if data.get(key)}
    if secrets:
        data[SEALED] = {key: seal(str(value)) for key, value in secrets.items()}
    return data


def open_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The secrets of a row's payload in clear, for rendering its mail only.
    A value the key cannot open (the secret key was changed) is left out: the
    mail then says to ask for a new link, as for a dropped one."""
    opened = {}
    for key, sealed in (payload.get(SEALED) or {}).items():
        try:
            opened[key] = unseal(sealed)
        except SealBroken:
            continue
    return opened


def drop_sealed(payload: dict[str, Any] | None) -> dict[str, Any] | None:
    """The payload without its sealed secrets, marked as such; None if it had none."""
    if not payload or SEALED not in payload:
        return None
    data = {key: value for key, value in payload.items() if key != SEALED}
    data[DROPPED] = sorted(payload[SEALED])
    return data
